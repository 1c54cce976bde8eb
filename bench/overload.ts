/**
 * `deno task bench:overload`: the real server process (main.ts) driven at three times what it can
 * take. For each scenario (REST append, REST search), in the same run:
 *
 * 1. capacity: autocannon, closed loop (BENCH_CONNECTIONS connections), requests/s answered 2xx;
 * 2. overload: requests started at BENCH_FACTOR × capacity per second, open loop (a client does
 *    not slow down because the server does), for BENCH_DURATION seconds, while /healthz is probed
 *    every 100 ms and the server's RSS sampled every 100 ms;
 * 3. afterwards every acknowledged append is looked up in the database.
 *
 * Run once against the server as configured by default (the admission limit on) and once with
 * the limits lifted (BENCH_COMPARE=0 skips that), to show what the limit changes.
 *
 * BENCH_DURATION (s, 15), BENCH_FACTOR (3), BENCH_CONNECTIONS (10), BENCH_SCENARIOS
 * ("append,search").
 */
import { DatabaseSync } from "node:sqlite";
import { SqliteStore } from "../db/sqlite/store.ts";
import { spawnServer } from "../tests/_helpers/process.ts";
import { corpus, MARKERS } from "./corpus.ts";
import { type LoadResult, type LoadTarget, runLoad } from "./load_client.ts";
import { seedConversations } from "./seed_conversations.ts";
import { seedUsers } from "./seed_users.ts";
import { processMemory, sampleMemory } from "./server_memory.ts";
import { summarize } from "./stats.ts";

const DURATION = Number(Deno.env.get("BENCH_DURATION") ?? 15);
const FACTOR = Number(Deno.env.get("BENCH_FACTOR") ?? 3);
const CONNECTIONS = Number(Deno.env.get("BENCH_CONNECTIONS") ?? 10);
const COMPARE = Deno.env.get("BENCH_COMPARE") !== "0";
const SCENARIOS = (Deno.env.get("BENCH_SCENARIOS") ?? "append,search").split(",").map((s) =>
  s.trim()
);
const T0 = Date.UTC(2026, 0, 1);
const TOKEN = "psv_bench-token-bench-token-bench-token-bench";
const SERVER_ENV = {
  PENSIEVE_JWT_SECRET: "bench-secret-bench-secret-bench-secret",
  PENSIEVE_MCP_CALLS_PER_MINUTE: "1000000",
};
/** Every bound lifted: what the server did before the admission limit. */
const UNBOUNDED_ENV = {
  PENSIEVE_MAX_IN_FLIGHT: "100000",
  PENSIEVE_MAX_QUEUED: "0",
  PENSIEVE_REQUEST_TIMEOUT: "1d",
  PENSIEVE_MAX_EVENT_LOOP_DELAY_MS: "0",
  PENSIEVE_SEARCH_CONCURRENCY: "256",
  PENSIEVE_SEARCH_QUEUE: "10000",
};

async function seed(path: string): Promise<string> {
  const store = new SqliteStore({ path, synchronous: "NORMAL" });
  const [userId, other] = await seedUsers(store, TOKEN, T0);
  const text = corpus(42);
  await seedConversations(store, userId, { count: 1000, perConversation: 10, text, from: T0 });
  await seedConversations(store, other, { count: 100, perConversation: 10, text, from: T0 });
  await store.close();
  return userId;
}

async function emptyConversation(url: string, title: string): Promise<string> {
  const res = await fetch(`${url}/api/conversations`, {
    method: "POST",
    headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify({ title }),
  });
  if (res.status !== 201) throw new Error(`create: ${res.status} ${await res.text()}`);
  return (await res.json()).conversation.id;
}

function target(kind: string, url: string, conversationId: string): Omit<LoadTarget, "mode"> {
  const auth = { Authorization: `Bearer ${TOKEN}` };
  if (kind === "append") {
    return {
      url: `${url}/api/conversations/${conversationId}/messages`,
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: JSON.stringify({
        messages: [{
          role: "user",
          content: "An overload bench message, long enough to look like a turn of a chat.",
          client_message_id: "[<id>]",
        }],
      }),
      expect: '"duplicate":false',
      acknowledge: '"client_message_id":"([^"]+)"',
      duration: DURATION,
    };
  }
  return {
    url: `${url}/api/search?q=${MARKERS.medium.word}&limit=20`,
    method: "GET",
    headers: auth,
    expect: '"results"',
    duration: DURATION,
  };
}

