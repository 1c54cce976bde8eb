import assert from "node:assert/strict";
import type { Document } from "bson";
import type { User } from "../../core/types.ts";
import { MongoStore } from "../../db/mongo/store.ts";
import { startWireServer } from "./_wire_mongo.ts";

/**
 * The MongoDB store talking to a loopback server that speaks just enough of the wire protocol
 * (the OP_QUERY handshake, then OP_MSG) to answer what a test scripts. No MongoDB runs here, so
 * this pins what reaches the wire through the real driver: index creation at start, the write
 * concern, and the answer to Cosmos DB's throttling. It stores nothing.
 */

const someone = (): User => ({
  id: crypto.randomUUID(),
  email: "wire@example.com",
  passwordHash: "$argon2id$x",
  createdAt: Date.UTC(2026, 0, 1),
  tokensValidAfter: 0,
});

Deno.test("mongo wire: indexes are created at start, before the first write, with the uniqueness and TTLs promised", async () => {
  const server = startWireServer(() => undefined);
  const store = new MongoStore({ url: server.url, search: "text" });
  try {
    await store.ping();
    const created = server.commands.filter((c) => c.name === "createIndexes");
    const indexes: Document[] = created.flatMap((c) =>
      (c.body.indexes as Document[]).map((index) => ({
        collection: c.body.createIndexes,
        ...index,
      }))
    );
    const named = (collection: string, name: string): Document | undefined =>
      indexes.find((index) => index.collection === collection && index.name === name);
    assert.deepEqual(named("users", "email_unique")?.key, { email: 1 });
    assert.equal(named("users", "email_unique")?.unique, true);
    assert.equal(named("messages", "conversation_seq_unique")?.unique, true);
    assert.equal(named("messages", "conversation_client_key_unique")?.unique, true);
    assert.deepEqual(named("conversations", "user_updated")?.key, {
      user_id: 1,
      updated_at: -1,
      _id: -1,
    });
    assert.equal(named("rate_limits", "expire_at_ttl")?.expireAfterSeconds, 3600);
    assert.equal(named("messages", "search_text")?.default_language, "none");
    assert.equal(store.searchMode, "text");
    assert.ok(server.commands.some((c) => c.name === "ping"));
  } finally {
    await store.close();
    await server.close();
  }
});

Deno.test("mongo wire: Cosmos DB's 16500 throttling comes back through the driver, is waited out as advised, and the write is sent again", async () => {
  let inserts = 0;
  const server = startWireServer((command) => {
    if (!("insert" in command)) return undefined;
    inserts++;
    if (inserts <= 2) {
      return {
        ok: 0,
        code: 16500,
        codeName: "TooManyRequests",
        errmsg: "Error=16500, RetryAfterMs=60, Details='Response status code does not indicate " +
          "success: TooManyRequests (429); Substatus: 3200; Reason: (Request rate is large.)'",
      };
    }
    return { ok: 1, n: 1 };
  });
  const store = new MongoStore({ url: server.url, search: "scan" });
  try {
    await store.createUser(someone());
    const attempts = server.commands.filter((c) => c.name === "insert");
    assert.equal(attempts.length, 3);
    for (let i = 1; i < attempts.length; i++) {
      assert.ok(attempts[i].at - attempts[i - 1].at >= 55, "waited at least RetryAfterMs");
    }
    assert.equal(attempts[2].body.insert, "users");
    assert.deepEqual(attempts[2].body.writeConcern, { w: "majority", j: true });
    assert.equal(attempts[2].body.documents[0].email, "wire@example.com");
  } finally {
    await store.close();
    await server.close();
  }
});

Deno.test("mongo wire: a duplicate email answered by the server is a Conflict", async () => {
  const server = startWireServer((command) =>
    "insert" in command
      ? {
        ok: 1,
        n: 0,
        writeErrors: [{
          index: 0,
          code: 11000,
          errmsg: "E11000 duplicate key error collection: pensieve_wire.users index: email_unique",
        }],
      }
      : undefined
  );
  const store = new MongoStore({ url: server.url, search: "scan" });
  try {
    await assert.rejects(store.createUser(someone()), { name: "Conflict" });
  } finally {
    await store.close();
    await server.close();
  }
});
