import assert from "node:assert/strict";
import { callOk, callTool, connectMcp } from "../_helpers/mcp_client.ts";
import { signUp, signUpForMcp, type TestServer, withServer } from "../_helpers/server.ts";

const TOKEN = "scrape-token-0123456789abcdef";

async function scrape(server: TestServer): Promise<string> {
  const res = await server.call("/metrics", { token: TOKEN });
  assert.equal(res.status, 200);
  return await res.text();
}

/** The value of one series, `name{a="b",…}`, with labels in any order; 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return 0;
}

Deno.test("/metrics does not exist unless PENSIEVE_METRICS_TOKEN is set", () =>
  withServer(async (server) => {
    for (const token of [undefined, TOKEN]) {
      const res = await server.call("/metrics", { token });
      await res.body?.cancel();
      assert.equal(res.status, 404);
    }
  }));

Deno.test("/metrics wants the configured bearer token: 401 without it or with a wrong one", () =>
  withServer(async (server) => {
    for (
      const authorization of [
        undefined,
        `Bearer ${TOKEN}x`,
        `Bearer ${TOKEN.slice(0, -1)}`,
        "Bearer wrong",
        `Basic ${btoa(`metrics:${TOKEN}`)}`,
        TOKEN,
      ]
    ) {
      const headers: Record<string, string> = authorization ? { Authorization: authorization } : {};
      const res = await server.call("/metrics", { headers });
      const body = await res.text();
      assert.equal(res.status, 401, String(authorization));
      assert.match(res.headers.get("WWW-Authenticate") ?? "", /^Bearer/);
      assert.ok(!body.includes("pensieve_"), "no metrics in a refusal");
    }
  }, { env: { PENSIEVE_METRICS_TOKEN: TOKEN } }));

Deno.test("/metrics with the token: Prometheus text whose counters follow the requests", () =>
  withServer(async (server) => {
    const first = await server.call("/metrics", { token: TOKEN });
    assert.equal(first.status, 200);
    assert.match(first.headers.get("Content-Type") ?? "", /^text\/plain; version=0\.0\.4/);
    assert.equal(first.headers.get("Cache-Control"), "no-store");
    const before = await first.text();
    assert.match(before, /^# HELP pensieve_http_requests_total /m);
    assert.match(before, /^# TYPE pensieve_http_requests_total counter$/m);
    assert.match(before, /^# TYPE pensieve_http_request_duration_seconds histogram$/m);
    assert.equal(sample(before, "pensieve_store_info", { kind: "sqlite" }), 1);
    assert.equal(sample(before, "pensieve_build_info", { deno: Deno.version.deno }), 1);
    assert.ok(sample(before, "process_resident_memory_bytes") > 0);
    assert.ok(sample(before, "pensieve_heap_used_bytes") > 0);
    assert.equal(sample(before, "pensieve_http_requests_in_flight"), 1, "the scrape itself");

    const created = { route: "/api/conversations", method: "POST", status_class: "2xx" };
    const refused = { route: "/api/conversations/:id", method: "GET", status_class: "4xx" };
    const { token } = await signUp(server);
    let id = "";
    for (let i = 0; i < 3; i++) {
      const res = await server.call("/api/conversations", {
        method: "POST",
        token,
        json: { title: `n${i}`, messages: [{ role: "user", content: "hello" }] },
      });
      assert.equal(res.status, 201);
      id = (await res.json()).conversation.id;
    }
    for (let i = 0; i < 2; i++) {
      const res = await server.call(`/api/conversations/${crypto.randomUUID()}`, { token });
      await res.body?.cancel();
      assert.equal(res.status, 404);
    }

    const mcpUser = await signUpForMcp(server);
    const client = await connectMcp(server, { mode: "legacy", token: mcpUser.token });
    await callOk(client, "list_conversations");
    await callOk(client, "list_conversations");
    const missing = await callTool(client, "load_conversation", {
      conversation_id: crypto.randomUUID(),
    });
    assert.equal(missing.isError, true);
    await client.close();

    const after = await scrape(server);
    const delta = (name: string, labels: Record<string, string>) =>
      sample(after, name, labels) - sample(before, name, labels);
    assert.equal(delta("pensieve_http_requests_total", created), 3);
    assert.equal(delta("pensieve_http_requests_total", refused), 2);
    assert.equal(
      delta("pensieve_http_request_duration_seconds_count", {
        route: created.route,
        method: "POST",
      }),
      3,
    );
    assert.equal(
      sample(after, "pensieve_http_request_duration_seconds_bucket", {
        route: created.route,
        method: "POST",
        le: "+Inf",
      }),
      3,
    );
    assert.equal(delta("pensieve_mcp_sessions_started_total", { transport: "streamable" }), 1);
    assert.equal(
      delta("pensieve_mcp_tool_calls_total", { tool: "list_conversations", outcome: "ok" }),
      2,
    );
    assert.equal(
      delta("pensieve_mcp_tool_calls_total", { tool: "load_conversation", outcome: "error" }),
      1,
    );
    assert.ok(delta("pensieve_http_requests_total", { route: "/mcp", status_class: "2xx" }) >= 3);
    assert.equal(sample(after, "pensieve_http_requests_in_flight"), 1);
    assert.ok(!after.includes(id), "labels hold route patterns, never ids");
  }, { env: { PENSIEVE_METRICS_TOKEN: TOKEN } }));

Deno.test("an import job is counted as started and finished", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const created = await server.call("/api/import/jobs", { method: "POST", token });
    assert.equal(created.status, 201);
    const job = (await created.json()).job;
    const put = await server.call(`/api/import/jobs/${job.id}`, {
      method: "PUT",
      token,
      body: "this is not an export",
    });
    await put.body?.cancel();
    const text = await scrape(server);
    assert.equal(sample(text, "pensieve_import_jobs_started_total"), 1);
    assert.equal(sample(text, "pensieve_import_jobs_finished_total", { status: "failed" }), 1);
    assert.equal(sample(text, "pensieve_import_jobs_running"), 0);
  }, { env: { PENSIEVE_METRICS_TOKEN: TOKEN } }));
