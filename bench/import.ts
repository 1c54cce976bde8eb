/**
 * Import throughput and memory: a generated ChatGPT export (2,000 conversations, 100,000
 * messages by default) imported through the real Importer into a fresh SQLite file with the
 * production setting (synchronous=FULL), next to the raw insert rate of the same messages into
 * the same schema, measured in the same run. Peak memory is the highest RSS sampled every 20 ms.
 *
 *   deno task bench:import        (BENCH_CONVERSATIONS, BENCH_MESSAGES_PER to change the size)
 */
import { systemClock } from "../core/clock.ts";
import { Importer } from "../core/import/importer.ts";
import { DatabaseSync } from "node:sqlite";
import { indexText, ownerToken } from "../db/sqlite/search_text.ts";
import { SqliteStore } from "../db/sqlite/store.ts";
import { taskRunFlags } from "../tests/_helpers/process.ts";

const CONVERSATIONS = Number(Deno.env.get("BENCH_CONVERSATIONS") ?? 2000);
const PER = Number(Deno.env.get("BENCH_MESSAGES_PER") ?? 50);
const T0 = 1_700_000_000;

const words = ["kyoto", "garden", "bread", "lighthouse", "river", "compile", "deploy", "poem"];
function sentence(i: number): string {
  let s = "";
  for (let k = 0; k < 24; k++) s += words[(i * 7 + k * 3) % words.length] + " ";
  return s + `#${i}`;
}

/** Writes the export to a file, one conversation at a time. */
async function writeExport(path: string): Promise<number> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const w = file.writable.getWriter();
  const enc = new TextEncoder();
  await w.write(enc.encode("["));
  for (let c = 0; c < CONVERSATIONS; c++) {
    const mapping: Record<string, unknown> = {};
    let parent: string | null = null;
    for (let m = 0; m < PER; m++) {
      const id = `c${c}-m${m}`;
      mapping[id] = {
        id,
        parent,
        children: m + 1 < PER ? [`c${c}-m${m + 1}`] : [],
        message: {
          id,
          author: { role: m % 2 ? "assistant" : "user" },
          create_time: T0 + c * 100 + m,
          content: { content_type: "text", parts: [sentence(c * PER + m)] },
          weight: 1,
          metadata: m % 2 ? { model_slug: "gpt-4o" } : {},
        },
      };
      parent = id;
    }
    const conversation = {
      id: `conv-${c}`,
      title: `Conversation ${c}`,
      create_time: T0 + c * 100,
      update_time: T0 + c * 100 + PER,
      current_node: parent,
      mapping,
    };
    await w.write(enc.encode((c ? "," : "") + JSON.stringify(conversation)));
  }
  await w.write(enc.encode("]"));
  await w.close();
  return (await Deno.stat(path)).size;
}

function sampler() {
  let peak = Deno.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, Deno.memoryUsage().rss);
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, Deno.memoryUsage().rss);
    },
  };
}

const mb = (n: number) => (n / 1024 / 1024).toFixed(1);

/** In a process of its own, so its memory is the importer's and not the generator's. */
async function importInChild(exportPath: string, dbPath: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    // Tuned as `deno task import` runs (its V8 flags), since that is what is measured.
    args: ["run", ...taskRunFlags("import"), "--allow-all", new URL(import.meta.url).pathname],
    env: { BENCH_IMPORT_CHILD: JSON.stringify({ exportPath, dbPath }) },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (out.code !== 0) throw new Error("the import process failed");
  return JSON.parse(new TextDecoder().decode(out.stdout)) as {
    seconds: number;
    before: number;
    peak: number;
    messages: number;
    skipped: number;
  };
}

