import assert from "node:assert/strict";
import fc from "fast-check";
import { parseSearchQuery } from "../../core/search_query.ts";
import type { SearchQuery } from "../../core/types.ts";
import {
  atlasCompound,
  escapeRegex,
  scanCondition,
  termRegex,
  textSearchString,
} from "../../db/mongo/search.ts";
import {
  indexedText,
  occurrences,
  relevance,
  streamTokens,
  termPatterns,
} from "../../db/mongo/search_tokens.ts";
import { indexText, ownerToken } from "../../db/sqlite/search_text.ts";
import { SqliteStore } from "../../db/sqlite/store.ts";

/** Words that meet in texts and queries: Latin with accents, Hangul, Han, Kana, digits. */
const VOCABULARY = [
  "hello",
  "world",
  "help",
  "Café",
  "cafe",
  "résumé",
  "RESUME",
  "대화",
  "대화가",
  "오늘",
  "数据库",
  "数据",
  "设计",
  "東京",
  "す",
  "コーヒー",
  "2026",
  "x",
];
const SEPARATORS = [" ", " ", ", ", "-", "。", "\n", ""];

const text = fc.array(
  fc.tuple(fc.constantFrom(...VOCABULARY), fc.constantFrom(...SEPARATORS)),
  { minLength: 1, maxLength: 8 },
).map((parts) => parts.map(([word, separator]) => word + separator).join(""));

const typed = fc.array(
  fc.oneof(
    fc.constantFrom(...VOCABULARY),
    fc.constantFrom(...VOCABULARY).map((word) => Array.from(word).slice(0, 2).join("")),
    fc.constantFrom(...VOCABULARY).map((word) => `${word}*`),
    fc.tuple(fc.constantFrom(...VOCABULARY), fc.constantFrom(...VOCABULARY)).map(([a, b]) =>
      `"${a} ${b}"`
    ),
  ),
  { minLength: 1, maxLength: 3 },
).map((words) => words.join(" "));

function query(input: string): SearchQuery | null {
  try {
    return parseSearchQuery(input);
  } catch {
    return null;
  }
}

Deno.test("mongo search tokens: the same tokens as the SQLite index, for any text", () => {
  const owner = ownerToken(crypto.randomUUID());
  fc.assert(
    fc.property(fc.oneof(text, fc.string({ unit: "grapheme", maxLength: 60 })), (input) => {
      const sqlite = indexText(owner, input).split(" ").filter(Boolean).map((token) =>
        token.slice(owner.length)
      );
      assert.deepEqual(streamTokens(indexedText(input).stream), sqlite);
    }),
    { numRuns: 500 },
  );
  assert.deepEqual(indexedText("오늘 대화가"), {
    stream: "오늘 늘 대화 화가 가",
    chars: "오 늘 대 화 가",
  });
  assert.deepEqual(indexedText("Rendez-vous au Café"), {
    stream: "rendez vous au cafe",
    chars: "",
  });
});

