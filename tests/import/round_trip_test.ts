import assert from "node:assert/strict";
import { unzipSync } from "fflate";
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

Deno.test("export as Markdown: one file per conversation in a zip; one conversation alone", () =>
  withServer(async (server) => {
    const a = await signUp(server);
    const ids: string[] = [];
    for (const title of ["Kyoto / Nara?", "대화 기록"]) {
      const saved = await (await server.call("/api/conversations", {
        method: "POST",
        token: a.token,
        json: {
          title,
          tags: ["t"],
          messages: [
            { role: "user", content: `about ${title}` },
            { role: "assistant", content: "**bold** answer" },
          ],
        },
      })).json();
      ids.push(saved.conversation.id);
    }
    const res = await server.call("/api/export?format=markdown", { token: a.token });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("Content-Type"), "application/zip");
    const files = unzipSync(new Uint8Array(await res.arrayBuffer()));
    const names = Object.keys(files).sort();
    assert.deepEqual(names, [
      `Kyoto-Nara-${ids[0].slice(0, 8)}.md`,
      `대화-기록-${ids[1].slice(0, 8)}.md`,
    ]);
    const kyoto = new TextDecoder().decode(files[names[0]]);
    assert.match(kyoto, /^# Kyoto \/ Nara\?\n/);
    assert.match(kyoto, /- tags: t\n/);
    assert.match(kyoto, /## assistant · \d{4}-\d\d-\d\dT[\d:.]+Z\n\n\*\*bold\*\* answer\n/);

    const one = await server.call(`/api/export/${ids[1]}?format=markdown`, { token: a.token });
    assert.match(await one.text(), /^# 대화 기록\n/);
    const asJson = await (await server.call(`/api/export/${ids[1]}`, { token: a.token })).json();
    assert.equal(asJson.messages.length, 2);
    const b = await signUp(server);
    const foreign = await server.call(`/api/export/${ids[1]}`, { token: b.token });
    assert.equal(foreign.status, 404);
    await foreign.body?.cancel();
  }));
