/**
 * `deno task bench:scale`: how search, list and load latency grow with the amount stored. The
 * benchmark user's store grows through BENCH_SCALE_STEPS conversations (default 1000, 10000,
 * 100000) of 10 messages each (a second user holds a tenth as much); at each size the real server
 * process (main.ts) is started on the file and, interleaved round by round:
 *
 * - search: the raw FTS5 ranking (`… MATCH ? ORDER BY rank LIMIT 21` on a read-only connection),
 *   `SqliteStore.searchConversations` in this process, and `GET /api/search` over HTTP;
 * - list: the raw index scan and `GET /api/conversations`, first page and one 90 % deep;
 * - a 10,000-message conversation: the raw page query and `GET /api/conversations/{id}`, paged
 *   100 at a time, at its start, middle and end.
 *
 * Seeding goes through SqliteStore itself, as bench/run.ts does. BENCH_ROUNDS (50) rounds per
 * row, each row stopped early after BENCH_ROW_SECONDS (10) of measuring.
 */
import { DatabaseSync } from "node:sqlite";
import { encodeCursor } from "../core/cursor.ts";
import { parseSearchQuery } from "../core/search_query.ts";
import { matchExpression, ownerToken } from "../db/sqlite/search_text.ts";
import { SqliteStore } from "../db/sqlite/store.ts";
import { spawnServer } from "../tests/_helpers/process.ts";
import { corpus, MARKERS } from "./corpus.ts";
import { seedConversations } from "./seed_conversations.ts";
import { seedUsers } from "./seed_users.ts";
import { ms, summarize, type Summary } from "./stats.ts";

const STEPS = (Deno.env.get("BENCH_SCALE_STEPS") ?? "1000,10000,100000").split(",").map(Number);
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 50);
const ROW_SECONDS = Number(Deno.env.get("BENCH_ROW_SECONDS") ?? 10);
const PER_CONVERSATION = 10;
const LONG_MESSAGES = 10_000;
const PAGE = 100;
const T0 = Date.UTC(2026, 0, 1);
const TOKEN = "psv_bench-token-bench-token-bench-token-bench";

interface Row {
  step: number;
  kind: "search" | "list" | "load";
  label: string;
  matches?: number;
  raw: Summary;
  store?: Summary;
  api: Summary;
}

async function timed(work: () => unknown): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

/** Interleaves the given paths round by round; stops after ROUNDS or ROW_SECONDS. */
async function measure(paths: Record<string, () => unknown>): Promise<Record<string, Summary>> {
  const names = Object.keys(paths);
  for (let i = 0; i < 3; i++) for (const name of names) await paths[name]();
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const started = performance.now();
  for (let i = 0; i < ROUNDS; i++) {
    for (const name of names) samples[name].push(await timed(paths[name]));
    if (i >= 4 && performance.now() - started > ROW_SECONDS * 1000) break;
  }
  return Object.fromEntries(names.map((n) => [n, summarize(samples[n])]));
}

