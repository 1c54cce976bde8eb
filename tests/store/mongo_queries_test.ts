import assert from "node:assert/strict";
import { clientKey } from "../../db/mongo/documents.ts";
import { conversationQuery, isNarrowing } from "../../db/mongo/filters.ts";

Deno.test("mongo queries: a conversation query always holds the user, whatever the filter or cursor", () => {
  const cursor = { updatedAt: 5000, id: "c-9" };
  const filters = [{}, { tag: "t" }, { source: "claude" }, { updatedFrom: 1, updatedTo: 9 }];
  for (const filter of filters) {
    for (const after of [undefined, cursor]) {
      const query = conversationQuery("user-1", filter, after);
      assert.equal(query.user_id, "user-1");
      // The user is a top-level equality, so no $or branch can widen past it.
      assert.ok(!JSON.stringify(query.$or ?? []).includes("user_id"));
    }
  }
  assert.deepEqual(conversationQuery("u", { tag: "work", source: "claude" }), {
    user_id: "u",
    tags: "work",
    source: "claude",
  });
  assert.deepEqual(conversationQuery("u", { updatedFrom: 10, updatedTo: 20 }), {
    user_id: "u",
    updated_at: { $gte: 10, $lt: 20 },
  });
  assert.deepEqual(conversationQuery("u", {}, cursor), {
    user_id: "u",
    $or: [{ updated_at: { $lt: 5000 } }, { updated_at: 5000, _id: { $lt: "c-9" } }],
  });
  assert.equal(isNarrowing({}), false);
  assert.equal(isNarrowing({ updatedTo: 0 }), true);
});

Deno.test("mongo queries: client keys are unique per client id and per seq without one, and never collide", () => {
  assert.equal(clientKey("abc", 3), "c:abc");
  assert.equal(clientKey(null, 3), "s:3");
  assert.notEqual(clientKey(null, 1), clientKey(null, 2));
  // A client id that looks like a seq key is still a client key.
  assert.notEqual(clientKey("s:1", 7), clientKey(null, 1));
  assert.equal(clientKey("x", 1), clientKey("x", 2), "the same client id is the same key");
});