/** Probes /healthz every 100 ms until stopped; latencies in ms, failures counted. */
function probe(url: string): () => Promise<{ ms: number[]; failed: number }> {
  const ms: number[] = [];
  let failed = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10_000) });
        await res.body?.cancel();
        if (res.status === 200) ms.push(performance.now() - started);
        else failed++;
      } catch {
        failed++;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return async () => {
    running = false;
    await loop;
    return { ms, failed };
  };
}

function verify(path: string, conversationId: string, ids: string[]) {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const rowid =
      (db.prepare("SELECT rowid FROM conversations WHERE id = ?").get(conversationId) as {
        rowid: number;
      }).rowid;
    const one = db.prepare(
      "SELECT count(*) AS n FROM messages WHERE conversation_rowid = ? AND client_message_id = ?",
    );
    let missing = 0;
    let duplicated = 0;
    for (const id of new Set(ids)) {
      const n = (one.get(rowid, id) as { n: number }).n;
      if (n === 0) missing++;
      if (n > 1) duplicated++;
    }
    const stored = (db.prepare("SELECT count(*) AS n FROM messages WHERE conversation_rowid = ?")
      .get(rowid) as { n: number }).n;
    const seqs = db.prepare(
      "SELECT count(*) AS n, min(seq) AS lo, max(seq) AS hi FROM messages WHERE conversation_rowid = ?",
    ).get(rowid) as { n: number; lo: number; hi: number };
    return {
      acknowledged: new Set(ids).size,
      stored,
      missing,
      duplicated,
      contiguous: seqs.n === 0 || (seqs.lo === 0 && seqs.hi === seqs.n - 1),
    };
  } finally {
    db.close();
  }
}

interface Outcome {
  /** The server's exit code if it died during the scenario; null if it stayed up. */
  serverExit: number | null;
  server: string;
  scenario: string;
  capacity: LoadResult;
  overload: LoadResult;
  rssBefore: number;
  rssPeak: number;
  rssAfter: number;
  probes: { n: number; p50: number; p99: number; max: number; failed: number };
  verified?: ReturnType<typeof verify>;
  recovery: LoadResult;
}

function f(ms: number): string {
  return ms < 10 ? ms.toFixed(2) : ms < 1000 ? ms.toFixed(1) : ms.toFixed(0);
}

/** One scenario on a server of its own, so one that falls over does not take the next with it. */
async function runScenario(
  label: string,
  env: Record<string, string>,
  path: string,
  scenario: string,
): Promise<Outcome> {
  const server = await spawnServer({ PENSIEVE_DB: `sqlite:${path}`, ...SERVER_ENV, ...env });
  const pid = server.child.pid;
  let exit: number | null = null;
  server.child.status.then((status) => exit = status.code);
  try {
    {
      const conversationId = await emptyConversation(server.url, `${label} ${scenario}`);
      const base = target(scenario, server.url, conversationId);
      const capacity = await runLoad({
        ...base,
        mode: "closed",
        connections: CONNECTIONS,
        warmup: 2,
        duration: 10,
      });
      const rate = Math.round(capacity.okPerSecond * FACTOR);
      console.log(
        `[${label}] ${scenario}: capacity ${capacity.okPerSecond.toFixed(0)} req/s ` +
          `(p99 ${f(capacity.ok.p99)} ms); now ${rate} req/s for ${DURATION} s`,
      );
      const rssBefore = processMemory(pid)?.rss ?? 0;
      const stopMemory = sampleMemory(pid);
      const stopProbe = probe(server.url);
      const overload = await runLoad({ ...base, mode: "open", rate });
      const probes = await stopProbe();
      const memory = stopMemory();
      const probeSummary = summarize(probes.ms);
      const sortedProbes = [...probes.ms].sort((a, b) => a - b);
      const outcome: Outcome = {
        serverExit: null,
        server: label,
        scenario,
        capacity,
        overload,
        rssBefore,
        rssPeak: memory.peak,
        rssAfter: memory.last,
        probes: {
          n: probes.ms.length,
          p50: probeSummary.median,
          p99: sortedProbes[Math.max(0, Math.ceil(0.99 * sortedProbes.length) - 1)] ?? 0,
          max: sortedProbes.at(-1) ?? 0,
          failed: probes.failed,
        },
        recovery: await runLoad({ ...base, mode: "closed", connections: CONNECTIONS, duration: 5 }),
      };
      if (scenario === "append") {
        outcome.verified = verify(path, conversationId, overload.acknowledged ?? []);
      }
      delete overload.acknowledged;
      delete capacity.acknowledged;
      delete outcome.recovery.acknowledged;
      outcome.serverExit = exit;
      const o = overload;
      console.log(
        `[${label}] ${scenario} at ${FACTOR}×: offered ${o.offeredPerSecond?.toFixed(0)} req/s; ` +
          `2xx ${o.ok.count} (${o.okPerSecond.toFixed(0)}/s, p50 ${f(o.ok.p50)} ms, p99 ${
            f(o.ok.p99)
          } ms, max ${f(o.ok.max)} ms); statuses ${
            JSON.stringify(o.statuses)
          }; Retry-After on ${o.retryAfter}; ` +
          `refused p99 ${
            f(o.refused.p99)
          } ms; socket errors ${o.socketErrors}, client time-outs ${o.timeouts}; ` +
          `RSS ${rssBefore.toFixed(0)} → peak ${memory.peak.toFixed(0)} MB; /healthz p99 ${
            f(outcome.probes.p99)
          } ms (max ${f(outcome.probes.max)}, ${outcome.probes.failed} failed); ` +
          `afterwards ${outcome.recovery.okPerSecond.toFixed(0)} req/s` +
          (outcome.verified ? `; writes ${JSON.stringify(outcome.verified)}` : "") +
          (exit === null ? "" : `; THE SERVER EXITED (code ${exit})`),
      );
      return outcome;
    }
  } finally {
    if (exit === null) server.child.kill("SIGTERM");
    const { stdout } = await server.wait();
    const fatal = stdout.split("\n").filter((l) => /"level":"error"/.test(l)).length;
    if (fatal) console.log(`[${label}] ${scenario}: the server logged ${fatal} error lines`);
  }
}

