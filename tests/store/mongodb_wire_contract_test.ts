import assert from "node:assert/strict";
import type { Document } from "bson";
import type { User } from "../../core/types.ts";
import { MongoStore } from "../../db/mongo/store.ts";
import { runStoreContract } from "./store_contract.ts";
import { Unavailable } from "../../core/errors.ts";
import {
  type Answer,
  DROP_CONNECTION,
  HELLO,
  memoryEngine,
  startWireServer,
} from "./_wire_mongo.ts";

/**
 * The whole store contract on the MongoDB store through the real driver, against a loopback
 * server with an in-memory engine (_wire_mongo.ts): no MongoDB runs here. This checks the store's
 * use of the driver (what it sends, how it reads the answers) on every method; it cannot check
 * a real server's semantics, which the same contract does when PENSIEVE_TEST_MONGODB_URL is set
 * (mongodb_store_test.ts). The engine has no text index, so search runs as the scan.
 */
runStoreContract("mongodb (driver, in-memory wire server)", async () => {
  const server = startWireServer(memoryEngine());
  const store = new MongoStore({ url: server.url, warn: () => {} });
  await store.ping();
  return {
    store,
    async cleanup() {
      await store.close();
      await server.close();
    },
  };
});

/** The engine, with the answer to the first command `when` picks lost after it took effect. */
function losingOnce(when: (command: Document) => boolean): Answer {
  const engine = memoryEngine();
  let lost = false;
  return (command) => {
    const answer = engine(command);
    if (!lost && when(command)) {
      lost = true;
      return DROP_CONNECTION;
    }
    return answer;
  };
}

async function withStore(answer: Answer, fn: (store: MongoStore) => Promise<void>) {
  const server = startWireServer(answer);
  // A standalone server: the driver makes no retryable writes, as on Cosmos DB.
  const store = new MongoStore({ url: server.url, warn: () => {} });
  try {
    await store.ping();
    await fn(store);
  } finally {
    await store.close();
    await server.close();
  }
}

const T0 = Date.UTC(2026, 0, 1);

Deno.test("mongodb (driver, in-memory wire server): an answer lost after the write took effect is read back through the real driver", async () => {
  const user: User = {
    id: crypto.randomUUID(),
    email: "lost@example.com",
    passwordHash: "$argon2id$x",
    createdAt: T0,
    tokensValidAfter: 0,
  };
  await withStore(losingOnce((c) => c.insert === "users"), async (store) => {
    await store.createUser(user);
    assert.deepEqual(await store.getUser(user.id), user);
  });
  await withStore(losingOnce((c) => c.insert === "messages"), async (store) => {
    await store.createUser(user);
    const c = await store.createConversation(user.id, {
      id: crypto.randomUUID(),
      title: "t",
      tags: [],
      source: "test",
      metadata: {},
      messages: [{ role: "user", content: "one" }],
      now: T0,
    });
    const appended = await store.appendMessages(user.id, c.id, [
      { role: "user", content: "two", clientMessageId: "k2" },
      { role: "user", content: "three" },
    ], T0 + 1);
    assert.deepEqual(appended!.messages.map((m) => m.seq), [1, 2]);
    const listed = await store.listMessages(user.id, c.id, { limit: 10 });
    assert.deepEqual(listed.map((m) => [m.seq, m.content]), [[0, "one"], [1, "two"], [2, "three"]]);
    assert.equal((await store.getConversation(user.id, c.id))!.messageCount, 3);
  });
  await withStore(
    losingOnce((c) => c.findAndModify === "conversations" && c.update?.$inc?.version === 1),
    async (store) => {
      await store.createUser(user);
      const c = await store.createConversation(user.id, {
        id: crypto.randomUUID(),
        title: "t",
        tags: [],
        source: "test",
        metadata: {},
        messages: [],
        now: T0,
      });
      const appended = await store.appendMessages(
        user.id,
        c.id,
        [{ role: "user", content: "x" }],
        T0,
      );
      assert.equal(appended!.conversation.messageCount, 1, "the lost commit is read back");
    },
  );
});

Deno.test("mongodb (driver, in-memory wire server): a server older than the driver supports is named as such, not as an outage", async () => {
  const server = startWireServer(memoryEngine(), { ...HELLO, maxWireVersion: 8 });
  const store = new MongoStore({ url: server.url, warn: () => {} });
  try {
    await assert.rejects(store.ping(), (error: Error) => {
      assert.ok(!(error instanceof Unavailable));
      assert.match(error.message, /too old.*MongoDB 4\.4.*server version 5\.0/s);
      return true;
    });
  } finally {
    await store.close();
    await server.close();
  }
});

Deno.test("mongodb (driver, in-memory wire server): a server that takes a text index but refuses the query moves search to the scan, not to 500s", async () => {
  const engine = memoryEngine();
  const refusing: Answer = (command) => {
    if (command.createIndexes && command.indexes.some((i: Document) => i.name === "search_text")) {
      return { ok: 1 };
    }
    if (command.find && command.filter?.$text) {
      return {
        ok: 0,
        code: 2,
        codeName: "BadValue",
        errmsg: "this form of $text is not supported",
      };
    }
    return engine(command);
  };
  const warnings: string[] = [];
  const server = startWireServer(refusing);
  const store = new MongoStore({ url: server.url, warn: (w) => warnings.push(w) });
  try {
    await store.ping();
    assert.equal(store.searchMode, "text");
    const user: User = {
      id: crypto.randomUUID(),
      email: "s@example.com",
      passwordHash: "x",
      createdAt: T0,
      tokensValidAfter: 0,
    };
    await store.createUser(user);
    const c = await store.createConversation(user.id, {
      id: crypto.randomUUID(),
      title: "t",
      tags: [],
      source: "test",
      metadata: {},
      messages: [{ role: "user", content: "walrus facts" }],
      now: T0,
    });
    const hits = await store.searchConversations(user.id, {
      query: { terms: [{ words: ["walrus"], prefix: false }] },
      filter: {},
      offset: 0,
      limit: 10,
    });
    assert.deepEqual(hits.map((h) => h.conversation.id), [c.id]);
    assert.equal(store.searchMode, "scan");
    assert.ok(warnings.some((w) => w.includes("using scan")));
  } finally {
    await store.close();
    await server.close();
  }
});

Deno.test("mongodb (driver, in-memory wire server): a restart over existing data asks for no index it has (Cosmos DB RU builds unique ones only on empty collections)", async () => {
  const server = startWireServer(memoryEngine());
  try {
    const first = new MongoStore({ url: server.url, warn: () => {} });
    await first.ping();
    await first.createUser({
      id: crypto.randomUUID(),
      email: "r@example.com",
      passwordHash: "x",
      createdAt: T0,
      tokensValidAfter: 0,
    });
    await first.close();
    const before = server.commands.length;
    const second = new MongoStore({ url: server.url, warn: () => {} });
    await second.ping();
    await second.close();
    const again = server.commands.slice(before).filter((c) =>
      c.name === "createIndexes" &&
      (c.body.indexes as Document[]).some((index) => index.name !== "search_text")
    );
    assert.deepEqual(again.map((c) => c.body.createIndexes), []);
  } finally {
    await server.close();
  }
});
