import assert from "node:assert/strict";
import type { LogLevel } from "../../core/logger.ts";
import { callOk, connectMcp } from "../_helpers/mcp_client.ts";
import { signUp, signUpForMcp, withServer } from "../_helpers/server.ts";

/** Every line the server logs, as written, and its level. */
function captureLogs() {
  const lines: { line: string; level: LogLevel }[] = [];
  return {
    lines,
    sink: (line: string, level: LogLevel) => lines.push({ line, level }),
    // deno-lint-ignore no-explicit-any
    json: (): any[] => lines.map(({ line }) => JSON.parse(line)),
  };
}

const PASSWORD = "hunter2-correct-horse-battery";
const MESSAGE_TEXT = "my bank PIN is 4711 and my dog is called Sprocket";
const QUERY_WORD = "Sprocketquery";

Deno.test("one JSON line per request: request id, method, route pattern, status, latency, user tag; never a secret", async () => {
  const logs = captureLogs();
  await withServer(async (server) => {
    const account = await signUp(server, PASSWORD);
    const login = await server.call("/auth/login", {
      method: "POST",
      json: { email: account.email, password: PASSWORD },
    });
    assert.equal(login.status, 200);
    const token = (await login.json()).access_token as string;

    const saved = await server.call("/api/conversations?source=secret-in-query", {
      method: "POST",
      token,
      json: { title: "Private", messages: [{ role: "user", content: MESSAGE_TEXT }] },
    });
    assert.equal(saved.status, 201);
    const conversationId = (await saved.json()).conversation.id as string;

    logs.lines.length = 0;
    const read = await server.call(`/api/conversations/${conversationId}`, {
      token,
      headers: { "X-Request-Id": "trace-abc.123" },
    });
    assert.equal(read.status, 200);
    await read.body?.cancel();
    assert.equal(read.headers.get("X-Request-Id"), "trace-abc.123", "a sane id is echoed");

    const [line] = logs.json();
    assert.equal(logs.lines.length, 1, "one line for one request");
    assert.equal(logs.lines[0].level, "info");
    assert.equal(line.msg, "request");
    assert.equal(line.request_id, "trace-abc.123");
    assert.equal(line.method, "GET");
    assert.equal(line.route, "/api/conversations/:id", "the pattern, not the path with the id");
    assert.equal(line.status, 200);
    assert.equal(typeof line.latency_ms, "number");
    assert.ok(line.latency_ms >= 0);
    assert.match(line.user, /^[A-Za-z0-9_-]{16}$/, "a keyed tag of the user");
    assert.ok(!Number.isNaN(Date.parse(line.time)));
    const userTag = line.user;

    // The same user over MCP carries the same tag, so lines correlate across surfaces.
    const mcpAccount = await signUpForMcp(server);
    logs.lines.length = 0;
    const client = await connectMcp(server, { mode: "modern", token: mcpAccount.token });
    await callOk(client, "search_conversations", { query: QUERY_WORD });
    await client.close();
    const mcpLines = logs.json().filter((l) => l.route === "/mcp");
    assert.ok(mcpLines.length > 0);
    assert.ok(mcpLines.every((l) => typeof l.user === "string" && l.user !== userTag));
    assert.equal(new Set(mcpLines.map((l) => l.user)).size, 1, "one tag per user");

    // An id that is not sane is replaced by a fresh one, which the response names.
    logs.lines.length = 0;
    const odd = await server.call("/healthz", { headers: { "X-Request-Id": "<script> x" } });
    await odd.body?.cancel();
    const fresh = odd.headers.get("X-Request-Id") ?? "";
    assert.match(fresh, /^[0-9a-f-]{36}$/);

    // Unknown paths are one label, and a failed sign-in is a 401 line without the user.
    logs.lines.length = 0;
    const missing = await server.call(`/no/such/${conversationId}`);
    await missing.body?.cancel();
    const denied = await server.call("/api/search?q=" + QUERY_WORD, { token: "not-a-token" });
    await denied.body?.cancel();
    const [missingLine, deniedLine] = logs.json();
    assert.deepEqual([missingLine.route, missingLine.status], ["unmatched", 404]);
    assert.deepEqual([deniedLine.route, deniedLine.status], ["/api/search", 401]);
    assert.equal(deniedLine.user, undefined);

    const all = logs.lines.map(({ line }) => line).join("\n");
    const everything = [all, ...logs.lines.map((l) => l.line)].join("\n");
    for (
      const secret of [
        PASSWORD,
        token,
        mcpAccount.token,
        "not-a-token",
        MESSAGE_TEXT,
        "Sprocket",
        QUERY_WORD,
        "secret-in-query",
        account.email,
        account.userId,
        conversationId,
      ]
    ) {
      assert.ok(!everything.includes(secret), `logs must not contain ${secret}`);
    }
  }, { logSink: logs.sink });

  // Across the whole run, from registration on: no secret in any line.
  const whole = logs.lines.map(({ line }) => line).join("\n");
  for (const secret of [PASSWORD, MESSAGE_TEXT, "Sprocket", QUERY_WORD, "secret-in-query"]) {
    assert.ok(!whole.includes(secret), `logs must not contain ${secret}`);
  }
  assert.ok(!/Bearer|authorization|password/i.test(whole), "no credential field names either");
});

