import assert from "node:assert/strict";
import { Conflict } from "../../core/errors.ts";
import type { Message, NewMessage } from "../../core/types.ts";
import { messageDocs, planAppend } from "../../db/mongo/append.ts";

const say = (content: string, extra: Partial<NewMessage> = {}): NewMessage => ({
  role: "user",
  content,
  ...extra,
});

const stored = (seq: number, content: string, clientMessageId: string): Message => ({
  conversationId: "c",
  seq,
  role: "user",
  content,
  createdAt: 1,
  clientMessageId,
  metadata: null,
});

Deno.test("mongo append plan: new messages take seqs from the head's count, in order", () => {
  const plan = planAppend(
    "c",
    [say("a"), say("b", { createdAt: 7, metadata: { k: 1 } })],
    new Map(),
    4,
    100,
  );
  assert.deepEqual(plan.inserts.map((m) => [m.seq, m.content, m.createdAt]), [[4, "a", 100], [
    5,
    "b",
    7,
  ]]);
  assert.deepEqual(plan.inserts[1].metadata, { k: 1 });
  assert.deepEqual(plan.results.map((m) => m.duplicate), [false, false]);
});

Deno.test("mongo append plan: repeats of stored or earlier-in-batch client ids are duplicates and take no seq", () => {
  const known = new Map([["c2", stored(1, "second", "c2")]]);
  const plan = planAppend(
    "c",
    [
      say("second", { clientMessageId: "c2" }),
      say("fourth", { clientMessageId: "c4" }),
      say("fourth", { clientMessageId: "c4" }),
      say("fifth"),
    ],
    known,
    3,
    0,
  );
  assert.deepEqual(plan.results.map((m) => [m.seq, m.duplicate]), [[1, true], [3, false], [
    3,
    true,
  ], [4, false]]);
  assert.equal(plan.results[0].createdAt, 1, "a duplicate is answered with the stored message");
  assert.deepEqual(plan.inserts.map((m) => m.seq), [3, 4]);
  assert.deepEqual(
    planAppend("c", [say("second", { clientMessageId: "c2" })], known, 3, 0).inserts,
    [],
  );
});

Deno.test("mongo append plan: a used client id with other content is a Conflict before anything is planned", () => {
  const known = new Map([["c2", stored(1, "second", "c2")]]);
  assert.throws(
    () => planAppend("c", [say("new"), say("different", { clientMessageId: "c2" })], known, 3, 0),
    Conflict,
  );
  assert.throws(
    () =>
      planAppend(
        "c",
        [
          say("one", { clientMessageId: "x" }),
          say("two", { clientMessageId: "x" }),
        ],
        new Map(),
        0,
        0,
      ),
    Conflict,
  );
  assert.throws(
    () =>
      planAppend("c", [say("second", { clientMessageId: "c2", role: "assistant" })], known, 3, 0),
    Conflict,
    "the role counts too",
  );
});

Deno.test("mongo append plan: stored messages carry the user, a unique client key, JSON metadata and search tokens", () => {
  const plan = planAppend(
    "conv",
    [say("Hello 世界", { clientMessageId: "m1", metadata: { $where: 1, "a.b": 2 } }), say("bye")],
    new Map(),
    0,
    5,
  );
  const docs = messageDocs("user-1", plan.inserts, "append-1", "incarnation-1");
  assert.deepEqual(docs.map((d) => [d.user_id, d.conversation_id, d.seq, d.client_key]), [
    ["user-1", "conv", 0, "c:m1"],
    ["user-1", "conv", 1, "s:1"],
  ]);
  assert.equal(
    docs[0].metadata_json,
    '{"$where":1,"a.b":2}',
    "keys MongoDB treats specially stay text",
  );
  assert.equal(docs[1].metadata_json, null);
  assert.equal(docs[0].search_text, "hello 世界 界");
  assert.equal(docs[0].search_chars, "世 界");
  assert.ok(docs.every((d) => d.append_id === "append-1"));
});
