/**
 * `deno task bench:load`: throughput of the real server process (main.ts, as `deno task start`
 * runs it) on loopback, under autocannon in a second process: REST save, append, load and search,
 * and MCP `tools/call` over Streamable HTTP (stateless, JSON responses), each run between two runs
 * of the bare route `GET /healthz` on the same server, so each row has its baseline from the same
 * minute. Every acknowledged save and append is looked up in the database afterwards.
 *
 * BENCH_CONNECTIONS (10), BENCH_DURATION (s, 10), BENCH_WARMUP (s, 2), BENCH_CONVERSATIONS (1000,
 * of 10 messages), BENCH_ROWS (comma-separated row keys; all by default).
 */
import { DatabaseSync } from "node:sqlite";
import { SqliteStore } from "../db/sqlite/store.ts";
import { spawnServer } from "../tests/_helpers/process.ts";
import { corpus, MARKERS } from "./corpus.ts";
import { type LoadResult, type LoadTarget, runLoad } from "./load_client.ts";
import { seedConversations } from "./seed_conversations.ts";
import { seedUsers } from "./seed_users.ts";
import { processMemory, sampleMemory } from "./server_memory.ts";

const CONNECTIONS = Number(Deno.env.get("BENCH_CONNECTIONS") ?? 10);
const DURATION = Number(Deno.env.get("BENCH_DURATION") ?? 10);
const WARMUP = Number(Deno.env.get("BENCH_WARMUP") ?? 2);
const CONVERSATIONS = Number(Deno.env.get("BENCH_CONVERSATIONS") ?? 1000);
const ONLY = Deno.env.get("BENCH_ROWS")?.split(",").map((s) => s.trim()).filter(Boolean);
const T0 = Date.UTC(2026, 0, 1);
const TOKEN = "psv_bench-token-bench-token-bench-token-bench";
const SECRET = "bench-secret-bench-secret-bench-secret";

/** The server's environment, shared with the other benches that start main.ts. */
export const BENCH_SERVER_ENV = {
  PENSIEVE_JWT_SECRET: SECRET,
  PENSIEVE_MCP_CALLS_PER_MINUTE: "1000000",
  PENSIEVE_MCP_SESSIONS_PER_MINUTE: "1000000",
  PENSIEVE_MCP_RESPONSE_MODE: "json",
};

interface Seeded {
  userId: string;
  /** 100 messages, for load. */
  longId: string;
  /** Empty at first; the append rows add to it. */
  appendId: string;
  mcpAppendId: string;
}

async function seed(path: string): Promise<Seeded> {
  const store = new SqliteStore({ path, synchronous: "NORMAL" });
  const text = corpus(42);
  const [userId, other] = await seedUsers(store, TOKEN, T0);
  await seedConversations(store, userId, {
    count: CONVERSATIONS,
    perConversation: 10,
    text,
    from: T0,
  });
  await seedConversations(store, other, {
    count: Math.ceil(CONVERSATIONS / 10),
    perConversation: 10,
    text,
    from: T0,
  });
  const [longId] = await seedConversations(store, userId, {
    count: 1,
    perConversation: 100,
    text,
    from: T0 + CONVERSATIONS * 1000,
  });
  const empty = async (title: string) =>
    (await store.createConversation(userId, {
      id: crypto.randomUUID(),
      title,
      tags: [],
      source: "bench",
      metadata: {},
      messages: [],
      now: T0,
    })).id;
  const appendId = await empty("REST append target");
  const mcpAppendId = await empty("MCP append target");
  await store.close();
  return { userId, longId, appendId, mcpAppendId };
}

/** Where an acknowledged append names its message, in REST and in MCP's structuredContent. */
const CLIENT_MESSAGE_ID = '"client_message_id":"([^"]+)"';

/** A fixed message, free of the search markers, so writes never change what searches find. */
const WRITE_TEXT =
  "A bench message about nothing in particular, long enough to look like a real turn of a chat.";

function toolCall(name: string, args: Record<string, unknown>): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "tools/call",
    params: { name, arguments: args },
  });
}

interface Row {
  key: string;
  label: string;
  target: LoadTarget;
  /** Acknowledged ids are looked up here after the run. */
  verify?: "message" | "conversation";
}