async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-bench-overload-" });
  const path = `${dir}/pensieve.db`;
  try {
    await seed(path);
    console.log(
      `overload bench: ${FACTOR}× capacity for ${DURATION} s per scenario; scenarios ${
        SCENARIOS.join(", ")
      }; load average ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`,
    );
    const outcomes: Outcome[] = [];
    const servers: [string, Record<string, string>][] = [["default limits", {}]];
    if (COMPARE) servers.push(["limits lifted", UNBOUNDED_ENV]);
    for (const [label, env] of servers) {
      for (const scenario of SCENARIOS) {
        outcomes.push(await runScenario(label, env, path, scenario));
      }
    }

    console.log(
      "\n| server | scenario | capacity req/s | offered req/s | 2xx/s | 2xx p50 / p99 / max ms | 503 | 504 | 429 | other non-2xx | Retry-After | refused p50 / p99 ms | socket errors / client time-outs | RSS before → peak MB | /healthz p99 ms | after, req/s | acknowledged / missing / duplicated | server |",
    );
    console.log(
      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    );
    for (const o of outcomes) {
      const s = o.overload.statuses;
      const other = Object.entries(s).filter(([k]) => !/^(2..|503|504|429)$/.test(k))
        .reduce((n, [, c]) => n + c, 0);
      console.log(
        `| ${o.server} | ${o.scenario} | ${o.capacity.okPerSecond.toFixed(0)} | ${
          o.overload.offeredPerSecond?.toFixed(0)
        } | ${o.overload.okPerSecond.toFixed(0)} | ${f(o.overload.ok.p50)} / ${
          f(o.overload.ok.p99)
        } / ${f(o.overload.ok.max)} | ${s[503] ?? 0} | ${s[504] ?? 0} | ${
          s[429] ?? 0
        } | ${other} | ${o.overload.retryAfter} | ${f(o.overload.refused.p50)} / ${
          f(o.overload.refused.p99)
        } | ${o.overload.socketErrors} / ${o.overload.timeouts} | ${o.rssBefore.toFixed(0)} → ${
          o.rssPeak.toFixed(0)
        } | ${f(o.probes.p99)} | ${o.recovery.okPerSecond.toFixed(0)} | ${
          o.verified
            ? `${o.verified.acknowledged} / ${o.verified.missing} / ${o.verified.duplicated}`
            : "–"
        } | ${o.serverExit === null ? "stayed up" : `**exited (${o.serverExit})**`} |`,
      );
    }
    await Deno.mkdir("bench/results", { recursive: true });
    const file = `bench/results/overload-${new Date().toISOString().replaceAll(":", "-")}.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({ duration: DURATION, factor: FACTOR, outcomes }, null, 2),
    );
    console.log(`wrote ${file}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
