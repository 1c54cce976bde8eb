import assert from "node:assert/strict";
import { deserialize, type Document, serialize } from "bson";
import type { User } from "../../core/types.ts";
import { MongoStore } from "../../db/mongo/store.ts";

/**
 * The MongoDB store talking to a loopback server that speaks just enough of the wire protocol
 * (the OP_QUERY handshake, then OP_MSG) to answer what a test scripts. No MongoDB runs here, so
 * this pins what reaches the wire through the real driver: index creation at start, the write
 * concern, and the answer to Cosmos DB's throttling. It stores nothing.
 */

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;

type Answer = (command: Document) => Document | undefined;

interface WireServer {
  url: string;
  commands: { name: string; body: Document; at: number }[];
  close(): Promise<void>;
}

function cstringEnd(bytes: Uint8Array, from: number): number {
  let end = from;
  while (bytes[end] !== 0) end++;
  return end;
}

/** The command in an OP_MSG body, with any document sequences folded in. */
function readOpMsg(message: Uint8Array): Document {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  let offset = 20;
  let body: Document = {};
  const sequences: Record<string, Document[]> = {};
  while (offset < message.length) {
    const kind = message[offset++];
    if (kind === 0) {
      const size = view.getInt32(offset, true);
      body = deserialize(message.subarray(offset, offset + size));
      offset += size;
    } else {
      const size = view.getInt32(offset, true);
      const end = offset + size;
      const nameEnd = cstringEnd(message, offset + 4);
      const name = new TextDecoder().decode(message.subarray(offset + 4, nameEnd));
      let at = nameEnd + 1;
      sequences[name] = [];
      while (at < end) {
        const docSize = view.getInt32(at, true);
        sequences[name].push(deserialize(message.subarray(at, at + docSize)));
        at += docSize;
      }
      offset = end;
    }
  }
  return { ...body, ...sequences };
}

function header(length: number, requestId: number, responseTo: number, opCode: number) {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, length, true);
  view.setInt32(4, requestId, true);
  view.setInt32(8, responseTo, true);
  view.setInt32(12, opCode, true);
  return bytes;
}

function opMsgReply(responseTo: number, document: Document): Uint8Array {
  const body = serialize(document);
  const length = 16 + 4 + 1 + body.length;
  const out = new Uint8Array(length);
  out.set(header(length, 0, responseTo, OP_MSG), 0);
  out[20] = 0;
  out.set(body, 21);
  return out;
}

function opReply(responseTo: number, document: Document): Uint8Array {
  const body = serialize(document);
  const length = 16 + 20 + body.length;
  const out = new Uint8Array(length);
  out.set(header(length, 0, responseTo, OP_REPLY), 0);
  const view = new DataView(out.buffer);
  view.setInt32(32, 1, true); // numberReturned; flags, cursor id and startingFrom stay 0
  out.set(body, 36);
  return out;
}

const HELLO = {
  ismaster: true,
  isWritablePrimary: true,
  helloOk: true,
  maxBsonObjectSize: 16 * 1024 * 1024,
  maxMessageSizeBytes: 48_000_000,
  maxWriteBatchSize: 100_000,
  logicalSessionTimeoutMinutes: 30,
  connectionId: 1,
  minWireVersion: 0,
  maxWireVersion: 21,
  readOnly: false,
  ok: 1,
};

function startWireServer(answer: Answer): WireServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const commands: WireServer["commands"] = [];
  const connections = new Set<Deno.Conn>();
  const serve = async (conn: Deno.Conn) => {
    connections.add(conn);
    let pending = new Uint8Array(0);
    const chunk = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const read = await conn.read(chunk);
        if (read === null) break;
        const joined = new Uint8Array(pending.length + read);
        joined.set(pending);
        joined.set(chunk.subarray(0, read), pending.length);
        pending = joined;
        while (pending.length >= 16) {
          const view = new DataView(pending.buffer, pending.byteOffset, pending.byteLength);
          const length = view.getInt32(0, true);
          if (pending.length < length) break;
          const message = pending.slice(0, length);
          pending = pending.slice(length);
          const requestId = view.getInt32(4, true);
          const opCode = view.getInt32(12, true);
          let reply: Uint8Array;
          if (opCode === OP_QUERY) {
            const nameEnd = cstringEnd(message, 20);
            const queryAt = nameEnd + 1 + 8;
            const size = new DataView(message.buffer).getInt32(queryAt, true);
            const query = deserialize(message.subarray(queryAt, queryAt + size));
            commands.push({ name: Object.keys(query)[0], body: query, at: performance.now() });
            reply = opReply(requestId, HELLO);
          } else if (opCode === OP_MSG) {
            const body = readOpMsg(message);
            const name = Object.keys(body)[0];
            commands.push({ name, body, at: performance.now() });
            const hello = ["hello", "ismaster", "isMaster"].includes(name);
            reply = opMsgReply(requestId, hello ? HELLO : answer(body) ?? { ok: 1 });
          } else {
            throw new Error(`opcode ${opCode} not spoken here`);
          }
          await conn.write(reply);
        }
      }
    } catch {
      // The client went away.
    } finally {
      connections.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) serve(conn);
    } catch {
      // closed
    }
  })();
  const { port } = listener.addr as Deno.NetAddr;
  return {
    url:
      `mongodb://127.0.0.1:${port}/pensieve_wire?serverSelectionTimeoutMS=2000&directConnection=true`,
    commands,
    async close() {
      listener.close();
      for (const conn of connections) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await accepting;
    },
  };
}

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
