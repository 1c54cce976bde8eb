import assert from "node:assert/strict";
import type { Collection } from "mongodb";
import { Conflict, Unavailable } from "../../core/errors.ts";
import type { NewMessage } from "../../core/types.ts";
import type { NewConversation } from "../../db/store.ts";
import {
  type AppendContext,
  appendMessages,
  CHUNK,
  createConversation,
  LEASE_MS,
} from "../../db/mongo/append.ts";
import type { ConversationDoc, MessageDoc } from "../../db/mongo/documents.ts";
import { withRetry } from "../../db/mongo/retry.ts";
import { driverError } from "../../db/mongo/server_errors.ts";
import { FakeCollection, type Hook, networkError } from "./_fake_mongo.ts";

/**
 * The append protocol (db/mongo/append.ts) driven through interleavings a real deployment meets:
 * two instances appending at once, an instance that dies or stalls half-way, an answer lost after
 * the write took effect. The collections are an in-memory stand-in (_fake_mongo.ts); what is
 * checked is what every reader would see: seqs 0…n-1 contiguous, each message once, the count
 * equal to what is listed, and nothing of a failed call visible.
 */

const USER = "user-1";
const T0 = Date.UTC(2026, 0, 1);

function world() {
  let hook: Hook = async () => {};
  const conversations = new FakeCollection("conversations", [], () => hook);
  const messages = new FakeCollection(
    "messages",
    [["conversation_id", "seq"], ["conversation_id", "client_key"]],
    () => hook,
  );
  let offset = 0;
  const context: AppendContext = {
    conversations: conversations as unknown as Collection<ConversationDoc>,
    messages: messages as unknown as Collection<MessageDoc>,
    run: (attempt) =>
      withRetry(attempt).catch((error) => {
        throw driverError(error);
      }),
    wallClock: () => Date.now() + offset,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 3))),
    maxDocumentBytes: 2 * 1024 * 1024,
  };
  return {
    context,
    conversations,
    messages,
    setHook(next: Hook) {
      hook = next;
    },
    /** Moves every instance's wall clock on: leases run out. */
    advance(ms: number) {
      offset += ms;
    },
    head(id: string): ConversationDoc {
      return conversations.docs.find((doc) => doc._id === id) as ConversationDoc;
    },
    /** What a reader sees: the committed messages, in seq order. */
    visible(id: string): MessageDoc[] {
      const head = conversations.docs.find((doc) => doc._id === id && !doc.creating);
      if (!head) return [];
      return (messages.docs as MessageDoc[])
        .filter((doc) => doc.conversation_id === id && doc.seq < head.message_count)
        .sort((a, b) => a.seq - b.seq);
    },
  };
}

type World = ReturnType<typeof world>;

function say(content: string, clientMessageId?: string): NewMessage {
  return clientMessageId === undefined
    ? { role: "user", content }
    : { role: "user", content, clientMessageId };
}

function input(messages: NewMessage[] = [], id = crypto.randomUUID()): NewConversation {
  return { id, title: "t", tags: [], source: "test", metadata: {}, messages, now: T0 };
}

/** The invariants every reader relies on. */
function assertConsistent(w: World, id: string): MessageDoc[] {
  const head = w.head(id);
  const shown = w.visible(id);
  assert.deepEqual(shown.map((doc) => doc.seq), shown.map((_, i) => i), "seqs are contiguous");
  assert.equal(head.message_count, shown.length, "the count is what is listed");
  const ids = shown.flatMap((doc) => doc.client_message_id === null ? [] : [doc.client_message_id]);
  assert.equal(new Set(ids).size, ids.length, "each client id once");
  return shown;
}

/** Fails the first call matching `when` at `phase`, once. */
function failOnce(
  when: (op: string, collection: string, args: unknown[]) => boolean,
  phase: "before" | "after",
  error: () => Error = networkError,
): Hook {
  let done = false;
  return (op, collection, at, args) => {
    if (!done && at === phase && when(op, collection, args)) {
      done = true;
      return Promise.reject(error());
    }
    return Promise.resolve();
  };
}

