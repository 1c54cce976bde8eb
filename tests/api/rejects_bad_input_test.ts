import assert from "node:assert/strict";
import { signUp, type TestServer, withServer } from "../_helpers/server.ts";

async function expectError(res: Response, status: number, label: string): Promise<void> {
  const text = await res.text();
  assert.equal(res.status, status, `${label}: ${text}`);
  const body = JSON.parse(text);
  assert.equal(typeof body.error?.code, "string", label);
  assert.equal(typeof body.error?.message, "string", label);
  assert.ok(!/\bat .*\.ts:\d+/.test(text), `${label}: no stack trace`);
}

async function snapshot(server: TestServer, token: string, id: string): Promise<string> {
  const one = await (await server.call(`/api/conversations/${id}?limit=1000`, { token })).text();
  const all = await (await server.call("/api/conversations?limit=100", { token })).text();
  return one + all;
}

Deno.test("malformed requests get a 4xx JSON error and change nothing", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const { conversation } = await (await server.call("/api/conversations", {
      method: "POST",
      token,
      json: { title: "Keep me", messages: [{ role: "user", content: "original" }] },
    })).json();
    const id = conversation.id;
    const before = await snapshot(server, token, id);
    const messages = `/api/conversations/${id}/messages`;
    const cases: [string, string, string, BodyInit | undefined, number][] = [
      ["bad JSON", "POST", "/api/conversations", "{not json", 400],
      ["empty body", "POST", messages, "", 400],
      ["JSON array", "POST", "/api/conversations", "[]", 400],
      ["wrong type", "POST", messages, JSON.stringify({ messages: "hello" }), 400],
      [
        "wrong role",
        "POST",
        messages,
        JSON.stringify({ messages: [{ role: "god", content: "x" }] }),
        400,
      ],
      [
        "unknown field",
        "POST",
        messages,
        JSON.stringify({ messages: [{ role: "user", content: "x" }], extra: 1 }),
        400,
      ],
      [
        "unknown message field",
        "POST",
        messages,
        JSON.stringify({ messages: [{ role: "user", content: "x", html: 1 }] }),
        400,
      ],
      ["missing content", "POST", messages, JSON.stringify({ messages: [{ role: "user" }] }), 400],
      ["no messages", "POST", messages, JSON.stringify({ messages: [] }), 400],
      [
        "bad created_at",
        "POST",
        messages,
        JSON.stringify({ messages: [{ role: "user", content: "x", created_at: "yesterday" }] }),
        400,
      ],
      [
        "oversize body",
        "POST",
        messages,
        JSON.stringify({ messages: [{ role: "user", content: "x".repeat(5000) }] }),
        413,
      ],
      ["empty patch", "PATCH", `/api/conversations/${id}`, "{}", 400],
      [
        "title too long",
        "PATCH",
        `/api/conversations/${id}`,
        JSON.stringify({ title: "t".repeat(301) }),
        400,
      ],
      [
        "too many tags",
        "PATCH",
        `/api/conversations/${id}`,
        JSON.stringify({ tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }),
        400,
      ],
      ["bad source", "POST", "/api/conversations", JSON.stringify({ source: "<script>" }), 400],
      ["page too big", "GET", "/api/conversations?limit=101", undefined, 400],
      ["negative page", "GET", `${messages}?limit=-1`, undefined, 400],
      ["message page too big", "GET", `${messages}?limit=1001`, undefined, 400],
      ["bad cursor", "GET", "/api/conversations?cursor=nonsense", undefined, 400],
      ["forged cursor", "GET", `/api/conversations?cursor=${btoa('{"u":"x"}')}`, undefined, 400],
      ["repeated parameter", "GET", "/api/conversations?limit=1&limit=2", undefined, 400],
      ["unknown parameter", "GET", "/api/conversations?sort=asc", undefined, 400],
      ["empty search", "GET", "/api/search?q=", undefined, 400],
      ["missing q", "GET", "/api/search", undefined, 400],
      ["punctuation search", "GET", `/api/search?q=${encodeURIComponent('"*()')}`, undefined, 400],
      ["bad date filter", "GET", "/api/search?q=x&updated_from=2026-13-45", undefined, 400],
      [
        "bad token expiry",
        "POST",
        "/api/tokens",
        JSON.stringify({ name: "x", expires_in_days: 0 }),
        400,
      ],
      [
        "bad idempotency key",
        "POST",
        messages,
        JSON.stringify({ messages: [{ role: "user", content: "x" }] }),
        400,
      ],
    ];
    for (const [label, method, path, body, status] of cases) {
      const headers: Record<string, string> = label === "bad idempotency key"
        ? { "Idempotency-Key": "has spaces in it" }
        : {};
      await expectError(await server.call(path, { method, token, body, headers }), status, label);
    }
    assert.equal(await snapshot(server, token, id), before);
  }, { env: { PENSIEVE_MAX_BODY_BYTES: "4096" } }));

