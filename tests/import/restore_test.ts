import assert from "node:assert/strict";
import { signUp, type TestServer, withServer } from "../_helpers/server.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

async function exportOf(server: TestServer, token: string): Promise<string> {
  const res = await server.call("/api/export", { token });
  assert.equal(res.status, 200);
  return await res.text();
}

async function restore(server: TestServer, token: string, file: string) {
  const res = await server.call("/api/import", {
    method: "POST",
    token,
    body: new TextEncoder().encode(file),
  });
  assert.equal(res.status, 200);
  return (await res.json()).summary;
}

async function listOf(server: TestServer, token: string): Promise<Json[]> {
  return (await (await server.call("/api/conversations?limit=100", { token })).json())
    .conversations;
}

Deno.test("restore: a Pensieve export into the account it came from adds nothing; a longer one adds only the new messages", () =>
  withServer(async (server) => {
    const a = await signUp(server);
    const save = async (body: unknown) =>
      (await (await server.call("/api/conversations", {
        method: "POST",
        token: a.token,
        json: body,
      }))
        .json()).conversation;
    const withIds = await save({
      title: "With client ids",
      messages: [{ role: "user", content: "one", client_message_id: "c-1" }],
    });
    await save({ title: "Without", messages: [{ role: "user", content: "plain" }] });
    const backup = await exportOf(server, a.token);

    // Into the same account: every conversation is already there, by its own id.
    const same = await restore(server, a.token, backup);
    assert.equal(same.conversations_created, 0, JSON.stringify(same));
    assert.equal(same.conversations_unchanged, 2);
    assert.equal((await listOf(server, a.token)).length, 2);

    // Into another account, then that account's own export back into it: still two.
    const b = await signUp(server);
    assert.equal((await restore(server, b.token, backup)).conversations_created, 2);
    const again = await restore(server, b.token, await exportOf(server, b.token));
    assert.equal(again.conversations_created, 0, JSON.stringify(again));
    assert.equal((await listOf(server, b.token)).length, 2);

    // The conversation grows in the first account: restoring its newer export adds only that.
    const append = await server.call(`/api/conversations/${withIds.id}/messages`, {
      method: "POST",
      token: a.token,
      json: { messages: [{ role: "assistant", content: "two", client_message_id: "c-2" }] },
    });
    assert.equal(append.status, 201);
    await append.body?.cancel();
    const newer = await exportOf(server, a.token);
    for (const token of [a.token, b.token]) {
      const summary = await restore(server, token, newer);
      assert.equal(summary.conversations_created, 0);
      assert.equal(summary.messages_added, token === a.token ? 0 : 1, JSON.stringify(summary));
      const list = await listOf(server, token);
      assert.equal(list.length, 2);
      assert.equal(list.find((c) => c.title === "With client ids").message_count, 2);
    }
  }));