function rows(url: string, seeded: Seeded): Row[] {
  const auth = { Authorization: `Bearer ${TOKEN}` };
  const json = { ...auth, "Content-Type": "application/json" };
  const mcpHeaders = {
    ...json,
    Accept: "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
  };
  const common = {
    mode: "closed" as const,
    connections: CONNECTIONS,
    duration: DURATION,
    warmup: WARMUP,
  };
  const mcp = (name: string, args: Record<string, unknown>) => ({
    ...common,
    url: `${url}/mcp`,
    method: "POST" as const,
    headers: mcpHeaders,
    body: toolCall(name, args),
    expect: '"structuredContent"',
  });
  return [
    {
      key: "save",
      label: "REST save (POST /api/conversations, 2 messages)",
      verify: "conversation",
      target: {
        ...common,
        url: `${url}/api/conversations`,
        method: "POST",
        headers: json,
        body: JSON.stringify({
          title: "[<id>]",
          messages: [
            { role: "user", content: WRITE_TEXT },
            { role: "assistant", content: WRITE_TEXT },
          ],
        }),
        expect: '"conversation"',
        acknowledge: '"title":"([^"]+)"',
      },
    },
    {
      key: "append",
      label: "REST append (POST …/messages, 1 message)",
      verify: "message",
      target: {
        ...common,
        url: `${url}/api/conversations/${seeded.appendId}/messages`,
        method: "POST",
        headers: json,
        body: JSON.stringify({
          messages: [{ role: "user", content: WRITE_TEXT, client_message_id: "[<id>]" }],
        }),
        expect: '"duplicate":false',
        acknowledge: CLIENT_MESSAGE_ID,
      },
    },
    {
      key: "load",
      label: "REST load (GET /api/conversations/{id}?last=true&limit=20)",
      target: {
        ...common,
        url: `${url}/api/conversations/${seeded.longId}?last=true&limit=20`,
        method: "GET",
        headers: auth,
        expect: '"messages"',
      },
    },
    {
      key: "search",
      label: `REST search (GET /api/search?q=${MARKERS.medium.word})`,
      target: {
        ...common,
        url: `${url}/api/search?q=${MARKERS.medium.word}&limit=20`,
        method: "GET",
        headers: auth,
        expect: '"results"',
      },
    },
    {
      key: "mcp-load",
      label: "MCP tools/call load_conversation last_n=20",
      target: mcp("load_conversation", { conversation_id: seeded.longId, last_n: 20 }),
    },
    {
      key: "mcp-search",
      label: `MCP tools/call search_conversations "${MARKERS.medium.word}"`,
      target: mcp("search_conversations", { query: MARKERS.medium.word }),
    },
    {
      key: "mcp-append",
      label: "MCP tools/call append_to_conversation, 1 message",
      verify: "message",
      target: {
        ...mcp("append_to_conversation", {
          conversation_id: seeded.mcpAppendId,
          messages: [{ role: "user", content: WRITE_TEXT, client_message_id: "[<id>]" }],
        }),
        acknowledge: CLIENT_MESSAGE_ID,
      },
    },
  ].filter((row) => !ONLY || ONLY.includes(row.key)) as Row[];
}

/** How many acknowledged ids are missing from the database, or stored more than once. */
function verifyAcknowledged(
  path: string,
  row: Row,
  ids: string[],
): { missing: number; extra: number } {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const count = row.verify === "message"
      ? db.prepare("SELECT count(*) AS n FROM messages WHERE client_message_id = ?")
      : db.prepare("SELECT count(*) AS n FROM conversations WHERE title = ?");
    let missing = 0;
    let extra = 0;
    for (const id of new Set(ids)) {
      const n = (count.get(id) as { n: number }).n;
      if (n === 0) missing++;
      if (n > 1) extra += n - 1;
    }
    return { missing, extra };
  } finally {
    db.close();
  }
}

interface Measured {
  key: string;
  label: string;
  result: LoadResult;
  rssPeak: number;
  rssAfter: number;
  verified?: { acknowledged: number; missing: number; extra: number };
}

function latency(ms: number): string {
  return ms < 10 ? ms.toFixed(2) : ms.toFixed(1);
}

function non2xx(result: LoadResult): number {
  return Object.entries(result.statuses).filter(([s]) => !s.startsWith("2"))
    .reduce((n, [, c]) => n + c, 0);
}

