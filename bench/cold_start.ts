/**
 * `deno task bench:cold`: time from process start to the first 200 on `/healthz`, for main.ts
 * (as `deno task start` runs it: the same V8 flags and grants as tests/_helpers/process.ts) and
 * for a bare `Deno.serve` hello (bench/bare_hello.ts) and the stack's dependency floor
 * (bench/dependency_floor.ts) started the same way, interleaved round by
 * round, with each one's resident memory once it has sat idle. The server starts twice a round:
 * once sent a first MCP tools/call after its first 200, once a first REST list, since each of
 * those loads modules the other does not. Dependencies are cached by a first round of each that
 * is not counted, so this is a warm start, as a container with its deps baked in has. The server
 * opens a SQLite file made in that first round.
 *
 * BENCH_ROUNDS (10), BENCH_IDLE_SECONDS (2: how long a process idles before its RSS is read).
 */
import { SqliteStore } from "../db/sqlite/store.ts";
import { taskRunFlags } from "../tests/_helpers/process.ts";
import { processMemory } from "./server_memory.ts";
import { seedUsers } from "./seed_users.ts";

const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 10);
const IDLE_SECONDS = Number(Deno.env.get("BENCH_IDLE_SECONDS") ?? 2);
const root = new URL("../", import.meta.url).pathname;
const TOKEN = "psv_bench-token-bench-token-bench-token-bench";

