import assert from "node:assert/strict";
import { zipSync } from "fflate";
import { signUp, type TestServer, withServer } from "../_helpers/server.ts";
import {
  chatgptBranched,
  chatgptBroken,
  chatgptNoCurrentNode,
  chatgptOddParts,
  claudeConversation,
  json,
} from "./_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

async function importFile(server: TestServer, token: string, body: Uint8Array) {
  const res = await server.call("/api/import", {
    method: "POST",
    token,
    headers: { "Content-Type": "application/octet-stream" },
    body: new Uint8Array(body),
  });
  return { status: res.status, body: await res.json() };
}

async function conversationsOf(server: TestServer, token: string): Promise<Json[]> {
  const list = await (await server.call("/api/conversations?limit=100", { token })).json();
  return Promise.all(list.conversations.map(async (c: Json) => {
    const full = await (await server.call(`/api/conversations/${c.id}?limit=1000`, { token }))
      .json();
    return { ...full.conversation, messages: full.messages };
  }));
}

const bySourceId = (all: Json[], id: string) => all.find((c) => c.metadata.source_id === id);

Deno.test("import ChatGPT: the visible branch, odd parts, hidden messages, and a broken one skipped", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const file = json([
      chatgptBranched(),
      chatgptBroken(),
      chatgptOddParts(),
      chatgptNoCurrentNode(),
    ]);
    const { status, body } = await importFile(server, token, file);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.summary.conversations_created, 3);
    assert.equal(body.summary.skipped.length, 1);
    assert.match(body.summary.skipped[0].reason, /cg-broken: mapping: is missing/);

    const all = await conversationsOf(server, token);
    const branched = bySourceId(all, "cg-branch");
    assert.equal(branched.source, "import:chatgpt");
    assert.equal(branched.title, "Branches");
    assert.deepEqual(branched.messages.map((m: Json) => [m.role, m.content]), [
      ["user", "Name a colour"],
      ["assistant", "Blue (regenerated)"],
      ["user", "Why blue?"],
    ]);
    assert.equal(branched.messages[1].metadata.model, "gpt-4o");
    assert.equal(branched.created_at, new Date(1_700_000_000_000).toISOString());
    assert.equal(branched.updated_at, new Date(1_700_000_100_000).toISOString());

    const odd = bySourceId(all, "cg-odd");
    assert.equal(odd.title, "[image: file-service://file-abc] What is in this picture?");
    assert.deepEqual(odd.messages.map((m: Json) => [m.role, m.content]), [
      ["user", "[image: file-service://file-abc]\nWhat is in this picture?"],
      ["assistant", "```python\nprint(1 + 1)\n```"],
      ["tool", "2"],
      ["assistant", "It prints 2."],
    ]);
    assert.equal(odd.messages[2].metadata.tool, "python");
    assert.deepEqual(odd.messages[0].metadata.attachments, [{
      name: "photo.png",
      mime_type: "image/png",
    }]);

    const leaf = bySourceId(all, "cg-leaf");
    assert.deepEqual(leaf.messages.map((m: Json) => m.content), ["hello", "newest answer"]);
  }));

Deno.test("import Claude: active branch, text from blocks, thinking and tools in metadata", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const { body } = await importFile(server, token, json([claudeConversation()]));
    assert.equal(body.summary.conversations_created, 1);
    const [c] = await conversationsOf(server, token);
    assert.equal(c.source, "import:claude");
    assert.equal(c.title, "Summarise the file");
    assert.deepEqual(c.messages.map((m: Json) => [m.role, m.content]), [
      ["user", "Summarise the file"],
      ["assistant", "Two lines about notes."],
    ]);
    assert.equal(c.messages[1].metadata.thinking, "Try again, shorter.");
    assert.deepEqual(c.messages[0].metadata.attachments, [{
      file_name: "notes.txt",
      extracted_content: "line one\nline two",
    }]);
  }));

Deno.test("import: a zip with sharded files; importing again adds nothing; a longer export adds only the new", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const zip = zipSync({
      "conversations-000.json": json([chatgptBranched()]),
      "conversations-001.json": json([chatgptOddParts()]),
      "user.json": json({ email: "someone@example.com" }),
    });
    const first = await importFile(server, token, zip);
    assert.equal(first.body.summary.conversations_created, 2);
    const again = await importFile(server, token, zip);
    assert.equal(again.body.summary.conversations_created, 0);
    assert.equal(again.body.summary.messages_added, 0);
    assert.equal(again.body.summary.conversations_unchanged, 2);

    const longer = chatgptBranched();
    longer.current_node = "n6";
    (longer.mapping as Json).n5.children = ["n6"];
    (longer.mapping as Json).n6 = {
      id: "n6",
      parent: "n5",
      children: [],
      message: {
        id: "n6",
        author: { role: "assistant" },
        create_time: 1_700_000_200,
        content: { content_type: "text", parts: ["Because it is calm."] },
        weight: 1,
        metadata: {},
      },
    };
    const third = await importFile(server, token, json([longer]));
    assert.equal(third.body.summary.conversations_updated, 1);
    assert.equal(third.body.summary.messages_added, 1);
    const branched = bySourceId(await conversationsOf(server, token), "cg-branch");
    assert.deepEqual(branched.messages.map((m: Json) => m.content).at(-1), "Because it is calm.");
    assert.equal(branched.message_count, 4);
  }));

Deno.test("import: malformed files are refused with a clear 400 and nothing stored", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    for (
      const [body, pattern] of [
        [new TextEncoder().encode('{"not": "a list"}'), /expected a list/],
        [new TextEncoder().encode('[{"id": "x", '), /malformed/],
        [zipSync({ "readme.txt": new Uint8Array([1]) }), /no conversations\.json/],
        [new Uint8Array(), /empty/],
      ] as [Uint8Array, RegExp][]
    ) {
      const res = await importFile(server, token, body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(res.body.error.message, pattern);
    }
    assert.deepEqual(await conversationsOf(server, token), []);
  }));

Deno.test("import: a body over the import limit is refused, streamed or declared, never buffered", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const big = json(Array.from({ length: 30 }, (_, i) => ({ ...chatgptBranched(), id: `b${i}` })));
    assert.ok(big.length > 4096);
    const declared = await importFile(server, token, big);
    assert.equal(declared.status, 413);
    const chunks = [big.slice(0, 3000), big.slice(3000)];
    const streamed = await server.call("/api/import", {
      method: "POST",
      token,
      body: new ReadableStream({
        pull(controller) {
          const next = chunks.shift();
          if (next) controller.enqueue(next);
          else controller.close();
        },
      }),
    });
    assert.equal(streamed.status, 413, await streamed.clone().text());
    await streamed.body?.cancel();
  }, { env: { PENSIEVE_MAX_IMPORT_BYTES: "4096" } }));
