import assert from "node:assert/strict";
import { signUp, type TestServer, withServer } from "../_helpers/server.ts";
import { chatgptOddParts, json } from "./_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

async function exportOf(server: TestServer, token: string): Promise<Json> {
  const res = await server.call("/api/export", { token });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("Content-Disposition")!, /attachment; filename="pensieve-export-/);
  return await res.json();
}

/** What must survive a round trip: everything but the new ids and the edit counter. */
function comparable(doc: Json) {
  return doc.conversations.map(({ id: _id, version: _v, ...rest }: Json) => rest)
    .sort((a: Json, b: Json) => a.title.localeCompare(b.title));
}

Deno.test("round trip: export, import into a fresh account, export again: the same data", () =>
  withServer(async (server) => {
    const a = await signUp(server);
    const save = (body: unknown) =>
      server.call("/api/conversations", { method: "POST", token: a.token, json: body })
        .then((r) => r.json());
    const first = await save({
      title: "Tagged",
      tags: ["travel", "kyoto"],
      source: "claude",
      metadata: { model: "claude-x", nested: { n: 1 } },
      messages: [
        {
          role: "user",
          content: "Plan **Kyoto**",
          created_at: "2025-01-02T03:04:05.678Z",
          client_message_id: "c-1",
          metadata: { lang: "en" },
        },
        { role: "assistant", content: "Day 1…", created_at: "2025-01-02T03:05:00.000Z" },
      ],
    });
    const append = await server.call(`/api/conversations/${first.conversation.id}/messages`, {
      method: "POST",
      token: a.token,
      json: { messages: [{ role: "user", content: "and Nara 🦌", client_message_id: "c-2" }] },
    });
    await append.body?.cancel();
    await save({ messages: [{ role: "system", content: "Untitled, no tags" }] });
    const imported = await server.call("/api/import", {
      method: "POST",
      token: a.token,
      body: new Uint8Array(json([chatgptOddParts()])),
    });
    await imported.body?.cancel();

    const before = await exportOf(server, a.token);
    assert.equal(before.format, "pensieve-export");
    assert.equal(before.version, 1);
    assert.equal(before.conversations.length, 3);

    const b = await signUp(server);
    const res = await server.call("/api/import", {
      method: "POST",
      token: b.token,
      body: new TextEncoder().encode(JSON.stringify(before)),
    });
    const summary = (await res.json()).summary;
    assert.equal(summary.conversations_created, 3, JSON.stringify(summary));
    const after = await exportOf(server, b.token);
    assert.deepEqual(comparable(after), comparable(before));

    // Restoring the same backup again changes nothing.
    const again = await server.call("/api/import", {
      method: "POST",
      token: b.token,
      body: new TextEncoder().encode(JSON.stringify(before)),
    });
    assert.equal((await again.json()).summary.conversations_unchanged, 3);
    assert.deepEqual(comparable(await exportOf(server, b.token)), comparable(before));
  }));
