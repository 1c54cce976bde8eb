/**
 * `deno task migrate`: brings the original Pensieve's data over.
 *
 *   --mongodb-url <url> [--database pensieve]      its live MongoDB: users and conversations
 *   --users <file> --conversations <file>           its dump: mongoexport JSON or mongodump .bson
 *   --user <email> <file or folder>...              its local JSON files, into one account here
 *
 * Uses the same database settings as the server (PENSIEVE_DB, …). Running it again adds only what
 * is new.
 */
import { parseArgs } from "node:util";
import { parseConfig } from "../config.ts";
import { systemClock } from "../core/clock.ts";
import { readDocuments } from "../core/import/document_reader.ts";
import {
  emptySummary,
  Importer,
  type ImportSummary,
  noteSkipped,
} from "../core/import/importer.ts";
import { ImportProblem } from "../core/import/imported.ts";
import { LegacyMigration, type LegacySource } from "../core/import/legacy_migration.ts";
import { fromLegacyPensieve } from "../core/import/legacy_pensieve.ts";
import { Invalid } from "../core/errors.ts";
import { emailSchema } from "../core/schemas.ts";
import type { Store } from "../db/store.ts";
import { openStore } from "../db/open_store.ts";
import { userPath } from "./user_path.ts";
import { conversationsDone, counting, ProgressLine, summaryLines } from "./report.ts";

const USAGE = `usage:
  deno task migrate --mongodb-url <url> [--database pensieve]
  deno task migrate --users <users.json|users.bson> --conversations <conversations.json|.bson>
  deno task migrate --user <email> <conversation.json or folder>...`;

/** Documents of one dump file, with the share of the file read so far. */
async function* fileDocuments(given: string, read: { fraction: number }) {
  const path = userPath(given);
  const size = (await Deno.stat(path)).size;
  let bytes = 0;
  const file = await Deno.open(path);
  const stream = file.readable.pipeThrough(counting((n) => {
    bytes += n;
    read.fraction = size ? bytes / size : 1;
  }));
  yield* readDocuments(stream, path);
}

/** The JSON files named, folders searched (not recursively) for `*.json`, in name order. */
async function jsonFiles(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths.map(userPath)) {
    if (!(await Deno.stat(path)).isDirectory) {
      files.push(path);
      continue;
    }
    const names: string[] = [];
    for await (const entry of Deno.readDir(path)) {
      if (entry.isFile && entry.name.endsWith(".json")) names.push(`${path}/${entry.name}`);
    }
    files.push(...names.sort());
  }
  return files;
}

async function mongoSource(url: string, database: string): Promise<LegacySource & AsyncDisposable> {
  const { MongoClient } = await import("mongodb");
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 15_000 });
  await client.connect();
  const db = client.db(database);
  return {
    users: () => db.collection("users").find({}, { sort: { _id: 1 } }),
    conversations: () => db.collection("conversations").find({}, { sort: { _id: 1 } }),
    [Symbol.asyncDispose]: () => client.close(),
  };
}

/** Local files: every conversation into one account, whatever user it names. */
async function migrateFiles(store: Store, email: string, paths: string[]): Promise<number> {
  const parsed = emailSchema.safeParse(email);
  const user = parsed.success ? await store.findUserByEmail(parsed.data) : null;
  if (!user) {
    console.error(`No account with the email ${email}. Register it first, then run this again.`);
    return 1;
  }
  const importer = new Importer(store, systemClock);
  const summary = emptySummary();
  const progress = new ProgressLine();
  let position = 0;
  for (const path of await jsonFiles(paths)) {
    try {
      for await (const raw of fileDocuments(path, { fraction: 0 })) {
        try {
          await importer.add(user.id, fromLegacyPensieve(raw, position++), summary);
        } catch (error) {
          if (!(error instanceof ImportProblem)) throw error;
          noteSkipped(summary, path, error.message);
        }
        progress.update(null, `${path}: ${conversationsDone(summary)} conversations`);
      }
    } catch (error) {
      // A damaged file is reported and the others still brought over.
      if (!(error instanceof Invalid)) throw error;
      noteSkipped(summary, path, error.message);
    }
  }
  progress.clear();
  printConversations(summary, `into ${user.email}`);
  return 0;
}

function printConversations(summary: ImportSummary, where: string): void {
  const [counts, ...skipped] = summaryLines(summary);
  console.log(`Conversations ${where}: ${counts}`);
  for (const line of skipped) console.log(line);
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      allowPositionals: true,
      options: {
        "mongodb-url": { type: "string" },
        database: { type: "string", default: "pensieve" },
        users: { type: "string" },
        conversations: { type: "string" },
        user: { type: "string" },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const fromMongo = values["mongodb-url"] !== undefined;
  const fromDump = values.users !== undefined && values.conversations !== undefined;
  const fromFiles = values.user !== undefined && positionals.length > 0;
  if ([fromMongo, fromDump, fromFiles].filter(Boolean).length !== 1) {
    console.error(USAGE);
    return 2;
  }
  const store = await openStore(parseConfig(Deno.env.toObject()).db);
  try {
    if (fromFiles) return await migrateFiles(store, values.user!, positionals);
    const read = { fraction: 0 };
    await using source = fromMongo ? await mongoSource(values["mongodb-url"]!, values.database!) : {
      users: () => fileDocuments(values.users!, { fraction: 0 }),
      conversations: () => fileDocuments(values.conversations!, read),
      [Symbol.asyncDispose]: async () => {},
    };
    const progress = new ProgressLine();
    const migration = new LegacyMigration(store, systemClock, new Importer(store, systemClock));
    const summary = await migration.migrate(source, (s) =>
      progress.update(
        fromMongo ? null : read.fraction,
        `${s.users_created + s.users_already_migrated} accounts, ` +
          `${conversationsDone(s.conversations)} conversations, ` +
          `${s.conversations.messages_added} messages`,
      ));
    progress.clear();
    console.log(
      `Accounts: ${summary.users_created} created, ${summary.users_already_migrated} already ` +
        `migrated, ${summary.users_skipped.length} skipped.`,
    );
    for (const s of summary.users_skipped) console.log(`  skipped ${s.user}: ${s.reason}`);
    printConversations(summary.conversations, "brought over");
    return 0;
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  } finally {
    await store.close();
  }
}

if (import.meta.main) Deno.exit(await main());