Deno.test("an unexpected error logs its stack with the request id; the client sees neither", async () => {
  const logs = captureLogs();
  await withServer(async (server) => {
    server.app.hono.get("/test/explode", () => {
      throw new Error("kaboom in a handler");
    });
    const res = await server.call("/test/explode", { headers: { "X-Request-Id": "boom-1" } });
    assert.equal(res.status, 500);
    const body = await res.text();
    assert.ok(!body.includes("kaboom") && !body.includes("at "), "no message or stack shown");
    assert.equal(res.headers.get("X-Request-Id"), "boom-1");

    const lines = logs.json();
    const error = lines.find((l) => l.msg === "unhandled error");
    assert.ok(error, "the error mapper logged it");
    assert.equal(error.level, "error");
    assert.equal(error.request_id, "boom-1");
    assert.equal(error.error_message, "kaboom in a handler");
    assert.match(error.stack, /request_logs_test\.ts/);
    const request = lines.find((l) => l.msg === "request");
    assert.deepEqual(
      [request.request_id, request.route, request.status, request.level],
      ["boom-1", "/test/explode", 500, "error"],
    );
  }, { logSink: logs.sink });
});

Deno.test("text format and level: PENSIEVE_LOG_FORMAT=text writes key=value lines; probes are debug", async () => {
  const logs = captureLogs();
  await withServer(async (server) => {
    const health = await server.call("/healthz");
    await health.body?.cancel();
    assert.equal(logs.lines.length, 0, "a successful probe is not logged at info");
    const res = await server.call("/api/conversations");
    await res.body?.cancel();
    assert.equal(logs.lines.length, 1);
    const [{ line }] = logs.lines;
    assert.match(line, /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}request /);
    assert.match(line, / method=GET route=\/api\/conversations status=401 latency_ms=[\d.]+/);
    assert.match(line, / request_id=[0-9a-f-]{36}/);
  }, { env: { PENSIEVE_LOG_FORMAT: "text" }, logSink: logs.sink });

  const debug = captureLogs();
  await withServer(async (server) => {
    const health = await server.call("/healthz");
    await health.body?.cancel();
    assert.equal(debug.json()[0].route, "/healthz");
    assert.equal(debug.json()[0].level, "debug");
  }, { env: { PENSIEVE_LOG_LEVEL: "debug" }, logSink: debug.sink });

  const quiet = captureLogs();
  await withServer(async (server) => {
    const res = await server.call("/api/conversations");
    await res.body?.cancel();
    assert.equal(quiet.lines.length, 0, "warn hides a 401 request line");
  }, { env: { PENSIEVE_LOG_LEVEL: "warn" }, logSink: quiet.sink });
});
