import assert from "node:assert/strict";
import { signUp, type TestServer, withServer } from "../_helpers/server.ts";

async function newConversation(server: TestServer, token: string): Promise<string> {
  const res = await server.call("/api/conversations", {
    method: "POST",
    token,
    json: { messages: [{ role: "user", content: "start" }] },
  });
  return (await res.json()).conversation.id;
}

async function seqs(server: TestServer, token: string, id: string): Promise<string[]> {
  const body = await (await server.call(`/api/conversations/${id}?limit=1000`, { token })).json();
  return body.messages.map((m: { seq: number; content: string }) => `${m.seq}:${m.content}`);
}

Deno.test("a retried append with the same Idempotency-Key stores nothing twice", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const id = await newConversation(server, token);
    const send = () =>
      server.call(`/api/conversations/${id}/messages`, {
        method: "POST",
        token,
        headers: { "Idempotency-Key": "retry-1" },
        json: {
          messages: [{ role: "user", content: "hello" }, { role: "assistant", content: "hi" }],
        },
      });
    const first = await send();
    assert.equal(first.status, 201);
    const a = await first.json();
    const second = await send();
    assert.equal(second.status, 200);
    const b = await second.json();
    assert.deepEqual(b.messages.map((m: { duplicate: boolean }) => m.duplicate), [true, true]);
    assert.deepEqual(
      b.messages.map((m: { seq: number }) => m.seq),
      a.messages.map((m: { seq: number }) => m.seq),
    );
    assert.deepEqual(await seqs(server, token, id), ["0:start", "1:hello", "2:hi"]);

    const storm = await Promise.all(Array.from({ length: 10 }, async () => {
      const res = await server.call(`/api/conversations/${id}/messages`, {
        method: "POST",
        token,
        headers: { "Idempotency-Key": "storm" },
        json: { messages: [{ role: "user", content: "once" }] },
      });
      await res.body?.cancel();
      return res.status;
    }));
    assert.equal(storm.filter((s) => s === 201).length, 1);
    assert.equal(storm.filter((s) => s === 200).length, 9);
    assert.deepEqual(await seqs(server, token, id), ["0:start", "1:hello", "2:hi", "3:once"]);
  }));

Deno.test("client_message_id: a retry is a duplicate; a different message under it is a 409", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const id = await newConversation(server, token);
    const append = (messages: unknown[]) =>
      server.call(`/api/conversations/${id}/messages`, {
        method: "POST",
        token,
        json: { messages },
      });
    const first = await append([{ role: "user", content: "one", client_message_id: "m1" }]);
    assert.equal(first.status, 201);
    await first.body?.cancel();
    const again = await append([
      { role: "user", content: "one", client_message_id: "m1" },
      { role: "assistant", content: "two", client_message_id: "m2" },
    ]);
    assert.equal(again.status, 201);
    const body = await again.json();
    assert.deepEqual(body.messages.map((m: { duplicate: boolean }) => m.duplicate), [true, false]);
    const conflict = await append([
      { role: "user", content: "three" },
      { role: "user", content: "not one", client_message_id: "m1" },
    ]);
    assert.equal(conflict.status, 409);
    assert.equal((await conflict.json()).error.code, "conflict");
    assert.deepEqual(await seqs(server, token, id), ["0:start", "1:one", "2:two"]);
  }));

Deno.test("parallel appends through HTTP keep seq contiguous with nothing lost", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const id = await newConversation(server, token);
    const statuses = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      const res = await server.call(`/api/conversations/${id}/messages`, {
        method: "POST",
        token,
        json: {
          messages: Array.from({ length: 3 }, (_, j) => ({ role: "user", content: `r${i}m${j}` })),
        },
      });
      await res.body?.cancel();
      return res.status;
    }));
    assert.ok(statuses.every((s) => s === 201));
    const stored = await seqs(server, token, id);
    assert.equal(stored.length, 31);
    assert.deepEqual(stored.map((s) => Number(s.split(":")[0])), stored.map((_, i) => i));
    assert.equal(new Set(stored.map((s) => s.split(":")[1])).size, 31);
  }));

Deno.test("a retried save with the same Idempotency-Key stores one conversation", () =>
  withServer(async (server) => {
    const a = await signUp(server);
    const b = await signUp(server);
    const save = (token: string, key: string) =>
      server.call("/api/conversations", {
        method: "POST",
        token,
        headers: { "Idempotency-Key": key },
        json: { title: "once", messages: [{ role: "user", content: "save me once" }] },
      });
    const first = await save(a.token, "k1");
    assert.equal(first.status, 201);
    const created = await first.json();
    const retry = await save(a.token, "k1");
    assert.equal(retry.status, 200);
    assert.equal(retry.headers.get("Location"), first.headers.get("Location"));
    assert.deepEqual(await retry.json(), created);

    const burst = await Promise.all(Array.from({ length: 10 }, async () => {
      const res = await save(a.token, "k2");
      return { status: res.status, id: (await res.json()).conversation.id };
    }));
    assert.equal(burst.filter((r) => r.status === 201).length, 1);
    assert.equal(new Set(burst.map((r) => r.id)).size, 1);
    const list = await (await server.call("/api/conversations", { token: a.token })).json();
    assert.equal(list.conversations.length, 2);
    assert.deepEqual(await seqs(server, a.token, created.conversation.id), ["0:save me once"]);

    // The same key from another user is theirs alone.
    const theirs = await save(b.token, "k1");
    assert.equal(theirs.status, 201);
    assert.notEqual((await theirs.json()).conversation.id, created.conversation.id);
  }));
