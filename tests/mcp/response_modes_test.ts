import assert from "node:assert/strict";
import { callOk, connectMcp, type Json } from "../_helpers/mcp_client.ts";
import { signUpForMcp, withServer } from "../_helpers/server.ts";

const LEGACY_CALL = {
  jsonrpc: "2.0",
  id: 7,
  method: "tools/call",
  params: { name: "list_conversations", arguments: {} },
};

for (const responseMode of ["json", "sse", "auto"] as const) {
  Deno.test(`response mode ${responseMode}: both eras work and answer in that shape`, () =>
    withServer(async (server) => {
      const { token } = await signUpForMcp(server);
      for (const mode of ["legacy", "modern"] as const) {
        const client = await connectMcp(server, { mode, token });
        const saved = await callOk(client, "save_conversation", {
          messages: [{ role: "user", content: `${mode} in ${responseMode}` }],
        });
        const loaded = await callOk(client, "load_conversation", {
          conversation_id: saved.conversation.id,
        });
        assert.equal(loaded.messages[0].content, `${mode} in ${responseMode}`);
        await client.close();
      }
      const res = await fetch(`${server.url}/mcp`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${token}`,
          "Content-Type": "application/json",
          Accept: "application/json, text/event-stream",
          "MCP-Protocol-Version": "2025-11-25",
        },
        body: JSON.stringify(LEGACY_CALL),
      });
      const type = res.headers.get("Content-Type") ?? "";
      const text = await res.text();
      let message: Json;
      if (responseMode === "json") {
        assert.match(type, /^application\/json/);
        message = JSON.parse(text);
      } else {
        assert.match(type, /^text\/event-stream/);
        message = JSON.parse(text.split("\n").find((l) => l.startsWith("data: "))!.slice(6));
      }
      assert.equal(message.id, 7);
      assert.equal(message.result.structuredContent.conversations.length, 2);
    }, { env: { PENSIEVE_MCP_RESPONSE_MODE: responseMode } }));
}

Deno.test("concurrent requests with the same JSON-RPC id each get their own answer", () =>
  withServer(async (server) => {
    const { token } = await signUpForMcp(server);
    const client = await connectMcp(server, { mode: "legacy", token });
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const saved = await callOk(client, "save_conversation", {
        title: `conversation ${i}`,
        messages: [{ role: "user", content: `message ${i}` }],
      });
      ids.push(saved.conversation.id);
    }
    await client.close();
    const answers = await Promise.all(ids.map(async (id) => {
      const res = await fetch(`${server.url}/mcp`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${token}`,
          "Content-Type": "application/json",
          Accept: "application/json, text/event-stream",
          "MCP-Protocol-Version": "2025-11-25",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "tools/call",
          params: { name: "load_conversation", arguments: { conversation_id: id } },
        }),
      });
      const text = await res.text();
      return JSON.parse(text.split("\n").find((l) => l.startsWith("data: "))!.slice(6));
    }));
    answers.forEach((answer, i) => {
      assert.equal(answer.id, 1);
      assert.equal(answer.result.structuredContent.conversation.id, ids[i]);
      assert.equal(answer.result.structuredContent.messages[0].content, `message ${i}`);
    });
  }));
