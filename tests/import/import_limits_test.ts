/**
 * What an import stores is held to the limits the API holds a save to, on every path (ChatGPT,
 * Claude, Pensieve's export, the original Pensieve), and a field out of bounds costs at most
 * that field or that conversation: never a 500, never the rest of the file.
 */
import assert from "node:assert/strict";
import { LIMITS } from "../../core/limits.ts";
import { signUp, type TestServer, withServer } from "../_helpers/server.ts";
import { chatgptBranched, claudeConversation, json } from "./_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

async function importFile(server: TestServer, token: string, body: unknown) {
  const res = await server.call("/api/import", {
    method: "POST",
    token,
    headers: { "Content-Type": "application/json" },
    body: new Uint8Array(json(body)),
  });
  return { status: res.status, body: await res.json() };
}

async function conversationsOf(server: TestServer, token: string): Promise<Json[]> {
  const res = await server.call("/api/conversations?limit=100", { token });
  assert.equal(res.status, 200, "the account's list still loads");
  const list = await res.json();
  return Promise.all(list.conversations.map(async (c: Json) => {
    const full = await (await server.call(`/api/conversations/${c.id}?limit=1000`, { token }))
      .json();
    return { ...full.conversation, messages: full.messages };
  }));
}

const byTitle = (all: Json[], title: string) => all.find((c) => c.title === title);
const bytesOf = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;

function pensieveExport(conversations: Json[]) {
  return { format: "pensieve-export", version: 1, conversations };
}

function pensieveConversation(overrides: Json = {}, message: Json = {}) {
  return {
    id: crypto.randomUUID(),
    title: "Restored",
    tags: [],
    source: "api",
    metadata: {},
    message_count: 1,
    version: 1,
    created_at: "2025-01-01T00:00:00.000Z",
    updated_at: "2025-01-01T00:00:00.000Z",
    messages: [{
      seq: 0,
      role: "user",
      content: "hi",
      created_at: "2025-01-01T00:00:00.000Z",
      client_message_id: null,
      metadata: null,
      ...message,
    }],
    ...overrides,
  };
}

Deno.test("import: metadata past the limit is cut to fit on every path and says what was cut", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const long = "thought ".repeat(25_000); // 200 KB

    const claude = claudeConversation();
    claude.name = "Claude";
    (claude.chat_messages[2].content[0] as Json).thinking = long;
    const chatgpt = chatgptBranched();
    chatgpt.title = "ChatGPT";
    (chatgpt.mapping.n2.message as Json).metadata = {
      attachments: Array.from({ length: 2000 }, (_, i) => ({ name: `file-${i}.pdf` })),
    };
    assert.equal((await importFile(server, token, [claude, chatgpt])).status, 200);
    const restored = await importFile(
      server,
      token,
      pensieveExport([
        pensieveConversation({ title: "Pensieve", metadata: { keep: 1, big: long } }, {
          metadata: { big: long },
        }),
      ]),
    );
    assert.equal(restored.status, 200);
    assert.equal(restored.body.summary.conversations_created, 1);

    const all = await conversationsOf(server, token);
    const thinking = byTitle(all, "Claude").messages[1].metadata;
    assert.ok(bytesOf(thinking) <= LIMITS.metadataBytes, `${bytesOf(thinking)} bytes`);
    assert.ok(thinking.thinking.startsWith("thought thought"));
    assert.match(thinking.thinking, /…\[truncated\]$/);
    assert.deepEqual(thinking.truncated_keys, ["thinking"]);

    const attachments = byTitle(all, "ChatGPT").messages[0].metadata;
    assert.ok(bytesOf(attachments) <= LIMITS.metadataBytes);
    assert.ok(attachments.attachments.length > 10 && attachments.attachments.length < 2000);
    assert.deepEqual(attachments.attachments[0], { name: "file-0.pdf", mime_type: null });
    assert.deepEqual(attachments.truncated_keys, ["attachments"]);

    const pensieve = byTitle(all, "Pensieve");
    assert.ok(bytesOf(pensieve.metadata) <= LIMITS.metadataBytes);
    assert.equal(pensieve.metadata.keep, 1);
    assert.deepEqual(pensieve.metadata.truncated_keys, ["big"]);
    assert.ok(bytesOf(pensieve.messages[0].metadata) <= LIMITS.metadataBytes);
  }));

