/**
 * `deno task bench:mcp`: MCP `tools/call` throughput (load_conversation, search_conversations)
 * measured with autocannon next to a bare Hono "hello" route on the same server process, in the
 * same run. The server (createApp on a temp SQLite file) runs in this process; autocannon runs
 * in a child process (this file with `--client`), so client and server do not share an event loop.
 *
 * Sizes from BENCH_CONVERSATIONS (default 250), BENCH_PER_CONVERSATION (default 20),
 * BENCH_CONNECTIONS (default 10), BENCH_DURATION (seconds, default 10), BENCH_WARMUP (seconds,
 * default 2), BENCH_MCP_MODES (default "json,sse") and BENCH_SQLITE_SYNCHRONOUS (default FULL,
 * the production default; NORMAL only to see what the per-call durable write costs).
 */
import { Hono } from "hono";
import { type App, createApp } from "../app.ts";
import { parseConfig } from "../config.ts";
import { systemClock } from "../core/clock.ts";
import { SqliteStore } from "../db/sqlite/store.ts";
import { seedUsers } from "./seed_users.ts";
import { corpus, MARKERS } from "./corpus.ts";

const CONVERSATIONS = Number(Deno.env.get("BENCH_CONVERSATIONS") ?? 250);
const PER_CONVERSATION = Number(Deno.env.get("BENCH_PER_CONVERSATION") ?? 20);
const CONNECTIONS = Number(Deno.env.get("BENCH_CONNECTIONS") ?? 10);
const DURATION = Number(Deno.env.get("BENCH_DURATION") ?? 10);
const WARMUP = Number(Deno.env.get("BENCH_WARMUP") ?? 2);
const MODES = (Deno.env.get("BENCH_MCP_MODES") ?? "json,sse").split(",").map((s) => s.trim())
  .filter((m): m is "json" | "sse" => m === "json" || m === "sse");
const SYNCHRONOUS = (Deno.env.get("BENCH_SQLITE_SYNCHRONOUS") ?? "FULL").toUpperCase() === "NORMAL"
  ? "NORMAL"
  : "FULL";
const T0 = Date.UTC(2026, 0, 1);
const TOKEN = "psv_bench-token-bench-token-bench-token-bench";
const PROTOCOL_VERSION = "2025-11-25";
const HELLO = "hello, same app";

/** One autocannon run, as the client process is asked for it. */
interface Target {
  url: string;
  method: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  /** A response body must include this (and no `"isError":true`) to count as a success. */
  expect: string;
  connections: number;
  duration: number;
  warmup: number;
}

/** What the client process reports back. */
interface Measured {
  requestsPerSecond: number;
  total: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  mismatches: number;
}

// ---------------------------------------------------------------------------------------------
// Client side: `deno run --allow-all bench/mcp.ts --client`, the target as JSON on stdin.

async function runClient(): Promise<void> {
  const { default: autocannon } = await import("autocannon");
  const target: Target = JSON.parse(await new Response(Deno.stdin.readable).text());
  const result = await autocannon({
    url: target.url,
    method: target.method,
    headers: target.headers,
    body: target.body,
    connections: target.connections,
    duration: target.duration,
    ...(target.warmup > 0 &&
      { warmup: { connections: target.connections, duration: target.warmup } }),
    verifyBody: (body: string) => body.includes(target.expect) && !body.includes('"isError":true'),
  });
  const measured: Measured = {
    requestsPerSecond: result.requests.average,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
  };
  console.log(JSON.stringify(measured));
}

async function measure(target: Target): Promise<Measured> {
  const root = new URL("../", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "bench/mcp.ts", "--client"],
    cwd: root,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(target)));
  await writer.close();
  const output = await child.output();
  const text = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) throw new Error(`autocannon client failed (${output.code}): ${text}`);
  return JSON.parse(text.split("\n").at(-1)!);
}

// ---------------------------------------------------------------------------------------------
// Server side.

interface Seeded {
  conversationId: string;
  messages: number;
  matches: number;
}

/** One user with CONVERSATIONS × PER_CONVERSATION messages, another with a tenth as many. */
async function seed(path: string): Promise<Seeded> {
  const store = new SqliteStore({ path, synchronous: "NORMAL" });
  const text = corpus(42);
  const users = await seedUsers(store, TOKEN, T0);
  let conversationId = "";
  let messages = 0;
  let matches = 0;
  const plan = [[users[0], CONVERSATIONS], [users[1], Math.ceil(CONVERSATIONS / 10)]] as const;
  for (const [u, [userId, count]] of plan.entries()) {
    for (let c = 0; c < count; c++) {
      const contents = Array.from({ length: PER_CONVERSATION }, () => text.message());
      const conversation = await store.createConversation(userId, {
        id: crypto.randomUUID(),
        title: contents[0].split(" ").slice(0, 6).join(" "),
        tags: [],
        source: "bench",
        metadata: {},
        messages: contents.map((content, i) => ({
          role: i % 2 ? "assistant" as const : "user" as const,
          content,
        })),
        now: T0 + c * 1000,
      });
      if (u === 0) {
        messages += contents.length;
        matches += contents.filter((m) => m.split(" ").includes(MARKERS.medium.word)).length;
        if (c === Math.floor(count / 2)) conversationId = conversation.id;
      }
    }
  }
  await store.close();
  return { conversationId, messages, matches };
}

