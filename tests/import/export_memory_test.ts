import assert from "node:assert/strict";
import { signUp, withServer } from "../_helpers/server.ts";

Deno.test("export: a long conversation is read a page at a time as the download goes (never held whole): a message appended meanwhile is in it", () =>
  withServer(async (server) => {
    const a = await signUp(server);
    const messages = 100;
    const content = "x".repeat(1024 * 1024 - 1); // the largest message the API takes
    const id = crypto.randomUUID();
    await server.store.createConversation(a.userId, {
      id,
      title: "Long",
      tags: [],
      source: "api",
      metadata: {},
      messages: Array.from({ length: messages }, (_, i) => ({
        role: i % 2 ? "assistant" : "user",
        content,
      })),
      now: 1_700_000_000_000,
    });
    for (const [n, path] of [`/api/export/${id}`, "/api/export"].entries()) {
      const res = await server.call(path, { token: a.token });
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      const first = await reader.read();
      // 100 MB of messages: only the first pages can have been read by now.
      const append = await server.call(`/api/conversations/${id}/messages`, {
        method: "POST",
        token: a.token,
        json: { messages: [{ role: "user", content: `appended during download ${n}` }] },
      });
      assert.equal(append.status, 201);
      await append.body?.cancel();
      const chunks = [first.value!];
      for (let next = await reader.read(); !next.done; next = await reader.read()) {
        chunks.push(next.value);
      }
      const text = new TextDecoder().decode(await new Blob(chunks).arrayBuffer());
      const doc = JSON.parse(text);
      const conversation = n === 0 ? doc : doc.conversations[0];
      assert.equal(conversation.messages.at(-1).content, `appended during download ${n}`);
      assert.equal(conversation.messages.length, messages + n + 1);
    }
  }));