/** A first REST request, as the dashboard's script or an API client would send. */
async function firstRestCall(base: string): Promise<void> {
  const res = await fetch(`${base}/api/conversations?limit=20`, {
    headers: { Authorization: `Bearer ${TOKEN}` },
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`first REST call: ${res.status} ${text.slice(0, 200)}`);
}

/** A first MCP request, as a client connecting after a scale-from-zero would send. */
async function firstToolCall(base: string): Promise<void> {
  const res = await fetch(`${base}/mcp`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${TOKEN}`,
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      "MCP-Protocol-Version": "2025-11-25",
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "list_conversations", arguments: {} },
    }),
  });
  const text = await res.text();
  if (res.status !== 200 || !text.includes("structuredContent")) {
    throw new Error(`first tools/call: ${res.status} ${text.slice(0, 200)}`);
  }
}

/** A port nothing listens on now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** What a process is sent once it answers /healthz: each loads modules the other may not. */
type FirstRequest = "mcp" | "rest";

interface Start {
  /** Milliseconds from spawn to the first 200 on /healthz. */
  ready: number;
  /** Milliseconds from spawn to the answer of a first request sent right after that 200. */
  firstCall?: number;
  /** MB resident after idling. */
  idleRss: number;
  /** MB at the highest point so far (VmHWM). */
  peakRss: number;
}

async function startOnce(
  entry: string,
  env: Record<string, string>,
  first: FirstRequest | null,
): Promise<Start> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}/healthz`;
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...taskRunFlags("start"),
      "--allow-net",
      "--allow-env",
      "--allow-sys=cpus,networkInterfaces,hostname,statfs",
      "--allow-ffi",
      "--allow-read",
      "--allow-write",
      entry,
    ],
    cwd: root,
    env: { HOST: "127.0.0.1", PORT: String(port), ...env },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let ready = NaN;
  try {
    for (;;) {
      try {
        const res = await fetch(url);
        await res.body?.cancel();
        if (res.status === 200) {
          ready = performance.now() - started;
          break;
        }
      } catch {
        // not listening yet
      }
      if (performance.now() - started > 30_000) throw new Error(`${entry} did not start`);
      await new Promise((r) => setTimeout(r, 2));
    }
    let firstCall: number | undefined;
    if (first) {
      await (first === "mcp" ? firstToolCall : firstRestCall)(`http://127.0.0.1:${port}`);
      firstCall = performance.now() - started;
    }
    await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
    const memory = processMemory(child.pid);
    return { ready, firstCall, idleRss: memory?.rss ?? NaN, peakRss: memory?.peak ?? NaN };
  } finally {
    child.kill("SIGKILL");
    const output = await child.output();
    const stderr = new TextDecoder().decode(output.stderr);
    if (Number.isNaN(ready)) console.error(stderr);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-bench-cold-" });
  const serverEnv = {
    PENSIEVE_DB: `sqlite:${dir}/pensieve.db`,
    PENSIEVE_JWT_SECRET: "bench-secret-bench-secret-bench-secret",
  };
  const kinds = [
    ["bare Deno.serve hello", "bench/bare_hello.ts", {}, null],
    ["Hono + zod + node:crypto + node:sqlite, one route", "bench/dependency_floor.ts", {}, null],
    ["pensieve main.ts, then MCP tools/call", "main.ts", serverEnv, "mcp"],
    ["pensieve main.ts, then REST list", "main.ts", serverEnv, "rest"],
  ] as const;
  const store = new SqliteStore({ path: `${dir}/pensieve.db` });
  await seedUsers(store, TOKEN, Date.UTC(2026, 0, 1));
  await store.close();
  try {
    console.log(
      `cold start: ${ROUNDS} rounds, interleaved; load average ${
        Deno.loadavg().map((l) => l.toFixed(2)).join(" ")
      }`,
    );
    for (const [, entry, env, mcp] of kinds) await startOnce(entry, env, mcp); // warm the caches
    const results: Record<string, Start[]> = Object.fromEntries(kinds.map(([k]) => [k, []]));
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first, so neither always follows the other.
      const order = round % 2 ? [...kinds].reverse() : kinds;
      for (const [label, entry, env, mcp] of order) {
        results[label].push(await startOnce(entry, env, mcp));
      }
    }
    const [bare, floor, server, serverRest] = kinds.map(([label]) => results[label]);
    console.log(
      "| process | start → first 200, median ms | min – max ms | idle RSS, median MB | peak RSS, median MB |",
    );
    console.log("|---|---:|---:|---:|---:|");
    for (const [label] of kinds) {
      const r = results[label];
      const ready = r.map((s) => s.ready);
      console.log(
        `| ${label} | ${median(ready).toFixed(0)} | ${Math.min(...ready).toFixed(0)} – ${
          Math.max(...ready).toFixed(0)
        } | ${median(r.map((s) => s.idleRss)).toFixed(1)} | ${
          median(r.map((s) => s.peakRss)).toFixed(1)
        } |`,
      );
    }
    const bothServers = [...server, ...serverRest];
    const ratio = median(bothServers.map((s) => s.ready)) / median(bare.map((s) => s.ready));
    const rss = median(bothServers.map((s) => s.idleRss)) / median(bare.map((s) => s.idleRss));
    console.log(
      `server ÷ bare: start ${ratio.toFixed(2)}×, idle RSS ${rss.toFixed(2)}×; ` +
        `goal (start ≤ 2× bare Deno): ${ratio <= 2 ? "met" : "not met"}`,
    );
    const floorRatio = median(floor.map((s) => s.ready)) / median(bare.map((s) => s.ready));
    console.log(`dependency floor ÷ bare: start ${floorRatio.toFixed(2)}×`);
    for (
      const [label, starts] of [["MCP tools/call", server], ["REST list", serverRest]] as const
    ) {
      const calls = starts.map((s) => s.firstCall!);
      console.log(
        `server: spawn → answer of a first ${label} sent after that 200, median ${
          median(calls).toFixed(0)
        } ms (${Math.min(...calls).toFixed(0)} – ${Math.max(...calls).toFixed(0)})`,
      );
    }
    console.log(
      `per round, ms (bare / floor / server then MCP / server then REST): ${
        bare.map((b, i) =>
          [b, floor[i], server[i], serverRest[i]].map((s) => s.ready.toFixed(0)).join("/")
        ).join(", ")
      }`,
    );
    await Deno.mkdir("bench/results", { recursive: true });
    const file = `bench/results/cold-start-${new Date().toISOString().replaceAll(":", "-")}.json`;
    await Deno.writeTextFile(file, JSON.stringify({ rounds: ROUNDS, results }, null, 2));
    console.log(`wrote ${file}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