function toolCall(name: string, args: Record<string, unknown>): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "tools/call",
    params: { name, arguments: args },
  });
}

const MCP_HEADERS = {
  "Content-Type": "application/json",
  Accept: "application/json, text/event-stream",
  "MCP-Protocol-Version": PROTOCOL_VERSION,
  Authorization: `Bearer ${TOKEN}`,
};

/** One request through fetch, to be sure the route answers what the benchmark expects. */
async function check(target: Target): Promise<string> {
  const res = await fetch(target.url, {
    method: target.method,
    headers: target.headers,
    body: target.body,
  });
  const text = await res.text();
  const type = res.headers.get("content-type") ?? "";
  const fail = (why: string) => new Error(`${target.url}: ${why}: ${res.status} ${type}\n${text}`);
  if (res.status !== 200 || !text.includes(target.expect) || text.includes('"isError":true')) {
    throw fail("unexpected answer");
  }
  let detail = "";
  if (target.method === "POST") {
    // A JSON body, or an SSE stream whose one event carries the JSON-RPC response.
    const json = type.includes("text/event-stream")
      ? text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5)).join("")
      : text;
    const data = JSON.parse(json)?.result?.structuredContent;
    const items = data?.messages ?? data?.results;
    if (!Array.isArray(items) || items.length === 0) throw fail("no messages or results");
    detail = `, ${items.length} ${data.messages ? "messages" : "results"}`;
  }
  return `${res.status} ${type}, ${text.length} bytes${detail}`;
}

interface Row {
  label: string;
  result: Measured;
}

function fmt(n: number, digits = 2): string {
  return n.toFixed(digits);
}

/** autocannon records latency in whole milliseconds. */
function latency(ms: number): string {
  return ms < 1 ? "<1" : String(ms);
}

