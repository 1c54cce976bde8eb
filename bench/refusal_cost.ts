/**
 * `deno task bench:refusal`: what it costs the server to say no. Under overload every refusal is
 * paid for with time taken from the requests being served, so it must cost far less than one.
 * main.ts runs with one request slot and no queue, the slot held by an upload that never ends,
 * so every other counted request is refused (503); autocannon (10 connections) measures, in the
 * same run: a bare `Deno.serve` hello (GET and a POST with a small body, started the same way),
 * `GET /healthz` through the app, and refused `POST …/messages` and `GET /api/conversations`.
 * BENCH_DURATION (s, 5), BENCH_ROUNDS (2).
 */
import { SqliteStore } from "../db/sqlite/store.ts";
import { spawnServer, taskRunFlags } from "../tests/_helpers/process.ts";
import { type LoadTarget, runLoad } from "./load_client.ts";
import { seedUsers } from "./seed_users.ts";

const DURATION = Number(Deno.env.get("BENCH_DURATION") ?? 5);
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 2);
const TOKEN = "psv_bench-token-bench-token-bench-token-bench";

async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-bench-refusal-" });
  const path = `${dir}/pensieve.db`;
  const store = new SqliteStore({ path, synchronous: "NORMAL" });
  const [userId] = await seedUsers(store, TOKEN, Date.UTC(2026, 0, 1));
  const { id: conversationId } = await store.createConversation(userId, {
    id: crypto.randomUUID(),
    title: "refusals",
    tags: [],
    source: "bench",
    metadata: {},
    messages: [],
    now: Date.UTC(2026, 0, 1),
  });
  await store.close();
  const server = await spawnServer({
    PENSIEVE_DB: `sqlite:${path}`,
    PENSIEVE_JWT_SECRET: "bench-secret-bench-secret-bench-secret",
    PENSIEVE_MAX_IN_FLIGHT: "1",
    PENSIEVE_MAX_QUEUED: "0",
    PENSIEVE_REQUEST_TIMEOUT: "1d",
  });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const barePort = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const bare = new Deno.Command(Deno.execPath(), {
    args: ["run", ...taskRunFlags("start"), "--allow-net", "--allow-env", "bench/bare_hello.ts"],
    cwd: new URL("../", import.meta.url).pathname,
    env: { HOST: "127.0.0.1", PORT: String(barePort) },
    stdout: "null",
  }).spawn();
  const auth = { Authorization: `Bearer ${TOKEN}` };
  const append = `${server.url}/api/conversations/${conversationId}/messages`;
  const post = {
    method: "POST" as const,
    headers: { ...auth, "Content-Type": "application/json" },
    body: JSON.stringify({
      messages: [{ role: "user", content: "a refused message", client_message_id: "[<id>]" }],
    }),
  };
  // The one slot: an append whose body never ends.
  const stalled = new AbortController();
  const held = fetch(append, {
    ...post,
    body: new ReadableStream({
      start: (controller) => controller.enqueue(new TextEncoder().encode("{")),
    }),
    signal: stalled.signal,
    duplex: "half",
  } as RequestInit).catch(() => {});
  try {
    for (let i = 0; i < 100; i++) {
      try {
        await (await fetch(`http://127.0.0.1:${barePort}/`)).body?.cancel();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const probe = await fetch(`${server.url}/api/conversations`, { headers: auth });
    await probe.body?.cancel();
    if (probe.status !== 503) throw new Error(`expected the slot to be taken, got ${probe.status}`);
    const rows: [string, Omit<LoadTarget, "mode" | "duration">][] = [
      ["bare Deno.serve hello, GET", { url: `http://127.0.0.1:${barePort}/`, method: "GET" }],
      ["bare Deno.serve hello, POST", { url: `http://127.0.0.1:${barePort}/`, ...post }],
      ["GET /healthz (answered)", { url: `${server.url}/healthz`, method: "GET" }],
      ["POST …/messages (refused)", { url: append, ...post }],
      [
        "GET /api/conversations (refused)",
        { url: `${server.url}/api/conversations`, method: "GET", headers: auth },
      ],
    ];
    const results: Record<string, string[]> = Object.fromEntries(rows.map(([l]) => [l, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [label, target] of rows) {
        const r = await runLoad({ ...target, mode: "closed", connections: 10, duration: DURATION });
        results[label].push(`${r.requestsPerSecond.toFixed(0)} (${JSON.stringify(r.statuses)})`);
      }
    }
    console.log(
      `refusal cost: 10 connections, ${DURATION} s per row, ${ROUNDS} rounds; load average ${
        Deno.loadavg().map((l) => l.toFixed(2)).join(" ")
      }`,
    );
    console.log("| request | requests/s (statuses), each round |");
    console.log("|---|---|");
    for (const [label] of rows) console.log(`| ${label} | ${results[label].join("; ")} |`);
  } finally {
    stalled.abort();
    await held;
    bare.kill("SIGTERM");
    await bare.status;
    // The stalled upload may still hold the server's drain: make sure it ends.
    server.child.kill("SIGKILL");
    await server.wait();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