Deno.test("import: a Pensieve export's tags and source are held to the API's rules", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const tags = [
      "x".repeat(5000),
      "",
      "  spaced  ",
      "spaced",
      ...Array.from({ length: 40 }, (_, i) => `t${i}`),
    ];
    const res = await importFile(
      server,
      token,
      pensieveExport([pensieveConversation({ tags, source: "S".repeat(1000) })]),
    );
    assert.equal(res.status, 200);
    const [c] = await conversationsOf(server, token);
    assert.equal(c.tags.length, LIMITS.tagsMax);
    assert.deepEqual(c.tags.slice(0, 3), ["spaced", "t0", "t1"]);
    assert.equal(c.source, "import:pensieve");
  }));

Deno.test("import: a client_message_id past the limit skips that conversation with its reason; the rest is restored", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const res = await importFile(
      server,
      token,
      pensieveExport([
        pensieveConversation({ title: "Bad id" }, { client_message_id: "z".repeat(10_000) }),
        pensieveConversation({ title: "Fine" }, { client_message_id: "c-1" }),
      ]),
    );
    assert.equal(res.status, 200);
    assert.equal(res.body.summary.conversations_created, 1);
    assert.match(
      res.body.summary.skipped[0].reason,
      /messages\[0\]\.client_message_id: is not a client_message_id/,
    );
    const all = await conversationsOf(server, token);
    assert.deepEqual(all.map((c) => c.title), ["Fine"]);
    assert.equal(all[0].messages[0].client_message_id, "c-1");
  }));

Deno.test("import: times no date can hold are left unset, never a 500; the account still lists", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const far = chatgptBranched();
    far.id = far.conversation_id = "far";
    far.title = "Far";
    far.create_time = 1e300; // a float SQLite's INTEGER column refuses
    far.update_time = 1e13; // whole, but past any Date
    (far.mapping.n2.message as Json).create_time = 1e13;
    const claude = claudeConversation();
    claude.name = "Claude far";
    claude.created_at = "+275760-09-13T00:00:00.000Z";
    const res = await importFile(server, token, [far, claude, chatgptBranched()]);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.summary.conversations_created, 3);
    const all = await conversationsOf(server, token);
    const stored = byTitle(all, "Far");
    // No time of its own: the first message's, as for a conversation with null times.
    assert.equal(stored.created_at, stored.messages[0].created_at);
    assert.ok(Date.parse(stored.created_at) < Date.parse("9999-12-31T23:59:59.999Z"));
    assert.ok(!Number.isNaN(Date.parse(byTitle(all, "Claude far").created_at)));
    const exported = await server.call("/api/export", { token });
    assert.equal(exported.status, 200);
    assert.equal((await exported.json()).conversations.length, 3);
  }));

Deno.test("import: role names such as constructor or __proto__ are not roles, and ids that are not text merge nothing", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const odd = chatgptBranched();
    odd.id = odd.conversation_id = "odd-roles";
    odd.title = "Odd roles";
    (odd.mapping.n2.message as Json).author = { role: "constructor" };
    (odd.mapping.n4.message as Json).author = { role: "__proto__" };
    const objectId = (title: string) => ({
      ...chatgptBranched(),
      id: {},
      conversation_id: {},
      title,
    });
    const res = await importFile(server, token, [odd, objectId("A"), objectId("B")]);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.summary.conversations_created, 1);
    assert.equal(res.body.summary.skipped.length, 2);
    assert.match(res.body.summary.skipped[0].reason, /id: is missing or not text/);
    const [c] = await conversationsOf(server, token);
    assert.deepEqual(c.messages.map((m: Json) => m.content), ["Why blue?"]);
  }));