async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-bench-mcp-" });
  const path = `${dir}/pensieve.db`;
  const servers: Deno.HttpServer[] = [];
  const apps: App[] = [];
  const started = performance.now();
  const stop = async () => {
    for (const app of apps.splice(0)) await app.closeStreams();
    for (const server of servers.splice(0)) await server.shutdown();
  };
  try {
    const seeded = await seed(path);
    console.log(
      `seeded ${seeded.messages} messages in ${CONVERSATIONS} conversations (+${
        Math.ceil(CONVERSATIONS / 10) * PER_CONVERSATION
      } for a second user) in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
        `"${MARKERS.medium.word}" is in ${seeded.matches} of them`,
    );
    // The production default synchronous=FULL, as `deno task start` would open it.
    const store = new SqliteStore({ path, synchronous: SYNCHRONOUS });
    const serve = (
      fetch: (request: Request, remoteAddr: Deno.NetAddr) => Response | Promise<Response>,
    ) => {
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        (request, info) => fetch(request, info.remoteAddr),
      );
      servers.push(server);
      return `http://127.0.0.1:${server.addr.port}`;
    };
    // One app per MCP response mode, on the same store, in this one server process.
    const urls: Record<string, string> = {};
    for (const mode of ["json", "sse"] as const) {
      const config = parseConfig({
        PENSIEVE_DB: `sqlite:${path}`,
        PENSIEVE_JWT_SECRET: "bench-secret-bench-secret-bench-secret",
        PENSIEVE_MCP_CALLS_PER_MINUTE: "1000000",
        PENSIEVE_MCP_SESSIONS_PER_MINUTE: "1000000",
        // "auto" is the default, and answers a 2025-era tools/call with an SSE stream.
        PENSIEVE_MCP_RESPONSE_MODE: mode === "json" ? "json" : "auto",
      });
      // Log lines are formatted as in production but not written: they would flood the report.
      const app = await createApp({ config, store, clock: systemClock, logSink: () => {} });
      apps.push(app);
      // Bench only: the baseline route, behind the same global middleware as every route.
      app.hono.get("/bench/hello", (c) => c.text("hello"));
      urls[mode] = serve((request, remoteAddr) => app.hono.fetch(request, { remoteAddr }));
    }
    // For context: a Hono app with nothing but the route, no middleware.
    const bare = new Hono();
    bare.get("/bench/hello", (c) => c.text("hello"));
    const bareUrl = serve((request) => bare.fetch(request));

    const common = { connections: CONNECTIONS, duration: DURATION, warmup: WARMUP };
    const hello: Target = {
      url: `${urls.json}/bench/hello`,
      method: "GET",
      expect: "hello",
      ...common,
    };
    const mcp = (mode: string, body: string, expect: string): Target => ({
      url: `${urls[mode]}/mcp`,
      method: "POST",
      headers: MCP_HEADERS,
      body,
      expect,
      ...common,
    });
    const load = toolCall("load_conversation", {
      conversation_id: seeded.conversationId,
      last_n: 20,
    });
    const search = toolCall("search_conversations", { query: MARKERS.medium.word });
    // The baseline runs before and after every other row, so each row is compared with the
    // hello runs on either side of it: on a noisy machine, drift then touches both alike.
    const bareHello: Target = { ...hello, url: `${bareUrl}/bench/hello` };
    const measured: [string, Target][] = [["hello, Hono app without middleware", bareHello]];
    for (const mode of MODES) {
      measured.push(
        [`MCP load_conversation last_n=20, ${mode}`, mcp(mode, load, '"structuredContent"')],
        [`MCP search_conversations, ${mode}`, mcp(mode, search, '"structuredContent"')],
      );
    }
    const scenarios: [string, Target][] = [[HELLO, hello]];
    for (const entry of measured) scenarios.push(entry, [HELLO, hello]);

    console.log(
      `autocannon: ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s per row; ` +
        `SQLite synchronous=${SYNCHRONOUS}`,
    );
    for (const [label, target] of [[HELLO, hello], ...measured] as const) {
      console.log(`  check ${label}: ${await check(target)}`);
    }
    const rows: Row[] = [];
    for (const [label, target] of scenarios) {
      const result = await measure(target);
      rows.push({ label, result });
      console.log(
        `  ${label}: ${fmt(result.requestsPerSecond, 0)} req/s, p50 ${
          latency(result.p50)
        } ms, p99 ${latency(result.p99)} ms`,
      );
    }
    const hellos = rows.filter((r) => r.label === HELLO).map((r) => r.result.requestsPerSecond);
    const ratios = rows.map((row, i) => {
      if (row.label === HELLO) return null;
      const around = (rows[i - 1].result.requestsPerSecond + rows[i + 1].result.requestsPerSecond) /
        2;
      return { around, ratio: row.result.requestsPerSecond / around };
    });

    console.log(
      `\nThroughput; ÷ hello = requests/s ÷ mean of the hello runs just before and after it. ` +
        `Hello runs: ${hellos.map((h) => fmt(h, 0)).join(", ")} req/s.`,
    );
    console.log(
      "| request | requests/s | p50 ms | p99 ms | hello around | ÷ hello | non-2xx / errors / bad body |",
    );
    console.log("|---|---:|---:|---:|---:|---:|---:|");
    rows.forEach(({ label, result: r }, i) => {
      if (label === HELLO) return;
      const { around, ratio } = ratios[i]!;
      console.log(
        `| ${label} | ${fmt(r.requestsPerSecond, 0)} | ${latency(r.p50)} | ${latency(r.p99)} | ${
          fmt(around, 0)
        } | ${fmt(ratio)} | ${r.non2xx} / ${r.errors + r.timeouts} / ${r.mismatches} |`,
      );
    });
    const failures = rows.reduce(
      (n, { result: r }) => n + r.non2xx + r.errors + r.timeouts + r.mismatches,
      0,
    );
    console.log(
      failures
        ? `${failures} requests failed or answered an unexpected body`
        : "every request answered 200 with the expected body",
    );
    const mcpRatios = ratios.filter((r, i) => r && rows[i].label.startsWith("MCP"));
    const worst = Math.min(...mcpRatios.map((r) => r!.ratio));
    console.log(
      `goal (every MCP tools/call row ≥ 0.30 × hello): ${worst >= 0.3 ? "met" : "not met"}, ` +
        `lowest ratio ${fmt(worst)}`,
    );
    await Deno.mkdir("bench/results", { recursive: true });
    const file = `bench/results/mcp-throughput-${
      new Date().toISOString().replaceAll(":", "-")
    }.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify(
        {
          conversations: CONVERSATIONS,
          perConversation: PER_CONVERSATION,
          connections: CONNECTIONS,
          duration: DURATION,
          warmup: WARMUP,
          synchronous: SYNCHRONOUS,
          rows: rows.map((row, i) => ({ ...row, ...ratios[i] })),
        },
        null,
        2,
      ),
    );
    console.log(`\nwrote ${file}`);
    await stop();
    await store.close();
  } finally {
    await stop();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  if (Deno.args.includes("--client")) await runClient();
  else await main();
}