const child = Deno.env.get("BENCH_IMPORT_CHILD");
if (child) {
  const { exportPath, dbPath } = JSON.parse(child);
  const store = new SqliteStore({ path: dbPath, synchronous: "FULL" });
  const importUser = crypto.randomUUID();
  await store.createUser({
    id: importUser,
    email: "import@example.com",
    passwordHash: "x",
    createdAt: 0,
    tokensValidAfter: 0,
  });
  const before = Deno.memoryUsage().rss;
  const memory = sampler();
  const started = performance.now();
  const file = await Deno.open(exportPath);
  const summary = await new Importer(store, systemClock).import(importUser, file.readable, {
    name: exportPath,
  });
  const seconds = (performance.now() - started) / 1000;
  const peak = memory.stop();
  await store.close();
  console.log(JSON.stringify({
    seconds,
    before,
    peak,
    messages: summary.messages_added,
    skipped: summary.skipped.length,
  }));
  Deno.exit(0);
}

const dir = await Deno.makeTempDir({ prefix: "pensieve-bench-import-" });
try {
  const exportPath = `${dir}/conversations.json`;
  const size = await writeExport(exportPath);
  const total = CONVERSATIONS * PER;
  console.log(`export: ${CONVERSATIONS} conversations, ${total} messages, ${mb(size)} MB`);

  // Raw: the same messages inserted straight into the same schema (made by SqliteStore, so its
  // FTS triggers run too: what any import must pay for search), with prepared statements, one
  // transaction per conversation, synchronous=FULL.
  const rawPath = `${dir}/raw.db`;
  const raw = new SqliteStore({ path: rawPath, synchronous: "FULL" });
  const userId = crypto.randomUUID();
  await raw.createUser({
    id: userId,
    email: "raw@example.com",
    passwordHash: "x",
    createdAt: 0,
    tokensValidAfter: 0,
  });
  await raw.close();
  const db = new DatabaseSync(rawPath);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON");
  db.function(
    "pensieve_index_text",
    { deterministic: true },
    (user, text) => indexText(ownerToken(String(user)), String(text)),
  );
  const insertConversation = db.prepare(
    `INSERT INTO conversations (id, user_id, title, tags, source, metadata, message_count, version, created_at, updated_at)
     VALUES (?, ?, ?, '[]', 'raw', '{}', ?, 1, ?, ?) RETURNING rowid`,
  );
  const insertMessage = db.prepare(
    `INSERT INTO messages (conversation_rowid, user_id, seq, role, content, created_at, client_message_id, metadata)
     VALUES (?, ?, ?, ?, ?, ?, ?, NULL)`,
  );
  const started = performance.now();
  for (let c = 0; c < CONVERSATIONS; c++) {
    db.exec("BEGIN IMMEDIATE");
    const { rowid } = insertConversation.get(
      crypto.randomUUID(),
      userId,
      `Conversation ${c}`,
      PER,
      T0,
      T0,
    ) as { rowid: number };
    for (let m = 0; m < PER; m++) {
      insertMessage.run(
        rowid,
        userId,
        m,
        m % 2 ? "assistant" : "user",
        sentence(c * PER + m),
        T0 + m,
        `c${c}-m${m}`,
      );
    }
    db.exec("COMMIT");
  }
  const rawSeconds = (performance.now() - started) / 1000;
  db.close();

  // Pensieve's importer, streaming the file, in a fresh process.
  const result = await importInChild(exportPath, `${dir}/import.db`);
  if (result.messages !== total || result.skipped) {
    throw new Error(`import incomplete: ${JSON.stringify(result)}`);
  }
  const importSeconds = result.seconds;
  const { before, peak } = result;

  const rawRate = total / rawSeconds;
  const importRate = total / importSeconds;
  console.log(`raw inserts:  ${rawRate.toFixed(0)} messages/s (${rawSeconds.toFixed(1)} s)`);
  console.log(`importer:     ${importRate.toFixed(0)} messages/s (${importSeconds.toFixed(1)} s)`);
  console.log(`ratio:        ${(importRate / rawRate).toFixed(2)} (goal ≥ 0.33)`);
  console.log(
    `memory:       RSS ${mb(before)} MB before, peak ${mb(peak)} MB; ` +
      `peak ÷ file ${(peak / size).toFixed(2)}, growth ÷ file ${
        ((peak - before) / size).toFixed(2)
      } (goal < 3)`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
