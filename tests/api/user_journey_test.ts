import assert from "node:assert/strict";
import { withServer } from "../_helpers/server.ts";

Deno.test("register → login → save → append → list → search → load → rename → delete", () =>
  withServer(async (server) => {
    const credentials = { email: "journey@example.com", password: "journey password" };
    const registered = await server.call("/auth/register", { method: "POST", json: credentials });
    assert.equal(registered.status, 201);
    const reg = await registered.json();
    assert.equal(reg.user.email, "journey@example.com");
    assert.equal(reg.token_type, "Bearer");

    const login = await server.call("/auth/login", { method: "POST", json: credentials });
    assert.equal(login.status, 200);
    const { access_token: token, expires_in } = await login.json();
    assert.equal(expires_in, 3600);

    const me = await (await server.call("/auth/me", { token })).json();
    assert.equal(me.user.id, reg.user.id);

    const saved = await server.call("/api/conversations", {
      method: "POST",
      token,
      json: {
        title: "Kyoto trip",
        tags: ["travel"],
        source: "claude",
        metadata: { model: "claude-x" },
        messages: [
          { role: "user", content: "Plan three days in Kyoto" },
          { role: "assistant", content: "Day one: Fushimi Inari at dawn." },
        ],
      },
    });
    assert.equal(saved.status, 201);
    const { conversation } = await saved.json();
    assert.equal(saved.headers.get("Location"), `/api/conversations/${conversation.id}`);
    assert.equal(conversation.message_count, 2);
    assert.equal(conversation.source, "claude");

    const untitled = await (await server.call("/api/conversations", {
      method: "POST",
      token,
      json: { messages: [{ role: "user", content: "What is the tallest\nmountain?" }] },
    })).json();
    assert.equal(untitled.conversation.title, "What is the tallest mountain?");
    assert.equal(untitled.conversation.source, "api");

    const appended = await server.call(`/api/conversations/${conversation.id}/messages`, {
      method: "POST",
      token,
      json: {
        messages: [
          { role: "user", content: "Add a day trip to Nara", created_at: "2026-03-01T10:00:00Z" },
          { role: "assistant", content: "Nara: deer park and Todai-ji." },
        ],
      },
    });
    assert.equal(appended.status, 201);
    const append = await appended.json();
    assert.deepEqual(append.messages.map((m: { seq: number }) => m.seq), [2, 3]);
    assert.equal(append.messages[0].created_at, "2026-03-01T10:00:00.000Z");
    assert.equal(append.conversation.message_count, 4);
    assert.equal(append.conversation.version, 2);

    const list = await (await server.call("/api/conversations?limit=1", { token })).json();
    assert.equal(list.conversations.length, 1);
    assert.equal(list.conversations[0].id, conversation.id, "the appended one is newest");
    assert.ok(list.next_cursor);
    const next = await (await server.call(`/api/conversations?limit=1&cursor=${list.next_cursor}`, {
      token,
    })).json();
    assert.equal(next.conversations[0].id, untitled.conversation.id);
    assert.equal(next.next_cursor, null);
    const travel = await (await server.call("/api/conversations?tag=travel", { token })).json();
    assert.deepEqual(travel.conversations.map((c: { id: string }) => c.id), [conversation.id]);

    const search = await (await server.call("/api/search?q=nara", { token })).json();
    assert.equal(search.results.length, 1);
    const hit = search.results[0];
    assert.equal(hit.conversation.id, conversation.id);
    assert.equal(hit.seq, 2);
    assert.equal(hit.snippet.slice(hit.highlights[0][0], hit.highlights[0][1]), "Nara");

    const whole = await (await server.call(`/api/conversations/${conversation.id}`, { token }))
      .json();
    assert.deepEqual(whole.messages.map((m: { role: string }) => m.role), [
      "user",
      "assistant",
      "user",
      "assistant",
    ]);
    assert.equal(whole.next_after_seq, null);
    const firstPage = await (await server.call(
      `/api/conversations/${conversation.id}/messages?limit=3`,
      { token },
    )).json();
    assert.equal(firstPage.messages.length, 3);
    assert.equal(firstPage.next_after_seq, 2);
    const rest = await (await server.call(
      `/api/conversations/${conversation.id}/messages?after_seq=2`,
      { token },
    )).json();
    assert.deepEqual(rest.messages.map((m: { seq: number }) => m.seq), [3]);
    const last = await (await server.call(
      `/api/conversations/${conversation.id}?last=true&limit=2`,
      { token },
    )).json();
    assert.deepEqual(last.messages.map((m: { seq: number }) => m.seq), [2, 3]);

    const renamed = await server.call(`/api/conversations/${conversation.id}`, {
      method: "PATCH",
      token,
      json: { title: "Kansai trip", tags: ["travel", "japan"] },
    });
    assert.equal(renamed.status, 200);
    const patched = (await renamed.json()).conversation;
    assert.equal(patched.title, "Kansai trip");
    assert.deepEqual(patched.tags, ["travel", "japan"]);
    assert.deepEqual(patched.metadata, { model: "claude-x" });
    const byTitle = await (await server.call("/api/search?q=kansai", { token })).json();
    assert.equal(byTitle.results[0].conversation.id, conversation.id);

    const deleted = await server.call(`/api/conversations/${conversation.id}`, {
      method: "DELETE",
      token,
    });
    assert.equal(deleted.status, 204);
    await deleted.body?.cancel();
    const gone = await server.call(`/api/conversations/${conversation.id}`, { token });
    assert.equal(gone.status, 404);
    assert.equal((await gone.json()).error.code, "not_found");
    const after = await (await server.call("/api/search?q=nara", { token })).json();
    assert.deepEqual(after.results, []);
  }));
