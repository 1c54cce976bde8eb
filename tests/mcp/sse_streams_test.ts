import assert from "node:assert/strict";
import { connectMcp } from "../_helpers/mcp_client.ts";
import { signUpForMcp, startServer, type TestServer, withServer } from "../_helpers/server.ts";

/** Opens a raw SSE stream and reads until its endpoint event. */
async function openStream(server: TestServer, token?: string, path = "/sse") {
  const res = await fetch(server.url + path, {
    headers: {
      Accept: "text/event-stream",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
  });
  if (res.status !== 200) return { res, endpoint: null, reader: null };
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/event: endpoint\ndata: (.*)\n\n/.test(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  const endpoint = /event: endpoint\ndata: (.*)\n\n/.exec(text)![1];
  return { res, endpoint, reader };
}

async function waitFor(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), "condition never became true");
}

const sessionRows = (server: TestServer) => server.store.rawQuery("SELECT * FROM mcp_sessions");

Deno.test("SSE: endpoint event, keep-alive comments, clean teardown when the client goes", () =>
  withServer(async (server) => {
    const { token } = await signUpForMcp(server);
    const stream = await openStream(server, token);
    assert.equal(stream.res.headers.get("Content-Type"), "text/event-stream");
    assert.match(stream.endpoint!, /^\/messages\?sessionId=[A-Za-z0-9_-]{43}$/);
    assert.equal(sessionRows(server).length, 1);
    const { value } = await stream.reader!.read();
    assert.equal(value, ": keep-alive\n\n");
    await stream.reader!.cancel();
    await waitFor(() => sessionRows(server).length === 0);
  }, { env: { PENSIEVE_SSE_KEEPALIVE: "1" } }));

Deno.test("SSE: open streams are bounded per user, and per address on /open", () =>
  withServer(async (server) => {
    const a = await signUpForMcp(server);
    const b = await signUpForMcp(server);
    const held = [await openStream(server, a.token), await openStream(server, a.token)];
    const third = await openStream(server, a.token);
    assert.equal(third.res.status, 429);
    assert.ok(Number(third.res.headers.get("Retry-After")) > 0);
    assert.equal((await third.res.json()).error.code, "too_many_requests");
    const other = await openStream(server, b.token);
    assert.equal(other.res.status, 200, "another user has their own allowance");

    const open = [await openStream(server, undefined, "/open/sse")];
    open.push(await openStream(server, undefined, "/open/sse"));
    const over = await openStream(server, undefined, "/open/sse");
    assert.equal(over.res.status, 429);
    await over.res.body?.cancel();

    await held[0].reader!.cancel();
    await waitFor(() => sessionRows(server).length === 4);
    const again = await openStream(server, a.token);
    assert.equal(again.res.status, 200, "a closed stream frees its place");
    for (const s of [held[1], again, other, ...open]) await s.reader!.cancel();
  }, { env: { PENSIEVE_SSE_STREAMS_PER_USER: "2" } }));

Deno.test("SSE: POST /messages for a stream this instance does not hold says affinity is needed", async () => {
  const one = await startServer();
  const two = await startServer({ env: { PENSIEVE_DB: `sqlite:${one.dbPath}` } });
  try {
    const { token } = await signUpForMcp(one);
    const stream = await openStream(one, token);
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" });
    const headers = { "Content-Type": "application/json", Authorization: `Bearer ${token}` };
    const elsewhere = await fetch(two.url + stream.endpoint, { method: "POST", headers, body });
    assert.equal(elsewhere.status, 404);
    assert.match((await elsewhere.json()).error.message, /session affinity/);
    const unknown = await fetch(`${one.url}/messages?sessionId=nope`, {
      method: "POST",
      headers,
      body,
    });
    assert.equal(unknown.status, 404);
    assert.match((await unknown.json()).error.message, /session affinity/);
    const here = await fetch(one.url + stream.endpoint, { method: "POST", headers, body });
    assert.equal(here.status, 202);
    await here.body?.cancel();
    const garbage = await fetch(one.url + stream.endpoint, { method: "POST", headers, body: "{" });
    assert.equal(garbage.status, 400);
    await garbage.body?.cancel();
    // Another user's credential cannot post into this stream.
    const other = await signUpForMcp(one);
    const foreign = await fetch(one.url + stream.endpoint, {
      method: "POST",
      headers: { ...headers, Authorization: `Bearer ${other.token}` },
      body,
    });
    assert.equal(foreign.status, 404);
    await foreign.body?.cancel();
    await stream.reader!.cancel();
  } finally {
    await two.close();
    await one.close();
  }
});

Deno.test("SSE: draining closes open streams and refuses new ones", () =>
  withServer(async (server) => {
    const { token } = await signUpForMcp(server);
    const client = await connectMcp(server, { mode: "sse", token });
    assert.equal(sessionRows(server).length, 1);
    server.app.startDraining();
    await server.app.closeStreams();
    await waitFor(() => sessionRows(server).length === 0);
    const refused = await openStream(server, token);
    assert.equal(refused.res.status, 503);
    await refused.res.body?.cancel();
    await client.close();
  }));