async function get(url: string, check: (body: Record<string, unknown>) => boolean): Promise<void> {
  const res = await fetch(url, { headers: { Authorization: `Bearer ${TOKEN}` } });
  const body = await res.json();
  if (res.status !== 200 || !check(body)) {
    throw new Error(`${url}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  }
}

async function measureStep(
  step: number,
  path: string,
  url: string,
  userId: string,
  longId: string,
): Promise<Row[]> {
  const rows: Row[] = [];
  const raw = new DatabaseSync(path, { readOnly: true });
  const store = new SqliteStore({ path });
  try {
    const rawTop = raw.prepare(
      "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rank LIMIT 21",
    );
    const rawCount = raw.prepare(
      "SELECT count(*) AS n FROM messages_fts WHERE messages_fts MATCH ?",
    );
    const queries: [string, string][] = [
      ["rare word", MARKERS.rare.word],
      ["medium word", MARKERS.medium.word],
      ["two words", `${MARKERS.medium.word} ${MARKERS.common.word}`],
      ["Korean", "대화"],
      ["common word", MARKERS.common.word],
    ];
    for (const [label, q] of queries) {
      const parsed = parseSearchQuery(q);
      const match = matchExpression(ownerToken(userId), parsed)!;
      const apiUrl = `${url}/api/search?q=${encodeURIComponent(q)}&limit=20`;
      const r = await measure({
        raw: () => rawTop.all(match),
        store: () =>
          store.searchConversations(userId, { query: parsed, filter: {}, offset: 0, limit: 21 }),
        api: () => get(apiUrl, (b) => Array.isArray(b.results)),
      });
      rows.push({
        step,
        kind: "search",
        label: `${label} (\`${q}\`)`,
        matches: (rawCount.get(match) as { n: number }).n,
        raw: r.raw,
        store: r.store,
        api: r.api,
      });
    }

    // List: the first page, the second, and one 90 % of the way down. The raw query is the
    // least SQLite must do: enter the (user, updated_at, id) index at the cursor, read 21 rows.
    const rawList = raw.prepare(
      "SELECT c.* FROM conversations c WHERE c.user_id = ? ORDER BY c.updated_at DESC, c.id DESC LIMIT 21",
    );
    const rawListAfter = raw.prepare(
      `SELECT c.* FROM conversations c WHERE c.user_id = ? AND (c.updated_at, c.id) < (?, ?)
       ORDER BY c.updated_at DESC, c.id DESC LIMIT 21`,
    );
    const listed = (b: Record<string, unknown>) =>
      Array.isArray(b.conversations) && b.conversations.length === 20;
    const first = await measure({
      raw: () => rawList.all(userId),
      api: () => get(`${url}/api/conversations?limit=20`, listed),
    });
    rows.push({ step, kind: "list", label: "list, first page of 20", ...first } as Row);
    for (
      const [label, offset] of [["list, second page", 19], [
        "list, a page 90 % deep",
        Math.floor(step * 0.9),
      ]] as const
    ) {
      const at = raw.prepare(
        "SELECT updated_at, id FROM conversations WHERE user_id = ? ORDER BY updated_at DESC, id DESC LIMIT 1 OFFSET ?",
      ).get(userId, offset) as { updated_at: number; id: string };
      const cursor = encodeCursor({ u: at.updated_at, i: at.id });
      const page = await measure({
        raw: () => rawListAfter.all(userId, at.updated_at, at.id),
        api: () => get(`${url}/api/conversations?limit=20&cursor=${cursor}`, listed),
      });
      rows.push({ step, kind: "list", label, ...page } as Row);
    }

    // A 10,000-message conversation, 100 messages a page.
    const rowid = (raw.prepare("SELECT rowid FROM conversations WHERE id = ?").get(longId) as {
      rowid: number;
    }).rowid;
    const rawPage = raw.prepare(
      "SELECT * FROM messages WHERE conversation_rowid = ? AND seq > ? ORDER BY seq LIMIT ?",
    );
    const rawLast = raw.prepare(
      "SELECT * FROM messages WHERE conversation_rowid = ? ORDER BY seq DESC LIMIT ?",
    );
    const page = (b: Record<string, unknown>) =>
      Array.isArray(b.messages) && b.messages.length === PAGE;
    const loads: [string, () => unknown, string][] = [
      ["load 10k messages: first page of 100", () => rawPage.all(rowid, -1, PAGE), ""],
      [
        "load 10k messages: page at seq 5000",
        () => rawPage.all(rowid, 4999, PAGE),
        "&after_seq=4999",
      ],
      ["load 10k messages: last page", () => rawLast.all(rowid, PAGE), "&last=true"],
    ];
    for (const [label, rawWork, query] of loads) {
      const r = await measure({
        raw: rawWork,
        api: () => get(`${url}/api/conversations/${longId}?limit=${PAGE}${query}`, page),
      });
      rows.push({ step, kind: "load", label, raw: r.raw, api: r.api });
    }
  } finally {
    raw.close();
    await store.close();
  }
  return rows;
}

