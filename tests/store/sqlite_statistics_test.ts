/**
 * The planner's statistics follow the store as it grows: they are refreshed at open, so a store
 * analysed when it held one conversation does not keep telling the planner it holds one. With
 * such statistics the search query scanned the user's conversations once per hit.
 */
import assert from "node:assert/strict";
import { parseSearchQuery } from "../../core/search_query.ts";
import { SqliteStore } from "../../db/sqlite/store.ts";

async function addConversations(store: SqliteStore, userId: string, count: number, word: string) {
  for (let i = 0; i < count; i++) {
    await store.createConversation(userId, {
      id: crypto.randomUUID(),
      title: `conversation ${i}`,
      tags: [],
      source: "test",
      metadata: {},
      messages: [{ role: "user", content: `${word} number ${i}` }],
      now: 1_000 + i,
    });
  }
}

function conversationRows(store: SqliteStore): number {
  const [row] = store.rawQuery(
    "SELECT stat FROM sqlite_stat1 WHERE idx = 'conversations_by_user_updated'",
  );
  return Number(String(row?.stat ?? "0").split(" ")[0]);
}

Deno.test("statistics taken when the store was tiny are refreshed at the next open", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-stat-" });
  const path = `${dir}/pensieve.db`;
  try {
    const userId = crypto.randomUUID();
    let store = new SqliteStore({ path, synchronous: "NORMAL" });
    await store.createUser({
      id: userId,
      email: "stats@example.com",
      passwordHash: "x",
      createdAt: 0,
      tokensValidAfter: 0,
    });
    await addConversations(store, userId, 1, "alpha");
    store.rawQuery("ANALYZE");
    assert.equal(conversationRows(store), 1);
    await addConversations(store, userId, 200, "beta");
    await store.close();

    store = new SqliteStore({ path });
    try {
      assert.equal(conversationRows(store), 201, "the statistics were taken again at open");
      const hits = await store.searchConversations(userId, {
        query: parseSearchQuery("beta"),
        filter: {},
        offset: 0,
        limit: 500,
      });
      assert.equal(hits.length, 200);
      const plan = store.rawQuery(
        `EXPLAIN QUERY PLAN SELECT c.id FROM (SELECT 1 AS crow) best
         CROSS JOIN conversations c ON c.rowid = best.crow WHERE c.user_id = ?`,
        userId,
      ).map((row) => String(row.detail));
      assert.ok(
        plan.some((detail) => detail.includes("USING INTEGER PRIMARY KEY")),
        `a hit's conversation is looked up by rowid: ${plan.join("; ")}`,
      );
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the full-text index's own tables keep no planner statistics (taken while tiny, they made every later insert scan them)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-stat-" });
  const path = `${dir}/pensieve.db`;
  try {
    const userId = crypto.randomUUID();
    let store = new SqliteStore({ path, synchronous: "NORMAL" });
    await store.createUser({
      id: userId,
      email: "fts-stats@example.com",
      passwordHash: "x",
      createdAt: 0,
      tokensValidAfter: 0,
    });
    await addConversations(store, userId, 3, "lighthouse");
    await store.close();
    store = new SqliteStore({ path, synchronous: "NORMAL" });
    const analysed = store.rawQuery("SELECT DISTINCT tbl FROM sqlite_stat1").map((r) => r.tbl);
    assert.ok(analysed.includes("users"), `other tables are still analysed: ${analysed}`);
    assert.deepEqual(analysed.filter((t) => String(t).includes("_fts_")), []);
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
