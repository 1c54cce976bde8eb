/**
 * `deno task bench:cost`: what one request costs the server when nothing else runs, in process:
 * the whole app (createApp on a temp SQLite file, synchronous=FULL) called through
 * `app.hono.fetch` one request at a time, no HTTP, so the figure is the app's own work plus the
 * time it waits on async work (WebCrypto, timers). Rows are interleaved round by round.
 * BENCH_REQUESTS (2000 per row and round), BENCH_ROUNDS (3), BENCH_ROWS (only the rows whose
 * label contains it). For where the time goes, run it with `deno run --allow-all --cpu-prof`.
 */
import { createApp } from "../app.ts";
import { parseConfig } from "../config.ts";
import { systemClock } from "../core/clock.ts";
import { SqliteStore } from "../db/sqlite/store.ts";
import { corpus, MARKERS } from "./corpus.ts";
import { seedConversations } from "./seed_conversations.ts";
import { seedUsers } from "./seed_users.ts";

const REQUESTS = Number(Deno.env.get("BENCH_REQUESTS") ?? 2000);
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
const ONLY = Deno.env.get("BENCH_ROWS");
const TOKEN = "psv_bench-token-bench-token-bench-token-bench";
const SECRET = "bench-secret-bench-secret-bench-secret";
const ORIGIN = "http://127.0.0.1:8000";
const T0 = Date.UTC(2026, 0, 1);

async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-bench-cost-" });
  const path = `${dir}/pensieve.db`;
  try {
    const seeding = new SqliteStore({ path, synchronous: "NORMAL" });
    const [userId] = await seedUsers(seeding, TOKEN, T0);
    const text = corpus(42);
    await seedConversations(seeding, userId, { count: 1000, perConversation: 10, text, from: T0 });
    const [longId] = await seedConversations(seeding, userId, {
      count: 1,
      perConversation: 100,
      text,
      from: T0 + 1000 * 1000,
    });
    await seeding.close();

    const config = parseConfig({
      PENSIEVE_DB: `sqlite:${path}`,
      PENSIEVE_JWT_SECRET: SECRET,
      PENSIEVE_PUBLIC_URL: ORIGIN,
      PENSIEVE_MCP_CALLS_PER_MINUTE: "1000000",
      PENSIEVE_MCP_RESPONSE_MODE: "json",
    });
    config.jwtSecret = new TextEncoder().encode(SECRET);
    const store = new SqliteStore({ path });
    // Log lines are made as in production, and dropped.
    const app = await createApp({ config, store, clock: systemClock, logSink: () => {} });
    const remoteAddr = { transport: "tcp" as const, hostname: "127.0.0.1", port: 40000 };
    const auth = { Authorization: `Bearer ${TOKEN}` };
    const mcp = (name: string, args: Record<string, unknown>) => () =>
      new Request(`${ORIGIN}/mcp`, {
        method: "POST",
        headers: {
          ...auth,
          // A Request made in process has no Host header unless it is given one.
          Host: "127.0.0.1:8000",
          "Content-Type": "application/json",
          Accept: "application/json, text/event-stream",
          "MCP-Protocol-Version": "2025-11-25",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "tools/call",
          params: { name, arguments: args },
        }),
      });
    const all: [string, () => Request][] = [
      ["GET /healthz", () => new Request(`${ORIGIN}/healthz`)],
      ["GET /auth/me (personal token)", () => new Request(`${ORIGIN}/auth/me`, { headers: auth })],
      [
        "REST load, last 20 of 100",
        () =>
          new Request(`${ORIGIN}/api/conversations/${longId}?last=true&limit=20`, {
            headers: auth,
          }),
      ],
      [
        `REST search "${MARKERS.medium.word}"`,
        () => new Request(`${ORIGIN}/api/search?q=${MARKERS.medium.word}`, { headers: auth }),
      ],
      [
        "MCP load_conversation last_n=20",
        mcp("load_conversation", { conversation_id: longId, last_n: 20 }),
      ],
      [
        `MCP search_conversations "${MARKERS.medium.word}"`,
        mcp("search_conversations", { query: MARKERS.medium.word }),
      ],
    ];
    // The baseline stays, whatever is chosen.
    const rows = all.filter(([label]) => !ONLY || label === "GET /healthz" || label.includes(ONLY));
    const call = async (make: () => Request) => {
      const res = await app.hono.fetch(make(), { remoteAddr });
      const body = await res.text();
      if (res.status !== 200 || body.includes('"isError":true')) {
        throw new Error(`${res.status} ${body.slice(0, 200)}`);
      }
    };
    for (const [, make] of rows) for (let i = 0; i < 200; i++) await call(make);
    const results: Record<string, number[]> = Object.fromEntries(rows.map(([l]) => [l, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [label, make] of rows) {
        const started = performance.now();
        for (let i = 0; i < REQUESTS; i++) await call(make);
        results[label].push(((performance.now() - started) * 1000) / REQUESTS);
      }
    }
    console.log(
      `in process, one request at a time, ${REQUESTS} per row and round, ${ROUNDS} rounds; ` +
        `load average ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`,
    );
    console.log("| request | µs per request, each round | ÷ GET /healthz (medians) |");
    console.log("|---|---:|---:|");
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
    const base = median(results["GET /healthz"]);
    for (const [label] of rows) {
      console.log(
        `| ${label} | ${results[label].map((v) => v.toFixed(0)).join(", ")} | ${
          (median(results[label]) / base).toFixed(1)
        } |`,
      );
    }
    await app.closeStreams();
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