Deno.test("mongo search: matches exactly what SQLite's FTS5 matches, for typed queries over mixed-language texts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-parity-" });
  const store = new SqliteStore({ path: `${dir}/p.db`, synchronous: "NORMAL" });
  try {
    const userId = crypto.randomUUID();
    await store.createUser({
      id: userId,
      email: "parity@example.com",
      passwordHash: "x",
      createdAt: 0,
      tokensValidAfter: 0,
    });
    const corpus = fc.sample(text, { numRuns: 60, seed: 7 });
    corpus.push(
      "오늘 대화가 길었다",
      "그 대화를 저장했다",
      "我们今天讨论了数据库的设计",
      "私は東京に住んでいます",
      "Rendez-vous au Café pour le Résumé",
      "Hello, world! This conversation is long",
      "world hello backwards",
    );
    const ids = new Map<string, string>();
    for (const content of corpus) {
      const id = crypto.randomUUID();
      ids.set(id, content);
      await store.createConversation(userId, {
        id,
        title: "",
        tags: [],
        source: "test",
        metadata: {},
        messages: [{ role: "user", content }],
        now: 0,
      });
    }
    const mongoMatches = (search: SearchQuery) => {
      const terms = termPatterns(search);
      if (!terms) return [];
      return [...ids].filter(([, content]) =>
        relevance(streamTokens(indexedText(content).stream), terms) > 0
      ).map(([id]) => id).sort();
    };
    await fc.assert(
      fc.asyncProperty(typed, async (input) => {
        const search = query(input);
        if (!search) return;
        const hits = await store.searchConversations(userId, {
          query: search,
          filter: {},
          offset: 0,
          limit: 1000,
        });
        assert.deepEqual(
          mongoMatches(search),
          hits.map((hit) => hit.conversation.id).sort(),
          input,
        );
      }),
      { numRuns: 300 },
    );
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("mongo search: the scan's regular expression finds a term exactly where the token check does", () => {
  fc.assert(
    fc.property(text, typed, (content, input) => {
      const terms = termPatterns(query(input) ?? { terms: [] });
      if (!terms) return;
      const stream = indexedText(content).stream;
      for (const term of terms) {
        assert.equal(
          new RegExp(termRegex(term), "u").test(stream),
          occurrences(streamTokens(stream), term) > 0,
          `${input} in ${stream}`,
        );
      }
    }),
    { numRuns: 1000 },
  );
  assert.equal(termRegex({ tokens: ["hello", "world"], prefix: false }), "(^| )hello world( |$)");
  assert.equal(termRegex({ tokens: ["conv"], prefix: true }), "(^| )conv");
  assert.deepEqual(scanCondition([{ tokens: ["a"], prefix: false }]), {
    $and: [{ search_text: { $regex: "(^| )a( |$)" } }],
  });
});

Deno.test("mongo search: a $text search string only asks for what every true match contains", () => {
  fc.assert(
    fc.property(text, typed, (content, input) => {
      const terms = termPatterns(query(input) ?? { terms: [] });
      if (!terms) return;
      const { stream, chars } = indexedText(content);
      if (relevance(streamTokens(stream), terms) === 0) return;
      const search = textSearchString(terms);
      if (search === null) return;
      for (const [, phrase] of search.matchAll(/"([^"]*)"/g)) {
        const tokens = phrase.split(" ");
        const fields = [streamTokens(stream), streamTokens(chars)];
        assert.ok(
          fields.some((field) => occurrences(field, { tokens, prefix: false }) > 0),
          `"${phrase}" must be whole tokens of ${stream} | ${chars}`,
        );
      }
    }),
    { numRuns: 1000 },
  );
  assert.equal(
    textSearchString([{ tokens: ["hello", "world"], prefix: false }]),
    '"hello world"',
  );
  assert.equal(textSearchString([{ tokens: ["hello", "wor"], prefix: true }]), '"hello"');
  assert.equal(textSearchString([{ tokens: ["设"], prefix: true }]), '"设"', "one CJK character");
  assert.equal(textSearchString([{ tokens: ["conv"], prefix: true }]), null, "a scan finds those");
});

Deno.test("mongo search: nothing a person types becomes query syntax", () => {
  const hostile = ['"', "*", "(", ")", "-x", "body:x", "^x", '""x""', "{owner}", "a:b:c", "$where"];
  for (const word of hostile) {
    const terms = termPatterns({ terms: [{ words: [word, "text"], prefix: false }] });
    assert.ok(terms);
    for (const term of terms) {
      assert.ok(term.tokens.every((token) => /^[\p{L}\p{N}]+$/u.test(token)), word);
    }
    const search = textSearchString(terms) ?? "";
    assert.ok(!/-|\\|\$/.test(search), `${word}: ${search}`);
  }
  assert.equal(termPatterns({ terms: [{ words: ["🙂"], prefix: false }] }), null);
  assert.equal(termPatterns({ terms: [{ words: ["\u0000"], prefix: true }] }), null);
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 20 }), (value) => {
      assert.ok(new RegExp(`^${escapeRegex(value)}$`, "u").test(value));
    }),
    { numRuns: 500 },
  );
});

Deno.test("mongo search: relevance prefers more repeats and shorter texts, and needs every term", () => {
  const walrus = { tokens: ["walrus"], prefix: false };
  const score = (content: string) => relevance(streamTokens(indexedText(content).stream), [walrus]);
  assert.ok(score("walrus walrus walrus") > score("walrus again"));
  assert.ok(score("walrus again") > score("a long message that mentions a walrus only once"));
  assert.equal(score("walruses"), 0);
  assert.equal(
    relevance(["walrus"], [walrus, { tokens: ["seal"], prefix: false }]),
    0,
    "every term must be there",
  );
});

Deno.test("mongo search: Atlas Search queries filter on the user exactly and quote the tokens", () => {
  const compound = atlasCompound("user-1", [
    { tokens: ["hello", "wor"], prefix: true },
    { tokens: ["数据", "据库"], prefix: false },
  ], ["c1"]);
  assert.deepEqual(compound.filter, [
    { equals: { path: "user_id", value: "user-1" } },
    { in: { path: "conversation_id", value: ["c1"] } },
  ]);
  assert.deepEqual(compound.must, [
    { phrase: { path: "search_text", query: "hello" } },
    { wildcard: { path: "search_text", query: "wor*", allowAnalyzedField: true } },
    { phrase: { path: "search_text", query: "数据 据库" } },
  ]);
});