Deno.test("import: a Claude conversation with a null message is skipped with its reason; the rest is imported", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const broken = claudeConversation();
    broken.uuid = "broken";
    (broken.chat_messages as Json[]).push(null);
    const fine = { ...claudeConversation(), uuid: "fine", name: "Fine" };
    const res = await importFile(server, token, [broken, fine]);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.summary.conversations_created, 1);
    assert.match(
      res.body.summary.skipped[0].reason,
      /broken: chat_messages\[3\]: is not an object/,
    );
  }));

Deno.test("import: a message cut to the size limit inside an emoji imports again unchanged", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const conversation = chatgptBranched();
    // The cut falls between the two halves of the emoji.
    const content = "a".repeat(LIMITS.messageContentMax - 21) + "🦌".repeat(20);
    (conversation.mapping.n2.message as Json).content = { content_type: "text", parts: [content] };
    const first = await importFile(server, token, [conversation]);
    assert.equal(first.body.summary.conversations_created, 1);
    const again = await importFile(server, token, [conversation]);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.summary.skipped, []);
    assert.equal(again.body.summary.conversations_unchanged, 1);
    const [c] = await conversationsOf(server, token);
    assert.ok(c.messages[0].content.isWellFormed());
    assert.match(c.messages[0].content, /\n\[…truncated\]$/);
  }));

Deno.test("import: long message ids that share their start are two messages, not a conflict", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const long = "m".repeat(200);
    const conversation = chatgptBranched();
    (conversation.mapping.n2.message as Json).id = `${long}-question`;
    (conversation.mapping.n4.message as Json).id = `${long}-answer`;
    const first = await importFile(server, token, [conversation]);
    assert.deepEqual(first.body.summary.skipped, []);
    assert.equal(first.body.summary.messages_added, 3);
    const again = await importFile(server, token, [conversation]);
    assert.equal(again.body.summary.conversations_unchanged, 1);
    assert.equal(again.body.summary.messages_added, 0);
  }));

Deno.test("import: a title past the limit is cut with an ellipsis, not a line break", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const conversation = chatgptBranched();
    conversation.title = "Long ".repeat(100);
    assert.equal((await importFile(server, token, [conversation])).status, 200);
    const [c] = await conversationsOf(server, token);
    assert.equal(c.title.length, LIMITS.titleMax);
    assert.ok(c.title.endsWith("Long…") || c.title.endsWith(" …"), c.title.slice(-20));
    assert.ok(!c.title.includes("\n"));
  }));

Deno.test("import: an object with a toString member where text belongs is no crash; the rest is imported", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const trap = { toString: 1, valueOf: 2 };
    const chatgpt = chatgptBranched();
    (chatgpt.mapping.n2.message as Json).content = {
      content_type: "multimodal_text",
      parts: [{ content_type: trap }, { content_type: "image_asset_pointer", asset_pointer: trap }],
    };
    const claude = claudeConversation();
    (claude.chat_messages[2] as Json).uuid = trap;
    (claude.chat_messages[1] as Json).parent_message_uuid = trap;
    const attachmentOnly = claudeConversation();
    attachmentOnly.uuid = "attachment-only";
    attachmentOnly.chat_messages = [{
      uuid: "x",
      sender: "human",
      text: "",
      attachments: [{ file_name: trap }],
    } as Json];
    const restored = pensieveExport([
      pensieveConversation({ title: "Role trap" }, { role: trap }),
      pensieveConversation({ title: "Seq trap" }, { seq: trap }),
    ]).conversations;
    const res = await importFile(server, token, [chatgpt, claude, attachmentOnly, ...restored]);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.summary.conversations_created, 4, JSON.stringify(res.body.summary));
    assert.match(res.body.summary.skipped[0].reason, /messages\[0\]: needs a role and a content/);
    const all = await conversationsOf(server, token);
    const images = all.find((c) => c.metadata.source_id === "cg-branch").messages[0].content;
    assert.equal(images, "[attachment]\n[image: image]");
    const attached = all.find((c) => c.metadata.source_id === "attachment-only");
    assert.equal(attached.messages[0].content, "[attachment: file]");
  }));
