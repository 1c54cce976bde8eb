import assert from "node:assert/strict";
import { Invalid } from "../../core/errors.ts";
import { parseSearchQuery } from "../../core/search_query.ts";

Deno.test("bare words are terms and the last one matches as a prefix while typing", () => {
  assert.deepEqual(parseSearchQuery("hello wor").terms, [
    { words: ["hello"], prefix: false },
    { words: ["wor"], prefix: true },
  ]);
});

Deno.test("a trailing space ends the last word", () => {
  assert.deepEqual(parseSearchQuery("hello ").terms, [{ words: ["hello"], prefix: false }]);
});

Deno.test("quoted phrases keep their words together and never match as a prefix", () => {
  assert.deepEqual(parseSearchQuery('"hello world" foo*').terms, [
    { words: ["hello", "world"], prefix: false },
    { words: ["foo"], prefix: true },
  ]);
});

Deno.test("an unbalanced quote still parses", () => {
  assert.deepEqual(parseSearchQuery('"hello world').terms, [
    { words: ["hello", "world"], prefix: false },
  ]);
});

Deno.test("punctuation-only input is refused as an Invalid query", () => {
  assert.throws(() => parseSearchQuery('  " * ( ) - '), Invalid);
  assert.throws(() => parseSearchQuery(""), Invalid);
});

Deno.test("more than 16 terms is refused", () => {
  assert.throws(
    () => parseSearchQuery(Array.from({ length: 17 }, (_, i) => `w${i}`).join(" ")),
    Invalid,
  );
});

Deno.test("full-width letters are folded to their ordinary form", () => {
  assert.deepEqual(parseSearchQuery("ＡＢＣ").terms, [{ words: ["ABC"], prefix: true }]);
});
