import assert from "node:assert/strict";
import {
  callOk,
  callTool,
  connectMcp,
  errorText,
  type Json,
  MCP_MODES,
} from "../_helpers/mcp_client.ts";
import { signUpForMcp, withServer } from "../_helpers/server.ts";

Deno.test("journey: save in one session, continue from other sessions and transports and REST", () =>
  withServer(async (server) => {
    const { token } = await signUpForMcp(server);
    const claude = await connectMcp(server, { mode: "legacy", token });
    const saved = await callOk(claude, "save_conversation", {
      title: "Garden plan",
      source: "claude",
      messages: [
        { role: "user", content: "Which tomatoes grow well in shade?" },
        { role: "assistant", content: "Cherry tomatoes tolerate partial shade best." },
      ],
    });
    await claude.close();
    const id = saved.conversation.id;

    const chatgpt = await connectMcp(server, { mode: "modern", token });
    const found = await callOk(chatgpt, "search", { query: "tomatoes" });
    assert.deepEqual(found.results.map((r: Json) => r.id), [id]);
    const doc = await callOk(chatgpt, "fetch", { id });
    assert.match(doc.text, /Cherry tomatoes/);
    await callOk(chatgpt, "append_to_conversation", {
      conversation_id: id,
      messages: [{ role: "user", content: "And basil?", client_message_id: "gpt-1" }],
    });
    await chatgpt.close();

    const older = await connectMcp(server, { mode: "sse", token });
    const listed = await callOk(older, "list_conversations", {});
    assert.equal(listed.conversations[0].message_count, 3);
    const hits = await callOk(older, "search_conversations", { query: "basil" });
    assert.equal(hits.results[0].seq, 2);
    const tail = await callOk(older, "load_conversation", { conversation_id: id, last_n: 1 });
    assert.equal(tail.messages[0].content, "And basil?");
    await older.close();

    const rest = await (await server.call(`/api/conversations/${id}`, { token })).json();
    assert.deepEqual(rest.messages.map((m: Json) => m.content), [
      "Which tomatoes grow well in shade?",
      "Cherry tomatoes tolerate partial shade best.",
      "And basil?",
    ]);
  }));

for (const mode of MCP_MODES) {
  Deno.test(`isolation (${mode}): another user's conversation is exactly like a missing one`, () =>
    withServer(async (server) => {
      const owner = await signUpForMcp(server);
      const intruder = await signUpForMcp(server);
      const mine = await connectMcp(server, { mode, token: owner.token });
      const saved = await callOk(mine, "save_conversation", {
        title: "Private diary",
        messages: [{ role: "user", content: "secret pineapple recipe" }],
      });
      const theirs = saved.conversation.id;
      const missing = crypto.randomUUID();
      const other = await connectMcp(server, { mode, token: intruder.token });

      const byId = (id: string): [string, Record<string, unknown>][] => [
        ["load_conversation", { conversation_id: id }],
        ["load_conversation", { conversation_id: id, last_n: 1 }],
        ["append_to_conversation", {
          conversation_id: id,
          messages: [{ role: "user", content: "injected" }],
        }],
        ["delete_conversation", { conversation_id: id }],
        ["fetch", { id }],
      ];
      const forTheirs = byId(theirs);
      const forMissing = byId(missing);
      for (let i = 0; i < forTheirs.length; i++) {
        const a = errorText(await callTool(other, ...forTheirs[i]));
        const b = errorText(await callTool(other, ...forMissing[i]));
        assert.equal(a, b, forTheirs[i][0]);
        assert.match(a, /not_found/);
      }
      for (
        const [tool, args] of [["search_conversations", { query: "pineapple" }], [
          "search",
          { query: "pineapple" },
        ]] as const
      ) {
        const result = await callOk(other, tool, args);
        assert.deepEqual(result.results, [], tool);
      }
      assert.deepEqual((await callOk(other, "list_conversations", {})).conversations, []);
      assert.deepEqual((await other.listResources()).resources, []);
      const readError = async (id: string) =>
        String(await other.readResource({ uri: `pensieve://conversations/${id}` }).catch((e) => e));
      assert.equal(
        (await readError(theirs)).replace(theirs, "ID"),
        (await readError(missing)).replace(missing, "ID"),
      );
      await assert.rejects(
        other.getPrompt({ name: "resume_conversation", arguments: { conversation_id: theirs } }),
        /No conversation with this id/,
      );

      // Nothing of the owner's changed.
      const check = await callOk(mine, "load_conversation", { conversation_id: theirs });
      assert.deepEqual(check.messages.map((m: Json) => m.content), ["secret pineapple recipe"]);
      await mine.close();
      await other.close();
    }));
}

Deno.test("limits: tool calls per user per minute, then an isError with the wait", () =>
  withServer(async (server) => {
    const a = await signUpForMcp(server);
    const b = await signUpForMcp(server);
    const client = await connectMcp(server, { mode: "legacy", token: a.token });
    for (let i = 0; i < 5; i++) await callOk(client, "list_conversations", {});
    const refused = errorText(await callTool(client, "list_conversations", {}));
    assert.match(refused, /Too many MCP calls: at most 5 a minute\. Try again in \d+ seconds\./);
    const other = await connectMcp(server, { mode: "legacy", token: b.token });
    await callOk(other, "list_conversations", {});
    await client.close();
    await other.close();
  }, { env: { PENSIEVE_MCP_CALLS_PER_MINUTE: "5" } }));

Deno.test("limits: an oversized MCP request is refused with 413 and stores nothing", () =>
  withServer(async (server) => {
    const { token } = await signUpForMcp(server);
    const body = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: {
        name: "save_conversation",
        arguments: { messages: [{ role: "user", content: "x".repeat(5000) }] },
      },
    });
    const res = await fetch(`${server.url}/mcp`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${token}`,
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
      },
      body,
    });
    assert.equal(res.status, 413);
    await res.body?.cancel();
    assert.equal(Number(server.store.rawQuery("SELECT count(*) AS n FROM messages")[0].n), 0);
  }, { env: { PENSIEVE_MAX_BODY_BYTES: "4096" } }));

Deno.test("limits: new MCP sessions per user (per address on /open) per minute, then 429", () =>
  withServer(async (server) => {
    const { token } = await signUpForMcp(server);
    const initialize = (path: string, auth?: string) =>
      fetch(`${server.url}${path}`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json, text/event-stream",
          ...(auth ? { Authorization: `Bearer ${auth}` } : {}),
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: {
            protocolVersion: "2025-11-25",
            capabilities: {},
            clientInfo: { name: "loop", version: "1" },
          },
        }),
      });
    for (const [path, auth] of [["/mcp", token], ["/open/mcp", undefined]] as const) {
      for (let i = 0; i < 3; i++) {
        const ok = await initialize(path, auth);
        assert.equal(ok.status, 200, path);
        await ok.body?.cancel();
      }
      const refused = await initialize(path, auth);
      assert.equal(refused.status, 429, path);
      assert.ok(Number(refused.headers.get("Retry-After")) > 0);
      assert.match((await refused.json()).error.message, /Too many new MCP sessions/);
    }
    assert.equal(server.store.rawQuery("SELECT * FROM mcp_sessions").length, 6);
  }, { env: { PENSIEVE_MCP_SESSIONS_PER_MINUTE: "3" } }));