Deno.test("mongo append race: twenty concurrent appends through the protocol stay contiguous and lose nothing", async () => {
  const w = world();
  const c = await createConversation(w.context, USER, input([say("first")]));
  const results = await Promise.all(
    Array.from(
      { length: 20 },
      (_, i) => appendMessages(w.context, USER, c._id, [say(`a${i}`), say(`b${i}`)], T0 + i),
    ),
  );
  const shown = assertConsistent(w, c._id);
  assert.equal(shown.length, 41);
  assert.equal(new Set(shown.map((doc) => doc.content)).size, 41);
  for (const result of results) {
    const [a, b] = result!.messages;
    assert.equal(b.seq, a.seq + 1, "a batch is consecutive");
    assert.equal(shown[a.seq].content, a.content);
  }
  assert.equal(w.head(c._id).version, 21, "one version per append");
  assert.equal(w.head(c._id).updated_at, T0 + 19);
});

Deno.test("mongo append race: a lost answer to an insert that took effect is found, not written twice", async () => {
  const w = world();
  const c = await createConversation(w.context, USER, input());
  w.setHook(
    failOnce((op, collection) => op === "insertMany" && collection === "messages", "after"),
  );
  const result = await appendMessages(w.context, USER, c._id, [say("x"), say("y")], T0);
  assert.deepEqual(result!.messages.map((m) => m.seq), [0, 1]);
  assert.deepEqual(assertConsistent(w, c._id).map((doc) => doc.content), ["x", "y"]);
  assert.equal(w.messages.docs.length, 2, "nothing stored twice");
});

Deno.test("mongo append race: a lost answer to the commit is read back as a success", async () => {
  const w = world();
  const c = await createConversation(w.context, USER, input());
  w.setHook(failOnce(
    (op, collection) => op === "findOneAndUpdate" && collection === "conversations",
    "after",
  ));
  const result = await appendMessages(w.context, USER, c._id, [say("x")], T0);
  assert.equal(result!.conversation.messageCount, 1);
  assert.deepEqual(assertConsistent(w, c._id).map((doc) => doc.content), ["x"]);
});

Deno.test("mongo append race: a commit that never arrived leaves the batch invisible, and the next append commits it after the lease", async () => {
  const w = world();
  const c = await createConversation(w.context, USER, input());
  w.setHook(failOnce(
    (op, collection) => op === "findOneAndUpdate" && collection === "conversations",
    "before",
  ));
  await assert.rejects(
    appendMessages(w.context, USER, c._id, [say("x", "m1")], T0),
    Unavailable,
    "the caller is told to try again",
  );
  assert.deepEqual(w.visible(c._id), [], "nothing half-done is shown");
  w.advance(LEASE_MS + 1);
  const retry = await appendMessages(w.context, USER, c._id, [say("x", "m1"), say("z")], T0 + 5);
  assert.deepEqual(retry!.messages.map((m) => [m.seq, m.duplicate]), [[0, true], [1, false]]);
  assert.deepEqual(assertConsistent(w, c._id).map((doc) => doc.content), ["x", "z"]);
});

Deno.test("mongo append race: an instance that died half-way through its inserts is given back; its messages never show", async () => {
  const w = world();
  const c = await createConversation(w.context, USER, input([say("first")]));
  // The instance dies after the first of its inserts: model it by failing every later call.
  let dead = false;
  w.setHook((op, collection, phase) => {
    if (dead) return Promise.reject(new Error("the instance is gone"));
    if (op === "insertMany" && collection === "messages" && phase === "after") dead = true;
    return Promise.resolve();
  });
  const many = Array.from({ length: CHUNK + 5 }, (_, i) => say(`dead${i}`));
  await assert.rejects(appendMessages(w.context, USER, c._id, many, T0));
  w.setHook(async () => {});
  assert.equal(w.messages.docs.length, 1 + CHUNK, "its first chunk landed");
  assert.deepEqual(w.visible(c._id).map((doc) => doc.content), ["first"]);

  // Within the lease another append waits; after it, it takes the seqs back.
  const waiting = appendMessages(w.context, USER, c._id, [say("next")], T0 + 1);
  await new Promise((resolve) => setTimeout(resolve, 30));
  w.advance(LEASE_MS + 1);
  const result = await waiting;
  assert.equal(result!.messages[0].seq, 1);
  assert.deepEqual(assertConsistent(w, c._id).map((doc) => doc.content), ["first", "next"]);
  assert.equal(w.messages.docs.length, 2, "the dead instance's messages are deleted");
});

