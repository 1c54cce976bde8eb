import assert from "node:assert/strict";
import {
  callOk,
  callTool,
  connectMcp,
  errorText,
  type Json,
  MCP_MODES,
} from "../_helpers/mcp_client.ts";
import { signUpForMcp, startServer, withServer } from "../_helpers/server.ts";

const INIT = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-11-25",
    capabilities: {},
    clientInfo: { name: "raw", version: "1" },
  },
};
const MCP_HEADERS = {
  "Content-Type": "application/json",
  Accept: "application/json, text/event-stream",
};

Deno.test("/mcp and /sse without a credential: 401 with a challenge naming the resource metadata", () =>
  withServer(async (server) => {
    const base = server.config.publicUrl;
    for (const [path, resource] of [["/mcp", "/mcp"], ["/sse", "/sse"], ["/messages", "/sse"]]) {
      const method = path === "/sse" ? "GET" : "POST";
      const body = method === "POST" ? JSON.stringify(INIT) : undefined;
      const res = await fetch(server.url + path, { method, headers: MCP_HEADERS, body });
      assert.equal(res.status, 401, path);
      assert.equal(
        res.headers.get("WWW-Authenticate"),
        `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource${resource}", ` +
          `scope="conversations:read conversations:write conversations:delete"`,
        path,
      );
      assert.equal((await res.json()).error.code, "unauthorized");
    }
    const forged = await fetch(server.url + "/mcp", {
      method: "POST",
      headers: { ...MCP_HEADERS, Authorization: "Bearer psv_not-a-real-token" },
      body: JSON.stringify(INIT),
    });
    assert.equal(forged.status, 401);
    assert.match(forged.headers.get("WWW-Authenticate")!, /error="invalid_token"/);
    await forged.body?.cancel();

    for (const path of ["/mcp", "/sse", ""]) {
      const prm = await (await fetch(
        `${server.url}/.well-known/oauth-protected-resource${path}`,
      )).json();
      assert.equal(prm.resource, `${base}${path}`);
      assert.deepEqual(prm.bearer_methods_supported, ["header"]);
    }
  }));