Deno.test("size limits on metadata, messages and content are enforced", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const save = (json: unknown) =>
      server.call("/api/conversations", { method: "POST", token, json });
    await expectError(await save({ metadata: { a: "x".repeat(17 * 1024) } }), 400, "metadata");
    await expectError(
      await save({
        messages: [{ role: "user", content: "x", metadata: { a: "x".repeat(17 * 1024) } }],
      }),
      400,
      "message metadata",
    );
    await expectError(
      await save({
        messages: Array.from({ length: 1001 }, () => ({ role: "user", content: "x" })),
      }),
      400,
      "too many messages",
    );
    await expectError(
      await save({ messages: [{ role: "user", content: "x".repeat(1024 * 1024 + 1) }] }),
      400,
      "content too long",
    );
    const ok = await save({
      messages: Array.from({ length: 1000 }, () => ({ role: "user", content: "x" })),
    });
    assert.equal(ok.status, 201);
    await ok.body?.cancel();
    const list = await (await server.call("/api/conversations", { token })).json();
    assert.equal(list.conversations.length, 1, "rejected saves stored nothing");
  }));

Deno.test("no search input gives a 5xx", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const res = await server.call("/api/conversations", {
      method: "POST",
      token,
      json: { messages: [{ role: "user", content: "some ordinary words" }] },
    });
    await res.body?.cancel();
    const queries = [
      '"',
      '""',
      "*",
      "NEAR(a b)",
      "AND OR NOT",
      "body:foo",
      "owner:u123",
      "^start",
      "-minus",
      '"unbalanced',
      "a*b*c",
      "🙂🙃",
      "x".repeat(500),
      "\u0000nul",
      "(((",
      "{owner body}: x",
      "대화*",
      "ordinary OR 1=1; DROP TABLE messages",
    ];
    for (const q of queries) {
      const r = await server.call(`/api/search?q=${encodeURIComponent(q)}`, { token });
      const text = await r.text();
      assert.ok(r.status === 200 || r.status === 400, `${JSON.stringify(q)} → ${r.status} ${text}`);
      if (r.status === 400) assert.ok(JSON.parse(text).error.code);
    }
  }));

Deno.test("unknown routes get a JSON 404", () =>
  withServer(async (server) => {
    await expectError(await server.call("/nope"), 404, "unknown route");
    await expectError(
      await server.call("/api/nope", { token: (await signUp(server)).token }),
      404,
      "unknown api route",
    );
  }));

Deno.test("text with a NUL or an unpaired surrogate is refused, never stored altered", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const { conversation } = await (await server.call("/api/conversations", {
      method: "POST",
      token,
      json: { title: "Keep me", messages: [{ role: "user", content: "original" }] },
    })).json();
    const id = conversation.id;
    const tokenId = (await (await server.call("/api/tokens", {
      method: "POST",
      token,
      json: { name: "script" },
    })).json()).token.id;
    const tokens = async () => await (await server.call("/api/tokens", { token })).text();
    const before = await snapshot(server, token, id) + await tokens();
    // SQLite cuts a string at its first NUL; a lone surrogate has no UTF-8 form.
    for (const bad of ["x\u0000y", "\ud800 lone", "lone \udc00", "a\ud83d"]) {
      const cases: [string, string, unknown][] = [
        ["POST", `/api/conversations/${id}/messages`, {
          messages: [{ role: "user", content: bad }],
        }],
        ["POST", `/api/conversations/${id}/messages`, {
          messages: [{ role: "user", content: "ok", client_message_id: bad }],
        }],
        ["POST", "/api/conversations", { title: bad }],
        ["POST", "/api/conversations", { tags: [bad] }],
        ["PATCH", `/api/conversations/${id}`, { title: bad }],
        ["POST", "/api/tokens", { name: bad }],
        ["PATCH", `/api/tokens/${tokenId}`, { name: bad }],
      ];
      for (const [method, path, json] of cases) {
        const label = `${method} ${path} ${JSON.stringify(bad)}`;
        await expectError(await server.call(path, { method, token, json }), 400, label);
      }
    }
    assert.equal(await snapshot(server, token, id) + await tokens(), before);
  }));