Deno.test("mongo append race: an instance that died after writing everything but before its commit is committed by the next append", async () => {
  const w = world();
  const c = await createConversation(w.context, USER, input());
  w.setHook(failOnce(
    (op, collection) => op === "findOneAndUpdate" && collection === "conversations",
    "before",
    () => new Error("the instance is gone"),
  ));
  await assert.rejects(appendMessages(w.context, USER, c._id, [say("a"), say("b")], T0 + 7));
  w.advance(LEASE_MS + 1);
  const result = await appendMessages(w.context, USER, c._id, [say("c")], T0 + 8);
  assert.equal(result!.messages[0].seq, 2);
  assert.deepEqual(assertConsistent(w, c._id).map((doc) => doc.content), ["a", "b", "c"]);
  assert.equal(w.head(c._id).version, 3);
});

Deno.test("mongo append race: a stalled instance whose lease ran out loses its allocation cleanly, whichever way the writes interleave", async () => {
  for (const resumeAt of ["before-takeover-writes", "after-takeover-commit"] as const) {
    const w = world();
    const c = await createConversation(w.context, USER, input([say("first")]));
    // Instance A stalls just before its insert.
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => release = resolve);
    let stalling = true;
    let takeoverInserting!: () => void;
    const takeoverInsert = new Promise<void>((resolve) => takeoverInserting = resolve);
    let takeoverCalls = 0;
    let aStalling!: () => void;
    const aStalled = new Promise<void>((resolve) => aStalling = resolve);
    w.setHook((op, collection, phase, args) => {
      if (op !== "insertMany" || collection !== "messages" || phase !== "before") {
        return Promise.resolve();
      }
      const docs = args[0] as MessageDoc[];
      if (stalling && docs[0].content.startsWith("A")) {
        stalling = false;
        aStalling();
        return stalled;
      }
      if (docs[0].content.startsWith("B") && takeoverCalls++ === 0) {
        takeoverInserting();
        // Instance A wakes up and writes first, while B is about to.
        if (resumeAt === "before-takeover-writes") {
          release();
          return new Promise((resolve) => setTimeout(resolve, 30));
        }
      }
      return Promise.resolve();
    });
    const a = appendMessages(w.context, USER, c._id, [say("A1"), say("A2"), say("A3")], T0)
      .then(() => null, (error: unknown) => error);
    await aStalled;
    w.advance(LEASE_MS + 1);
    const b = appendMessages(w.context, USER, c._id, [say("B1")], T0 + 1);
    await takeoverInsert;
    const bResult = await b;
    if (resumeAt === "after-takeover-commit") release();
    assert.ok(
      (await a) instanceof Unavailable,
      `${resumeAt}: the stalled instance is told it failed`,
    );
    assert.equal(bResult!.messages[0].seq, 1);
    const shown = assertConsistent(w, c._id);
    assert.deepEqual(shown.map((doc) => doc.content), ["first", "B1"], resumeAt);
    // A later append is not blocked by anything A left.
    await appendMessages(w.context, USER, c._id, [say("C1"), say("C2")], T0 + 2);
    assert.deepEqual(
      assertConsistent(w, c._id).map((doc) => doc.content),
      ["first", "B1", "C1", "C2"],
    );
    assert.ok(
      w.messages.docs.every((doc) => !String(doc.content).startsWith("A")),
      `${resumeAt}: nothing of A remains`,
    );
  }
});

Deno.test("mongo append race: a client id left behind by a given-up allocation does not answer as a duplicate", async () => {
  const w = world();
  const c = await createConversation(w.context, USER, input());
  // A leftover of a given-up allocation, past the committed count, holding client id m1.
  w.messages.docs.push({
    _id: "ghost",
    conversation_id: c._id,
    user_id: USER,
    seq: 0,
    role: "user",
    content: "x",
    created_at: T0,
    client_message_id: "m1",
    client_key: "c:m1",
    metadata_json: null,
    search_text: "x",
    search_chars: "",
    append_id: "gone",
    incarnation: c.incarnation,
  });
  const result = await appendMessages(w.context, USER, c._id, [say("x", "m1")], T0);
  assert.equal(result!.messages[0].duplicate, false, "it is stored, not reported as stored");
  assert.deepEqual(assertConsistent(w, c._id).map((doc) => doc.append_id !== "gone"), [true]);
});

