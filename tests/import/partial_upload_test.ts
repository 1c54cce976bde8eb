import assert from "node:assert/strict";
import { signUp, withServer } from "../_helpers/server.ts";
import { chatgptBranched, claudeConversation, json } from "./_fixtures.ts";

Deno.test("import: a file cut off part-way is a 400 that says what before it was stored; sending it whole adds only the rest", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const second = { ...claudeConversation(), uuid: "claude-second" };
    const text = new TextDecoder().decode(json([chatgptBranched(), claudeConversation(), second]));
    const cut = await server.call("/api/import", {
      method: "POST",
      token: account.token,
      body: text.slice(0, text.length - 200),
    });
    assert.equal(cut.status, 400);
    const { error } = await cut.json();
    assert.equal(error.code, "invalid_request");
    assert.match(error.message, /ends in the middle of conversation #3/);
    assert.match(
      error.message,
      /What came before it was imported \(2 new and 0 updated conversations, 5 messages\)/,
    );
    const whole = await server.call("/api/import", {
      method: "POST",
      token: account.token,
      body: text,
    });
    const { summary } = await whole.json();
    assert.equal(summary.conversations_created, 1);
    assert.equal(summary.conversations_unchanged, 2);
  }));

Deno.test("import: a file that is broken from its start says nothing was imported", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const res = await server.call("/api/import", {
      method: "POST",
      token: account.token,
      body: "[{",
    });
    assert.equal(res.status, 400);
    assert.doesNotMatch((await res.json()).error.message, /What came before/);
  }));
