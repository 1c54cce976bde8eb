/**
 * `deno task bench`: search latency and append throughput through the real HTTP server, each
 * beside the raw SQLite work for the same thing measured in the same run. Sizes come from
 * BENCH_MESSAGES (default 100000), BENCH_ROUNDS (default 100) and BENCH_APPENDS (default 2000).
 */
import { DatabaseSync } from "node:sqlite";
import { parseSearchQuery } from "../core/search_query.ts";
import { indexText, matchExpression, ownerToken } from "../db/sqlite/search_text.ts";
import { SqliteStore } from "../db/sqlite/store.ts";
import { spawnServer } from "../tests/_helpers/process.ts";
import { seedUsers } from "./seed_users.ts";
import { corpus, MARKERS } from "./corpus.ts";
import { ms, summarize, type Summary } from "./stats.ts";

const MESSAGES = Number(Deno.env.get("BENCH_MESSAGES") ?? 100_000);
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 100);
const APPENDS = Number(Deno.env.get("BENCH_APPENDS") ?? 2000);
const APPEND_CONCURRENCY = 8;
const PER_CONVERSATION = 10;
const T0 = Date.UTC(2026, 0, 1);

const TOKEN = "psv_bench-token-bench-token-bench-token-bench";

interface Seeded {
  userId: string;
}