Deno.test("mongo append race: a retry of the same batch from two instances stores it once", async () => {
  const w = world();
  const c = await createConversation(w.context, USER, input());
  const batch = [say("a", "1"), say("b", "2"), say("c", "3")];
  const results = await Promise.all(
    Array.from({ length: 6 }, () => appendMessages(w.context, USER, c._id, batch, T0)),
  );
  assert.deepEqual(assertConsistent(w, c._id).map((doc) => doc.client_message_id), [
    "1",
    "2",
    "3",
  ]);
  assert.equal(results.filter((r) => r!.messages.every((m) => !m.duplicate)).length, 1);
});

Deno.test("mongo create race: a conversation is invisible until all its messages are written, and a failed create leaves nothing", async () => {
  const w = world();
  const id = crypto.randomUUID();
  let seen: ConversationDoc[] | null = null;
  w.setHook((op, _collection, phase) => {
    if (op === "insertMany" && phase === "after" && seen === null) {
      seen = w.conversations.docs.filter((doc) => !doc.creating) as ConversationDoc[];
    }
    return Promise.resolve();
  });
  await createConversation(w.context, USER, input([say("a"), say("b")], id));
  assert.deepEqual(seen, [], "while its messages were written, no reader could see it");
  assertConsistent(w, id);

  const failing = world();
  failing.setHook(failOnce(
    (op) => op === "insertMany",
    "before",
    () => Object.assign(new Error("Document is larger than the maximum size"), { code: 10334 }),
  ));
  const other = crypto.randomUUID();
  await assert.rejects(createConversation(failing.context, USER, input([say("a")], other)));
  assert.equal(failing.conversations.docs.length, 0, "no head left");
  assert.equal(failing.messages.docs.length, 0, "no message left");
});

Deno.test("mongo create race: a retried save waits for the first, and takes over from one that died", async () => {
  const w = world();
  const id = crypto.randomUUID();
  // Two saves of the same idempotent id at once: one creates, the other is a Conflict.
  const both = await Promise.allSettled([
    createConversation(w.context, USER, input([say("a"), say("b")], id)),
    createConversation(w.context, USER, input([say("a"), say("b")], id)),
  ]);
  assert.equal(both.filter((r) => r.status === "fulfilled").length, 1);
  const rejected = both.find((r) => r.status === "rejected") as PromiseRejectedResult;
  assert.ok(rejected.reason instanceof Conflict, String(rejected.reason));
  assert.equal(assertConsistent(w, id).length, 2, "the Conflict saw it complete");

  // A save whose instance died half-way: the retry (same id) waits out its lease, then saves.
  const dying = world();
  const again = crypto.randomUUID();
  let dead = false;
  dying.setHook((op, _collection, phase) => {
    if (dead) return Promise.reject(new Error("the instance is gone"));
    if (op === "insertMany" && phase === "after") dead = true;
    return Promise.resolve();
  });
  const many = Array.from({ length: CHUNK + 1 }, (_, i) => say(`m${i}`));
  await assert.rejects(createConversation(dying.context, USER, input(many, again)));
  dying.setHook(async () => {});
  assert.deepEqual(dying.visible(again), [], "the half-saved conversation is not shown");
  const retry = createConversation(dying.context, USER, input(many, again));
  await new Promise((resolve) => setTimeout(resolve, 30));
  dying.advance(LEASE_MS + 1);
  const saved = await retry;
  assert.ok(
    saved.append_lease_until > dying.context.wallClock(),
    "the lease ran from the retry's own insert, not from before it waited",
  );
  assert.equal(saved.message_count, CHUNK + 1);
  assert.equal(assertConsistent(dying, again).length, CHUNK + 1);
  assert.equal(dying.messages.docs.length, CHUNK + 1, "the first attempt's messages are gone");
});