async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-bench-load-" });
  const path = `${dir}/pensieve.db`;
  try {
    const started = performance.now();
    const seeded = await seed(path);
    console.log(
      `seeded ${CONVERSATIONS} conversations × 10 messages (+${
        Math.ceil(CONVERSATIONS / 10)
      } for a second user) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    const server = await spawnServer({ PENSIEVE_DB: `sqlite:${path}`, ...BENCH_SERVER_ENV });
    const pid = server.child.pid;
    try {
      const healthz: LoadTarget = {
        mode: "closed",
        url: `${server.url}/healthz`,
        method: "GET",
        expect: '"ok"',
        connections: CONNECTIONS,
        duration: DURATION,
        warmup: WARMUP,
      };
      const measured: Measured[] = [];
      const run = async (
        key: string,
        label: string,
        target: LoadTarget,
        verify?: Row["verify"],
      ) => {
        const stop = sampleMemory(pid);
        const result = await runLoad(target);
        const memory = stop();
        const entry: Measured = { key, label, result, rssPeak: memory.peak, rssAfter: memory.last };
        if (verify) {
          const ids = result.acknowledged ?? [];
          entry.verified = {
            acknowledged: ids.length,
            ...verifyAcknowledged(path, { verify } as Row, ids),
          };
          delete result.acknowledged;
        }
        measured.push(entry);
        console.log(
          `  ${label}: ${result.requestsPerSecond.toFixed(0)} req/s, p50 ${
            latency(result.ok.p50)
          } ms, p99 ${latency(result.ok.p99)} ms, non-2xx ${non2xx(result)}, socket errors ${
            result.socketErrors + result.timeouts
          }, RSS peak ${memory.peak.toFixed(1)} MB${
            entry.verified
              ? `, acknowledged ${entry.verified.acknowledged}, missing ${entry.verified.missing}`
              : ""
          }`,
        );
      };
      console.log(
        `autocannon: ${CONNECTIONS} connections, ${WARMUP} s warm-up + ${DURATION} s per row; ` +
          `server RSS at start ${processMemory(pid)?.rss.toFixed(1)} MB`,
      );
      await run("healthz", "bare route GET /healthz", healthz);
      for (const row of rows(server.url, seeded)) {
        await run(row.key, row.label, row.target, row.verify);
        await run("healthz", "bare route GET /healthz", healthz);
      }

      const table = measured.map((m, i) => {
        if (m.key === "healthz") return null;
        const around = (measured[i - 1].result.requestsPerSecond +
          measured[i + 1].result.requestsPerSecond) / 2;
        return { ...m, around, ratio: m.result.requestsPerSecond / around };
      }).filter((m) => m !== null);
      const hellos = measured.filter((m) => m.key === "healthz");
      console.log(
        `\nBare-route runs (GET /healthz), req/s: ${
          hellos.map((h) => h.result.requestsPerSecond.toFixed(0)).join(", ")
        }; p50 / p99 ms: ${
          hellos.map((h) => `${latency(h.result.ok.p50)}/${latency(h.result.ok.p99)}`).join(", ")
        }`,
      );
      console.log(
        "| scenario | req/s | p50 ms | p99 ms | bare route around | ÷ bare | non-2xx | socket errors | bad body | RSS peak MB | acknowledged / missing |",
      );
      console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
      for (const m of table) {
        const r = m.result;
        console.log(
          `| ${m.label} | ${r.requestsPerSecond.toFixed(0)} | ${latency(r.ok.p50)} | ${
            latency(r.ok.p99)
          } | ${m.around.toFixed(0)} | ${m.ratio.toFixed(3)} | ${non2xx(r)} | ${
            r.socketErrors + r.timeouts
          } | ${r.mismatches} | ${m.rssPeak.toFixed(1)} | ${
            m.verified ? `${m.verified.acknowledged} / ${m.verified.missing}` : "–"
          } |`,
        );
      }
      const failures = measured.reduce(
        (n, m) =>
          n + non2xx(m.result) + m.result.socketErrors + m.result.timeouts + m.result.mismatches +
          (m.verified ? m.verified.missing + m.verified.extra : 0),
        0,
      );
      console.log(
        failures
          ? `${failures} requests failed, answered an unexpected body, or were lost`
          : "every request answered 2xx with the expected body; every acknowledged write is stored once",
      );
      const mcp = table.filter((m) => m.key.startsWith("mcp-"));
      if (mcp.length) {
        const worst = Math.min(...mcp.map((m) => m.ratio));
        console.log(
          `goal (MCP tools/call ≥ 0.30 × bare route): ${worst >= 0.3 ? "met" : "not met"}, ` +
            `lowest ratio ${worst.toFixed(3)}`,
        );
      }
      const levels: Record<string, number> = {};
      for (const line of server.output().split("\n")) {
        const level = /"level":"(\w+)"/.exec(line)?.[1];
        if (level) levels[level] = (levels[level] ?? 0) + 1;
      }
      console.log(`server log lines by level: ${JSON.stringify(levels)}`);
      const finalMemory = processMemory(pid);
      console.log(
        `server RSS now ${finalMemory?.rss.toFixed(1)} MB, peak over the run ${
          finalMemory?.peak.toFixed(1)
        } MB`,
      );
      await Deno.mkdir("bench/results", { recursive: true });
      const file = `bench/results/load-${new Date().toISOString().replaceAll(":", "-")}.json`;
      await Deno.writeTextFile(
        file,
        JSON.stringify(
          { connections: CONNECTIONS, duration: DURATION, warmup: WARMUP, measured },
          null,
          2,
        ),
      );
      console.log(`wrote ${file}`);
    } finally {
      server.child.kill("SIGTERM");
      await server.wait();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
