import assert from "node:assert/strict";
import { signUp, withServer } from "../_helpers/server.ts";

Deno.test("another user's ids answer exactly like ids that do not exist", () =>
  withServer(async (server) => {
    const alice = await signUp(server);
    const bob = await signUp(server);
    const saved = await (await server.call("/api/conversations", {
      method: "POST",
      token: alice.token,
      json: { title: "Alice's secret", messages: [{ role: "user", content: "ultraviolet" }] },
    })).json();
    const aliceConversation = saved.conversation.id;
    const aliceToken = (await (await server.call("/api/tokens", {
      method: "POST",
      token: alice.token,
      json: { name: "alice script" },
    })).json()).token.id;
    const before = await (await server.call(`/api/conversations/${aliceConversation}`, {
      token: alice.token,
    })).json();

    const conversationProbes: [string, string, unknown?][] = [
      ["GET", "/api/conversations/ID"],
      ["PATCH", "/api/conversations/ID", { title: "owned" }],
      ["DELETE", "/api/conversations/ID"],
      ["GET", "/api/conversations/ID/messages"],
      ["POST", "/api/conversations/ID/messages", {
        messages: [{ role: "user", content: "injected" }],
      }],
    ];
    const tokenProbes: [string, string, unknown?][] = [
      ["PATCH", "/api/tokens/ID", { name: "owned" }],
      ["DELETE", "/api/tokens/ID"],
    ];
    const answer = async (method: string, path: string, json: unknown) => {
      const res = await server.call(path, { method, token: bob.token, json });
      return { status: res.status, body: await res.text() };
    };
    for (
      const [probes, target] of [
        [conversationProbes, aliceConversation],
        [tokenProbes, aliceToken],
      ] as const
    ) {
      for (const [method, template, json] of probes) {
        const theirs = await answer(method, template.replace("ID", target), json);
        const random = await answer(method, template.replace("ID", crypto.randomUUID()), json);
        const garbage = await answer(method, template.replace("ID", "not-an-id"), json);
        assert.equal(theirs.status, 404, `${method} ${template}`);
        assert.deepEqual(theirs, random, `${method} ${template}`);
        assert.deepEqual(theirs, garbage, `${method} ${template}`);
      }
    }

    const after = await (await server.call(`/api/conversations/${aliceConversation}`, {
      token: alice.token,
    })).json();
    assert.deepEqual(after, before);
    const tokens = await (await server.call("/api/tokens", { token: alice.token })).json();
    assert.equal(tokens.tokens[0].name, "alice script");

    const bobList = await (await server.call("/api/conversations", { token: bob.token })).json();
    assert.deepEqual(bobList.conversations, []);
    const bobSearch = await (await server.call("/api/search?q=ultraviolet", { token: bob.token }))
      .json();
    assert.deepEqual(bobSearch.results, []);
    const bobTokens = await (await server.call("/api/tokens", { token: bob.token })).json();
    assert.deepEqual(bobTokens.tokens, []);
  }));