Deno.test("mongo append race: an append racing a delete either lands before it or answers null, and leaves nothing behind", async () => {
  const w = world();
  const c = await createConversation(w.context, USER, input([say("first")]));
  w.setHook((op, collection, phase) => {
    if (op === "insertMany" && collection === "messages" && phase === "after") {
      // The conversation is deleted while the batch is being written.
      w.conversations.docs = w.conversations.docs.filter((doc) => doc._id !== c._id);
      w.messages.docs = w.messages.docs.filter((doc) => doc.incarnation !== c.incarnation);
    }
    return Promise.resolve();
  });
  const result = await appendMessages(w.context, USER, c._id, [say("late")], T0);
  assert.equal(result, null);
  assert.equal(w.messages.docs.length, 0, "its messages are removed");
});

Deno.test("mongo append race: a writer that stalls while clearing leftovers never deletes the next owner's messages", async () => {
  const w = world();
  const c = await createConversation(w.context, USER, input([say("first")]));
  // A leftover of a dead allocation sits where the next message goes.
  w.messages.docs.push({
    _id: "leftover",
    conversation_id: c._id,
    user_id: USER,
    seq: 1,
    role: "user",
    content: "dead",
    created_at: T0,
    client_message_id: null,
    client_key: "s:1",
    metadata_json: null,
    search_text: "dead",
    search_chars: "",
    append_id: "dead",
    incarnation: c.incarnation,
  });
  // Instance A runs into it, sets out to delete it, and stalls on the way for longer than its
  // lease; instance B takes over meanwhile and appends.
  let release!: () => void;
  const stalled = new Promise<void>((resolve) => release = resolve);
  let stalledOnce = false;
  let aClearing!: () => void;
  const clearing = new Promise<void>((resolve) => aClearing = resolve);
  w.setHook((op, collection, phase) => {
    if (
      !stalledOnce && op === "deleteMany" && collection === "messages" && phase === "before"
    ) {
      stalledOnce = true;
      aClearing();
      return stalled;
    }
    return Promise.resolve();
  });
  const a = appendMessages(w.context, USER, c._id, [say("A1")], T0)
    .then(() => null, (error: unknown) => error);
  await clearing;
  w.advance(LEASE_MS + 1);
  const b = await appendMessages(w.context, USER, c._id, [say("B1")], T0 + 1);
  assert.equal(b!.messages[0].seq, 1);
  release();
  assert.ok((await a) instanceof Unavailable, "A is told it lost");
  assert.deepEqual(assertConsistent(w, c._id).map((doc) => doc.content), ["first", "B1"]);
});

Deno.test("mongo append race: a writer cut off after its last insert deletes nothing; its complete batch is committed by the next append", async () => {
  const w = world();
  const c = await createConversation(w.context, USER, input());
  // The insert lands but its answer is lost, and the connection stays down for the next calls.
  let down = false;
  w.setHook((op, collection, phase) => {
    if (down) return Promise.reject(networkError());
    if (op === "insertMany" && collection === "messages" && phase === "after") {
      down = true;
      return Promise.reject(networkError());
    }
    return Promise.resolve();
  });
  await assert.rejects(
    appendMessages(w.context, USER, c._id, [say("x"), say("y")], T0),
    Unavailable,
  );
  down = false;
  w.setHook(async () => {});
  assert.equal(w.messages.docs.length, 2, "nothing was deleted while it might still commit");
  w.advance(LEASE_MS + 1);
  await appendMessages(w.context, USER, c._id, [say("z")], T0 + 1);
  assert.deepEqual(assertConsistent(w, c._id).map((doc) => doc.content), ["x", "y", "z"]);
});

Deno.test("mongo append race: a lost answer to the allocation, the new head or its completion is read back, not waited out", async () => {
  const w = world();
  const c = await createConversation(w.context, USER, input());
  w.setHook(failOnce(
    (op, collection) => op === "updateOne" && collection === "conversations",
    "after",
  ));
  const started = Date.now();
  const appended = await appendMessages(w.context, USER, c._id, [say("x")], T0);
  assert.equal(appended!.messages[0].seq, 0);
  assert.ok(Date.now() - started < LEASE_MS / 2, "no lease was waited out");

  for (const op of ["insertOne", "findOneAndUpdate"]) {
    w.setHook(failOnce(
      (name, collection) => name === op && collection === "conversations",
      "after",
    ));
    const made = await createConversation(w.context, USER, input([say("a"), say("b")]));
    assert.equal(made.message_count, 2, op);
    assert.equal(assertConsistent(w, made._id).length, 2, op);
  }
  assertConsistent(w, c._id);
});