async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-bench-scale-" });
  const path = `${dir}/pensieve.db`;
  const rows: Row[] = [];
  try {
    console.log(
      `scale bench: ${STEPS.join(", ")} conversations × ${PER_CONVERSATION} messages; ` +
        `${ROUNDS} rounds (at most ${ROW_SECONDS} s) per row; load average ${
          Deno.loadavg().map((l) => l.toFixed(2)).join(" ")
        }`,
    );
    let store = new SqliteStore({ path, synchronous: "NORMAL" });
    const [userId, other] = await seedUsers(store, TOKEN, T0);
    const text = corpus(42);
    const [longId] = await seedConversations(store, userId, {
      count: 1,
      perConversation: LONG_MESSAGES,
      text,
      from: T0 - 1000,
    });
    await store.close();
    let have = 0;
    for (const step of STEPS) {
      store = new SqliteStore({ path, synchronous: "NORMAL" });
      const started = performance.now();
      await seedConversations(store, userId, {
        count: step - have,
        perConversation: PER_CONVERSATION,
        text,
        from: T0 + have * 1000,
      });
      await seedConversations(store, other, {
        count: Math.ceil(step / 10) - Math.ceil(have / 10),
        perConversation: PER_CONVERSATION,
        text,
        from: T0 + have * 1000,
      });
      await store.close();
      const size = (await Deno.stat(path)).size / 1024 ** 2;
      console.log(
        `\n${step} conversations (${
          step * PER_CONVERSATION + LONG_MESSAGES
        } messages for the bench user, ${
          Math.ceil(step / 10) * PER_CONVERSATION
        } for the other): seeded ${step - have} more in ${
          ((performance.now() - started) / 1000).toFixed(1)
        } s; file ${size.toFixed(0)} MB`,
      );
      have = step;
      const server = await spawnServer({
        PENSIEVE_DB: `sqlite:${path}`,
        PENSIEVE_JWT_SECRET: "bench-secret-bench-secret-bench-secret",
      });
      try {
        const stepRows = await measureStep(step, path, server.url, userId, longId);
        for (const r of stepRows) {
          console.log(
            `  ${r.label}${r.matches !== undefined ? ` [${r.matches} matches]` : ""}: raw ${
              ms(r.raw.median)
            }, ${r.store ? `store ${ms(r.store.median)}, ` : ""}API ${
              ms(r.api.median)
            } ms (n=${r.api.n})`,
          );
        }
        rows.push(...stepRows);
      } finally {
        server.child.kill("SIGTERM");
        await server.wait();
      }
    }

    const labels = [...new Set(rows.map((r) => r.label))];
    const head = STEPS.map((s) => `${s / 1000}k raw / API`).join(" | ");
    console.log(`\nMedians in ms; API ÷ raw at each size; growth = largest ÷ smallest size.`);
    console.log(`| row | ${head} | API ÷ raw | raw growth | API growth |`);
    console.log(`|---|${STEPS.map(() => "---:").join("|")}|---:|---:|---:|`);
    for (const label of labels) {
      const byStep = STEPS.map((s) => rows.find((r) => r.label === label && r.step === s)!);
      const cells = byStep.map((r) => `${ms(r.raw.median)} / ${ms(r.api.median)}`).join(" | ");
      const ratios = byStep.map((r) => (r.api.median / r.raw.median).toFixed(2)).join(", ");
      const first = byStep[0];
      const last = byStep.at(-1)!;
      console.log(
        `| ${label} | ${cells} | ${ratios} | ${
          (last.raw.median / first.raw.median).toFixed(1)
        }× | ${(last.api.median / first.api.median).toFixed(1)}× |`,
      );
    }
    await Deno.mkdir("bench/results", { recursive: true });
    const file = `bench/results/scale-${new Date().toISOString().replaceAll(":", "-")}.json`;
    await Deno.writeTextFile(file, JSON.stringify({ steps: STEPS, rounds: ROUNDS, rows }, null, 2));
    console.log(`wrote ${file}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