/** Seeds through the Store itself (synchronous NORMAL while seeding only). */
async function seed(path: string): Promise<Seeded> {
  const store = new SqliteStore({ path, synchronous: "NORMAL" });
  const text = corpus(42);
  const users = await seedUsers(store, TOKEN, T0);
  const conversations = Math.ceil(MESSAGES / PER_CONVERSATION);
  // The second user holds a tenth as much, so the owner filter has other rows to skip.
  const plan = [[users[0], conversations], [users[1], Math.ceil(conversations / 10)]] as const;
  const started = performance.now();
  for (const [userId, count] of plan) {
    for (let c = 0; c < count; c++) {
      await store.createConversation(userId, {
        id: crypto.randomUUID(),
        title: text.message().split(" ").slice(0, 6).join(" "),
        tags: [],
        source: "bench",
        metadata: {},
        messages: Array.from({ length: PER_CONVERSATION }, (_, i) => ({
          role: i % 2 ? "assistant" as const : "user" as const,
          content: text.message(),
        })),
        now: T0 + c * 1000,
      });
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const total = (conversations + Math.ceil(conversations / 10)) * PER_CONVERSATION;
  console.log(`seeded ${total} messages in ${seconds.toFixed(1)} s`);
  await store.close();
  return { userId: users[0] };
}

interface SearchRow {
  label: string;
  query: string;
  matches: number;
  raw: Summary;
  store: Summary;
  api: Summary;
}

async function timed(work: () => unknown): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

async function searchLatency(path: string, url: string, seeded: Seeded): Promise<SearchRow[]> {
  const raw = new DatabaseSync(path, { readOnly: true });
  const rawTop = raw.prepare(
    "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rank LIMIT 21",
  );
  const rawCount = raw.prepare("SELECT count(*) AS n FROM messages_fts WHERE messages_fts MATCH ?");
  const store = new SqliteStore({ path });
  const text = corpus(42);
  const queries: [string, string][] = [
    ["rare word", MARKERS.rare.word],
    ["medium word", MARKERS.medium.word],
    ["common word", MARKERS.common.word],
    ["two words", `${MARKERS.medium.word} ${MARKERS.common.word}`],
    ["most frequent word", text.vocabulary[0]],
    ["Korean", "대화"],
  ];
  const rows: SearchRow[] = [];
  for (const [label, q] of queries) {
    const parsed = parseSearchQuery(q);
    const match = matchExpression(ownerToken(seeded.userId), parsed)!;
    const apiUrl = `${url}/api/search?q=${encodeURIComponent(q)}&limit=20`;
    const headers = { Authorization: `Bearer ${TOKEN}` };
    const api = async () => {
      const res = await fetch(apiUrl, { headers });
      if (res.status !== 200) throw new Error(`search ${q}: ${res.status} ${await res.text()}`);
      await res.json();
    };
    const viaStore = () =>
      store.searchConversations(seeded.userId, { query: parsed, filter: {}, offset: 0, limit: 21 });
    const viaRaw = () => rawTop.all(match);
    for (let i = 0; i < 10; i++) {
      viaRaw();
      await viaStore();
      await api();
    }
    const samples = { raw: [] as number[], store: [] as number[], api: [] as number[] };
    // Interleaved, so drift in machine load touches all three alike.
    for (let i = 0; i < ROUNDS; i++) {
      samples.raw.push(await timed(viaRaw));
      samples.store.push(await timed(viaStore));
      samples.api.push(await timed(api));
    }
    rows.push({
      label,
      query: q,
      matches: (rawCount.get(match) as { n: number }).n,
      raw: summarize(samples.raw),
      store: summarize(samples.store),
      api: summarize(samples.api),
    });
  }
  raw.close();
  await store.close();
  return rows;
}

/** What any request costs: loopback HTTP alone, and HTTP plus bearer verification. */
async function httpFloor(url: string): Promise<{ healthz: Summary; me: Summary }> {
  const get = (path: string, headers: Record<string, string> = {}) => async () => {
    const res = await fetch(url + path, { headers });
    await res.json();
  };
  const healthz = get("/healthz");
  const me = get("/auth/me", { Authorization: `Bearer ${TOKEN}` });
  for (let i = 0; i < 20; i++) {
    await healthz();
    await me();
  }
  const samples = { healthz: [] as number[], me: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    samples.healthz.push(await timed(healthz));
    samples.me.push(await timed(me));
  }
  return { healthz: summarize(samples.healthz), me: summarize(samples.me) };
}

interface AppendResult {
  apiPerSecond: number;
  rawPerSecond: number;
  ratio: number;
}

async function appendThroughput(dir: string, url: string): Promise<AppendResult> {
  const headers = { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" };
  const created = await fetch(`${url}/api/conversations`, {
    method: "POST",
    headers,
    body: JSON.stringify({ title: "append bench" }),
  });
  const conversationId = (await created.json()).conversation.id;
  const text = corpus(7);
  const bodies = Array.from(
    { length: APPENDS },
    () => JSON.stringify({ messages: [{ role: "user", content: text.message() }] }),
  );
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      const res = await fetch(`${url}/api/conversations/${conversationId}/messages`, {
        method: "POST",
        headers,
        body,
      });
      if (res.status !== 201) throw new Error(`append: ${res.status} ${await res.text()}`);
      await res.body?.cancel();
    }
  };
  const apiStart = performance.now();
  await Promise.all(Array.from({ length: APPEND_CONCURRENCY }, worker));
  const apiSeconds = (performance.now() - apiStart) / 1000;

  // Raw: the same rows an append writes (message, FTS row via trigger, head update), one
  // durable transaction per message, synchronous FULL, on a fresh file of the same schema.
  const path = `${dir}/raw-append.db`;
  const schema = new SqliteStore({ path, synchronous: "FULL" });
  const userId = crypto.randomUUID();
  await schema.createUser({
    id: userId,
    email: "raw@example.com",
    passwordHash: "x",
    createdAt: T0,
    tokensValidAfter: 0,
  });
  const head = await schema.createConversation(userId, {
    id: crypto.randomUUID(),
    title: "raw",
    tags: [],
    source: "bench",
    metadata: {},
    messages: [],
    now: T0,
  });
  await schema.close();
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON");
  db.function(
    "pensieve_index_text",
    { deterministic: true },
    (id, t) => indexText(ownerToken(String(id)), String(t)),
  );
  const rowid = (db.prepare("SELECT rowid FROM conversations WHERE id = ?").get(head.id) as {
    rowid: number;
  }).rowid;
  const insert = db.prepare(
    "INSERT INTO messages (conversation_rowid, user_id, seq, role, content, created_at) VALUES (?, ?, ?, 'user', ?, ?)",
  );
  const bump = db.prepare(
    "UPDATE conversations SET message_count = message_count + 1, version = version + 1, updated_at = ? WHERE rowid = ?",
  );
  const contents = bodies.map((b) => JSON.parse(b).messages[0].content as string);
  const rawStart = performance.now();
  contents.forEach((content, seq) => {
    db.exec("BEGIN IMMEDIATE");
    insert.run(rowid, userId, seq, content, T0);
    bump.run(T0, rowid);
    db.exec("COMMIT");
  });
  const rawSeconds = (performance.now() - rawStart) / 1000;
  db.close();
  const apiPerSecond = APPENDS / apiSeconds;
  const rawPerSecond = APPENDS / rawSeconds;
  return { apiPerSecond, rawPerSecond, ratio: apiPerSecond / rawPerSecond };
}

async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-bench-" });
  const path = `${dir}/pensieve.db`;
  try {
    console.log(`bench: ${MESSAGES} messages, ${ROUNDS} rounds per query, ${APPENDS} appends`);
    const seeded = await seed(path);
    const server = await spawnServer({
      PENSIEVE_DB: `sqlite:${path}`,
      PENSIEVE_JWT_SECRET: "bench-secret-bench-secret-bench-secret",
    });
    try {
      const floor = await httpFloor(server.url);
      const search = await searchLatency(path, server.url, seeded);
      const append = await appendThroughput(dir, server.url);

      console.log("\nSearch latency, ms (median / p95); ratio = API median ÷ raw FTS5 median");
      console.log("| query | matches | raw FTS5 | store | API | API ÷ raw | API ÷ store |");
      console.log("|---|---:|---:|---:|---:|---:|---:|");
      for (const r of search) {
        console.log(
          `| ${r.label} (\`${r.query}\`) | ${r.matches} | ${ms(r.raw.median)} / ${
            ms(r.raw.p95)
          } | ${ms(r.store.median)} / ${ms(r.store.p95)} | ${ms(r.api.median)} / ${
            ms(r.api.p95)
          } | ${(r.api.median / r.raw.median).toFixed(2)} | ${
            (r.api.median / r.store.median).toFixed(2)
          } |`,
        );
      }
      console.log("\nRequest floor, ms (median / p95)");
      console.log("| request | latency |");
      console.log("|---|---:|");
      console.log(
        `| GET /healthz (HTTP only) | ${ms(floor.healthz.median)} / ${ms(floor.healthz.p95)} |`,
      );
      console.log(
        `| GET /auth/me (HTTP + token check) | ${ms(floor.me.median)} / ${ms(floor.me.p95)} |`,
      );
      console.log("\nAppend throughput, messages/s (one message per request / transaction)");
      console.log("| path | messages/s |");
      console.log("|---|---:|");
      console.log(
        `| API, ${APPEND_CONCURRENCY} concurrent clients | ${append.apiPerSecond.toFixed(0)} |`,
      );
      console.log(`| raw SQLite insert | ${append.rawPerSecond.toFixed(0)} |`);
      console.log(`| API ÷ raw | ${append.ratio.toFixed(2)} |`);

      await Deno.mkdir("bench/results", { recursive: true });
      const file = `bench/results/search-append-${
        new Date().toISOString().replaceAll(":", "-")
      }.json`;
      await Deno.writeTextFile(
        file,
        JSON.stringify(
          { messages: MESSAGES, rounds: ROUNDS, appends: APPENDS, search, append },
          null,
          2,
        ),
      );
      console.log(`\nwrote ${file}`);
    } finally {
      server.child.kill("SIGTERM");
      await server.wait();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
