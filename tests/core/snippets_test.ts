import assert from "node:assert/strict";
import { parseSearchQuery } from "../../core/search_query.ts";
import { buildSnippet, findMatches } from "../../core/snippets.ts";

function highlighted(text: string, q: string): string[] {
  const snippet = buildSnippet(text, parseSearchQuery(q));
  return snippet.highlights.map(([s, e]) => snippet.text.slice(s, e));
}

Deno.test("highlights ignore case and accents but point at the original text", () => {
  assert.deepEqual(highlighted("We met at the Café Résumé.", "cafe resume "), ["Café", "Résumé"]);
});

Deno.test("whole words do not match inside longer words; a prefix does", () => {
  assert.deepEqual(highlighted("category cat catalog", "cat "), ["cat"]);
  assert.deepEqual(highlighted("category cat catalog", "cat"), ["category", "cat", "catalog"]);
});

Deno.test("Korean words are found inside their particle-suffixed forms", () => {
  assert.deepEqual(highlighted("대화가 길어졌고 대화를 저장했다", "대화"), ["대화", "대화"]);
});

Deno.test("Chinese and Japanese text without spaces is matched as a substring", () => {
  assert.deepEqual(highlighted("我们今天讨论了数据库的设计", "数据库"), ["数据库"]);
  assert.deepEqual(highlighted("私は東京に住んでいます", "東京"), ["東京"]);
});

Deno.test("a phrase matches across punctuation between its words", () => {
  assert.deepEqual(highlighted("She said hello, world! to everyone", '"hello world"'), [
    "hello, world",
  ]);
});

Deno.test("long text is cut around the first match with ellipses and exact offsets", () => {
  const text = "lorem ipsum ".repeat(50) + "the needle is here " + "dolor sit amet ".repeat(50);
  const snippet = buildSnippet(text, parseSearchQuery("needle"), 120);
  assert.ok(snippet.text.startsWith("…"));
  assert.ok(snippet.text.endsWith("…"));
  assert.ok(snippet.text.length <= 122);
  assert.equal(snippet.highlights.length, 1);
  const [s, e] = snippet.highlights[0];
  assert.equal(snippet.text.slice(s, e), "needle");
});

Deno.test("a cut never splits a surrogate pair", () => {
  const text = "🙂".repeat(300) + " needle " + "🙂".repeat(300);
  const snippet = buildSnippet(text, parseSearchQuery("needle"), 101);
  assert.equal(snippet.text, snippet.text.toWellFormed());
});

Deno.test("line breaks become spaces without moving offsets", () => {
  const snippet = buildSnippet("first line\nsecond needle", parseSearchQuery("needle"));
  assert.equal(snippet.text, "first line second needle");
  assert.deepEqual(snippet.highlights, [[18, 24]]);
});

Deno.test("matches are merged and sorted", () => {
  assert.deepEqual(findMatches("aaa bbb", parseSearchQuery("bbb aaa")), [[0, 3], [4, 7]]);
});

Deno.test("a Hangul syllable does not match the start of a longer syllable", () => {
  assert.deepEqual(highlighted("댁에 대해", "대"), ["대"]);
});

Deno.test("text whose folded form changes length still gets exact offsets", () => {
  // "e" + combining acute folds to one letter; "ﬁ" folds to two.
  assert.deepEqual(highlighted("cafe\u0301 and ﬁsh soup", "soup"), ["soup"]);
  assert.deepEqual(highlighted("cafe\u0301 and ﬁsh soup", "cafe"), ["cafe\u0301"]);
});
