import assert from "node:assert/strict";
import { ManualClock } from "../../core/clock.ts";
import { callOk, callTool, connectMcp, errorText } from "../_helpers/mcp_client.ts";
import {
  signUp,
  signUpForMcp,
  startServer,
  type TestServer,
  withServer,
} from "../_helpers/server.ts";

const JSON_HEADERS = {
  "Content-Type": "application/json",
  Accept: "application/json, text/event-stream",
};
const INIT = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-11-25",
    capabilities: {},
    clientInfo: { name: "h", version: "1" },
  },
};

async function openSse(server: TestServer, path = "/open/sse", token?: string) {
  const res = await fetch(server.url + path, {
    headers: {
      Accept: "text/event-stream",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
  });
  if (res.status !== 200) {
    await res.body?.cancel();
    return { status: res.status, endpoint: "", reader: null };
  }
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/data: (.*)\n\n/.test(text)) text += (await reader.read()).value ?? "";
  return { status: 200, endpoint: /data: (.*)\n\n/.exec(text)![1], reader };
}

const rows = (server: TestServer) => server.store.rawQuery("SELECT * FROM mcp_sessions");

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), "condition never became true");
}

Deno.test("SSE posts: batches hold 1 to 100 messages", () =>
  withServer(async (server) => {
    const stream = await openSse(server);
    const post = (body: unknown) =>
      fetch(server.url + stream.endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    const ping = (id: number) => ({ jsonrpc: "2.0", id, method: "ping" });
    for (const body of [[], Array.from({ length: 101 }, (_, i) => ping(i))]) {
      const res = await post(body);
      assert.equal(res.status, 400);
      assert.equal((await res.json()).error.code, -32600);
    }
    const ok = await post(Array.from({ length: 100 }, (_, i) => ping(i)));
    assert.equal(ok.status, 202);
    await ok.body?.cancel();
    await stream.reader!.cancel();
  }));

Deno.test("SSE: a client that never reads its stream has it closed, not buffered without end", () =>
  withServer(async (server) => {
    const stream = await openSse(server);
    const batch = Array.from({ length: 100 }, (_, i) => ({
      jsonrpc: "2.0",
      id: i,
      method: "tools/list",
    }));
    for (let i = 0; i < 8 && rows(server).length > 0; i++) {
      const res = await fetch(server.url + stream.endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(batch),
      });
      await res.body?.cancel();
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor(() => rows(server).length === 0);
    await stream.reader!.cancel().catch(() => {});
  }, { env: { PENSIEVE_MCP_CALLS_PER_MINUTE: "100000" } }));

Deno.test("/open: every request counts against its address", () =>
  withServer(async (server) => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${server.url}/open/mcp`, {
        method: "POST",
        headers: { ...JSON_HEADERS, "MCP-Protocol-Version": "2025-11-25" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });
      await res.body?.cancel();
      statuses.push(res.status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
  }, { env: { PENSIEVE_MCP_CALLS_PER_MINUTE: "5" } }));

Deno.test("SSE: concurrent opens cannot exceed the per-user or per-address bound", () =>
  withServer(async (server) => {
    const { token } = await signUpForMcp(server);
    for (const [path, auth] of [["/open/sse", undefined], ["/sse", token]] as const) {
      const opened = await Promise.all(
        Array.from({ length: 20 }, () => openSse(server, path, auth)),
      );
      assert.equal(opened.filter((s) => s.status === 200).length, 2, path);
      for (const s of opened) await s.reader?.cancel();
    }
  }, { env: { PENSIEVE_SSE_STREAMS_PER_USER: "2" } }));

Deno.test("set_api_token: the sign-in ends when the token is revoked or signed out", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const pat = await (await server.call("/api/tokens", {
      method: "POST",
      token: account.token,
      json: { name: "chat" },
    })).json();
    for (const mode of ["legacy", "sse"] as const) {
      const client = await connectMcp(server, { mode, open: true });
      await callOk(client, "set_api_token", { token: pat.secret });
      await callOk(client, "list_conversations", {});
      await client.close();
    }
    const viaPat = await connectMcp(server, { mode: "legacy", open: true });
    await callOk(viaPat, "set_api_token", { token: pat.secret });
    const viaJwt = await connectMcp(server, { mode: "sse", open: true });
    const login = await (await server.call("/auth/login", {
      method: "POST",
      json: { email: account.email, password: account.password },
    })).json();
    await callOk(viaJwt, "set_api_token", { token: login.access_token });
    await callOk(viaJwt, "list_conversations", {});

    const revoked = await server.call(`/api/tokens/${pat.token.id}`, {
      method: "DELETE",
      token: account.token,
    });
    assert.equal(revoked.status, 204);
    assert.match(errorText(await callTool(viaPat, "list_conversations", {})), /Log in first/);

    const logout = await server.call("/auth/logout", { method: "POST", token: login.access_token });
    assert.equal(logout.status, 204);
    assert.match(errorText(await callTool(viaJwt, "list_conversations", {})), /Log in first/);
    await viaPat.close();
    await viaJwt.close();
  }));

Deno.test("sessions: a password sign-in lasts 30 days at most; an idle setting under a minute still extends", async () => {
  const clock = new ManualClock(Date.now());
  const server = await startServer({ clock, env: { PENSIEVE_MCP_SESSION_IDLE: "45" } });
  try {
    const account = await signUp(server);
    const client = await connectMcp(server, { mode: "legacy", open: true });
    await callOk(client, "mcp_login", { email: account.email, password: account.password });
    // Used every 20 s for longer than the idle time: still signed in.
    for (let i = 0; i < 6; i++) {
      clock.advance(20_000);
      await callOk(client, "list_conversations", {});
    }
    // Kept busy (a call every 40 s, simulated by moving the expiry), 30 days later it must sign
    // in again.
    let signedInFor = 0;
    for (let hours = 6; hours <= 31 * 24; hours += 6) {
      clock.advance(6 * 3_600_000);
      server.store.rawQuery("UPDATE mcp_sessions SET expires_at = ?", clock.now() + 45_000);
      if ((await callTool(client, "list_conversations", {})).isError) break;
      signedInFor = hours;
    }
    assert.ok(signedInFor >= 29 * 24 && signedInFor < 30 * 24, `signed in for ${signedInFor} h`);
    assert.match(errorText(await callTool(client, "list_conversations", {})), /Log in first/);
    await client.close();
  } finally {
    await server.close();
  }
});

Deno.test("sessions: unsigned /open sessions expire in minutes; a refused initialize stores none", async () => {
  const clock = new ManualClock(Date.now());
  const server = await startServer({ clock });
  try {
    const refused = await fetch(`${server.url}/open/mcp`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(INIT),
    });
    assert.equal(refused.status, 406);
    await refused.body?.cancel();
    assert.equal(rows(server).length, 0);
    const init = await fetch(`${server.url}/open/mcp`, {
      method: "POST",
      headers: JSON_HEADERS,
      body: JSON.stringify(INIT),
    });
    await init.body?.cancel();
    const [row] = rows(server);
    assert.ok(Number(row.expires_at) <= clock.now() + 10 * 60_000);
  } finally {
    await server.close();
  }
});

Deno.test("sessions: an SSE session id is not a Streamable HTTP session id", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const stream = await openSse(server);
    const sessionId = new URL(stream.endpoint, server.url).searchParams.get("sessionId")!;
    const res = await fetch(`${server.url}/open/mcp`, {
      method: "POST",
      headers: {
        ...JSON_HEADERS,
        "Mcp-Session-Id": sessionId,
        "MCP-Protocol-Version": "2025-11-25",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    });
    assert.equal(res.status, 404);
    await res.body?.cancel();
    void account;
    await stream.reader!.cancel();
  }));

Deno.test("/mcp: no listChanged promises, listen refused, empty batches refused, large 2025 bodies served", () =>
  withServer(async (server) => {
    const { token } = await signUpForMcp(server);
    const client = await connectMcp(server, { mode: "modern", token });
    const caps = client.getServerCapabilities()!;
    assert.equal(caps.tools?.listChanged, false);
    assert.equal(caps.resources?.listChanged, false);
    await client.close();

    const post = (body: unknown, version: string, extra: Record<string, string> = {}) =>
      fetch(`${server.url}/mcp`, {
        method: "POST",
        headers: {
          ...JSON_HEADERS,
          Authorization: `Bearer ${token}`,
          "MCP-Protocol-Version": version,
          ...extra,
        },
        body: JSON.stringify(body),
      });
    const listen = await post(
      {
        jsonrpc: "2.0",
        id: 9,
        method: "subscriptions/listen",
        params: {
          _meta: {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": { name: "x", version: "1" },
            "io.modelcontextprotocol/clientCapabilities": {},
          },
        },
      },
      "2026-07-28",
      { "Mcp-Method": "subscriptions/listen" },
    );
    const answer = await listen.json();
    assert.equal(answer.id, 9);
    assert.equal(answer.error.code, -32601);

    const empty = await post([], "2025-11-25");
    assert.equal(empty.status, 400);
    await empty.body?.cancel();

    // 5.4 MB: over the SDK's 4 MiB default, under Pensieve's 10 MiB body limit.
    const big = await post({
      jsonrpc: "2.0",
      id: 3,
      method: "tools/call",
      params: {
        name: "save_conversation",
        arguments: {
          messages: Array.from(
            { length: 6 },
            () => ({ role: "user", content: "x".repeat(900_000) }),
          ),
        },
      },
    }, "2025-11-25");
    const text = await big.text();
    assert.equal(big.status, 200, text.slice(0, 300));
    assert.ok(!text.includes('"isError":true'), text.slice(0, 300));
  }));