Deno.test("MCP requests from a foreign Origin or to an unknown Host get 403", () =>
  withServer(async (server) => {
    const { token } = await signUpForMcp(server);
    const headers = { ...MCP_HEADERS, Authorization: `Bearer ${token}` };
    const post = (extra: Record<string, string>, path = "/mcp") =>
      fetch(server.url + path, {
        method: "POST",
        headers: { ...headers, ...extra },
        body: JSON.stringify(INIT),
      });
    for (const path of ["/mcp", "/open/mcp", "/messages"]) {
      const res = await post({ Origin: "https://evil.example" }, path);
      assert.equal(res.status, 403, path);
      await res.body?.cancel();
    }
    const allowed = await post({ Origin: "https://app.example.com" });
    assert.equal(allowed.status, 200);
    await allowed.body?.cancel();
    const noOrigin = await post({});
    assert.equal(noOrigin.status, 200);
    await noOrigin.body?.cancel();

    // Deno's fetch will not forge Host; a raw request shows the DNS-rebinding defence.
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: new URL(server.url).port as never,
    });
    const body = JSON.stringify(INIT);
    await conn.write(new TextEncoder().encode(
      `POST /mcp HTTP/1.1\r\nHost: rebound.attacker.example\r\nAuthorization: Bearer ${token}\r\n` +
        `Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    ));
    const reply = new TextDecoder().decode(await readAll(conn));
    assert.match(reply, /^HTTP\/1\.1 403/);
  }, { env: { PENSIEVE_CORS_ORIGINS: "https://app.example.com" } }));

Deno.test("2025-11-25 sessions: stored, owned by one user, ended by DELETE", () =>
  withServer(async (server) => {
    const a = await signUpForMcp(server);
    const b = await signUpForMcp(server);
    const post = (token: string, body: unknown, session?: string) =>
      fetch(server.url + "/mcp", {
        method: "POST",
        headers: {
          ...MCP_HEADERS,
          Authorization: `Bearer ${token}`,
          "MCP-Protocol-Version": "2025-11-25",
          ...(session ? { "Mcp-Session-Id": session } : {}),
        },
        body: JSON.stringify(body),
      });
    const init = await post(a.token, INIT);
    assert.equal(init.status, 200);
    const session = init.headers.get("Mcp-Session-Id")!;
    assert.match(session, /^[A-Za-z0-9_-]{43}$/);
    await init.body?.cancel();
    const stored = server.store.rawQuery("SELECT id_hash, user_id FROM mcp_sessions");
    assert.equal(stored.length, 1);
    assert.equal(stored[0].user_id, a.userId);
    assert.notEqual(stored[0].id_hash, session, "only a hash is stored");

    const list = { jsonrpc: "2.0", id: 2, method: "tools/list" };
    const ok = await post(a.token, list, session);
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    // Another user's credential with this session id: as if the session did not exist.
    const stolen = await post(b.token, list, session);
    assert.equal(stolen.status, 404);
    await stolen.body?.cancel();
    const unknown = await post(a.token, list, "x".repeat(43));
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();

    const get = await fetch(server.url + "/mcp", {
      headers: { Authorization: `Bearer ${a.token}`, Accept: "text/event-stream" },
    });
    assert.equal(get.status, 405);
    await get.body?.cancel();

    const del = await fetch(server.url + "/mcp", {
      method: "DELETE",
      headers: { Authorization: `Bearer ${a.token}`, "Mcp-Session-Id": session },
    });
    assert.equal(del.status, 200);
    await del.body?.cancel();
    const after = await post(a.token, list, session);
    assert.equal(after.status, 404);
    await after.body?.cancel();
    assert.equal(server.store.rawQuery("SELECT * FROM mcp_sessions").length, 0);
  }));

for (const mode of ["legacy", "sse"] as const) {
  Deno.test(`/open (${mode}): tools say "log in first" until mcp_login binds the session`, () =>
    withServer(async (server) => {
      const account = await signUpForMcp(server);
      const client = await connectMcp(server, { mode, open: true });
      const names = (await client.listTools()).tools.map((t) => t.name);
      for (const name of ["mcp_register", "mcp_login", "set_api_token"]) {
        assert.ok(names.includes(name), name);
      }
      const login = (await client.listTools()).tools.find((t) => t.name === "mcp_login")!;
      assert.match(login.description!, /OAuth or a personal access token/);

      const before = await callTool(client, "list_conversations", {});
      assert.match(errorText(before), /Log in first/);
      const listError = await client.listResources().catch((e) => e);
      assert.equal(listError.code, -32000);
      assert.deepEqual(listError.data, { error: "unauthorized" });
      assert.match(listError.message, /Log in first/);
      const wrong = await callTool(client, "mcp_login", {
        email: account.email,
        password: "not the password",
      });
      assert.match(errorText(wrong), /unauthorized/);
      const signedIn = await callOk(client, "mcp_login", {
        email: account.email,
        password: account.password,
      });
      assert.equal(signedIn.user.id, account.userId);
      const saved = await callOk(client, "save_conversation", {
        messages: [{ role: "user", content: "saved over /open" }],
      });
      // The same account sees it through the credential endpoint.
      const viaToken = await connectMcp(server, { mode: "legacy", token: account.token });
      const listed = await callOk(viaToken, "list_conversations", {});
      assert.deepEqual(listed.conversations.map((c: Json) => c.id), [saved.conversation.id]);
      await viaToken.close();

      // A password change ends in-band logins made before it.
      const changed = await server.call("/auth/password", {
        method: "POST",
        token: account.token,
        json: { current_password: account.password, new_password: "another long password" },
      });
      assert.equal(changed.status, 200);
      await changed.body?.cancel();
      assert.match(errorText(await callTool(client, "list_conversations", {})), /Log in first/);
      await client.close();
    }));
}

Deno.test("/open: mcp_register and set_api_token bind too; a second client stays signed out", () =>
  withServer(async (server) => {
    const first = await connectMcp(server, { mode: "legacy", open: true });
    const made = await callOk(first, "mcp_register", {
      email: "New.Person@Example.com",
      password: "a fine long password",
    });
    assert.equal(made.user.email, "new.person@example.com");
    const saved = await callOk(first, "save_conversation", {
      messages: [{ role: "user", content: "hello from a new account" }],
    });
    const other = await connectMcp(server, { mode: "sse", open: true });
    assert.match(errorText(await callTool(other, "list_conversations", {})), /Log in first/);
    const bad = await callTool(other, "set_api_token", { token: "psv_nope" });
    assert.match(errorText(bad), /unauthorized/);

    const account = await signUpForMcp(server);
    const pat = await (await server.call("/api/tokens", {
      method: "POST",
      token: account.token,
      json: { name: "chat" },
    })).json();
    await callOk(other, "set_api_token", { token: pat.secret });
    const listed = await callOk(other, "list_conversations", {});
    assert.deepEqual(listed.conversations, [], "the token's account, not the other session's");
    const stillMine = await callOk(first, "list_conversations", {});
    assert.deepEqual(stillMine.conversations.map((c: Json) => c.id), [saved.conversation.id]);
    await first.close();
    await other.close();
  }));

Deno.test("/open: a login is honoured by a second instance on the same database", async () => {
  const one = await startServer();
  const two = await startServer({ env: { PENSIEVE_DB: `sqlite:${one.dbPath}` } });
  try {
    const account = await signUpForMcp(one);
    const init = await fetch(`${one.url}/open/mcp`, {
      method: "POST",
      headers: MCP_HEADERS,
      body: JSON.stringify(INIT),
    });
    const session = init.headers.get("Mcp-Session-Id")!;
    await init.body?.cancel();
    const call = async (url: string, name: string, args: Record<string, unknown>) => {
      const res = await fetch(`${url}/open/mcp`, {
        method: "POST",
        headers: {
          ...MCP_HEADERS,
          Accept: "application/json, text/event-stream",
          "MCP-Protocol-Version": "2025-11-25",
          "Mcp-Session-Id": session,
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 3,
          method: "tools/call",
          params: { name, arguments: args },
        }),
      });
      const text = await res.text();
      const data = text.split("\n").find((l) => l.startsWith("data: "));
      const parsed = JSON.parse(data ? data.slice(6) : text);
      if (!parsed.result) throw new Error(`${res.status} ${text}`);
      return parsed.result;
    };
    const login = await call(one.url, "mcp_login", {
      email: account.email,
      password: account.password,
    });
    assert.equal(login.isError, undefined, JSON.stringify(login));
    const listed = await call(two.url, "list_conversations", {});
    assert.equal(listed.isError, undefined, JSON.stringify(listed));
    assert.deepEqual(listed.structuredContent.conversations, []);
  } finally {
    await two.close().catch(() => {});
    await one.close();
  }
});

Deno.test("/open speaks only the 2025 era: a negotiating client falls back to initialize", () =>
  withServer(async (server) => {
    const client = await connectMcp(server, { mode: "modern", open: true });
    assert.ok((await client.listTools()).tools.some((t) => t.name === "mcp_login"));
    const account = await signUpForMcp(server);
    await callOk(client, "mcp_login", { email: account.email, password: account.password });
    assert.deepEqual((await callOk(client, "list_conversations", {})).conversations, []);
    await client.close();
  }));

for (const mode of MCP_MODES) {
  Deno.test(`mcp ${mode}: a revoked credential stops working mid-connection`, () =>
    withServer(async (server) => {
      const account = await signUpForMcp(server);
      const pat = await (await server.call("/api/tokens", {
        method: "POST",
        token: account.token,
        json: { name: "client" },
      })).json();
      const client = await connectMcp(server, { mode, token: pat.secret });
      await callOk(client, "list_conversations", {});
      const revoked = await server.call(`/api/tokens/${pat.token.id}`, {
        method: "DELETE",
        token: account.token,
      });
      assert.equal(revoked.status, 204);
      await assert.rejects(callTool(client, "list_conversations", {}));
      await client.close().catch(() => {});
    }));
}

async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  conn.close();
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) out.set(c, (at += c.length) - c.length);
  return out;
}
