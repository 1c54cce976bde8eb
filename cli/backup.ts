/**
 * `deno task backup [OUTPUT]`: an online backup of the SQLite database, safe while servers run on
 * it (WAL: they go on reading and writing), then checked with `PRAGMA integrity_check`. Uses the
 * same database settings as the server (PENSIEVE_DB, PENSIEVE_DATA_DIR); the copy goes to OUTPUT
 * (relative to where the task was started), else to `<data dir>/backups/pensieve-<UTC time>.db`.
 * For MongoDB it prints the `mongodump` command to use instead and exits 2.
 */
import { backup, DatabaseSync } from "node:sqlite";
import { dirname, join } from "node:path";
import { ConfigError, parseConfig } from "../config.ts";
import { userPath } from "./user_path.ts";

const USAGE = "usage: deno task backup [OUTPUT.db]";

/** The command a MongoDB deployment backs up with; the URL stays in the environment. */
export const MONGODUMP_COMMAND =
  'mongodump --uri="$PENSIEVE_DB" --archive="pensieve-$(date -u +%Y%m%dT%H%M%SZ).archive.gz" --gzip';

function mongodbAdvice(): string {
  return [
    "PENSIEVE_DB names MongoDB: back it up with MongoDB's own tools (MongoDB Database Tools), e.g.",
    "",
    `  ${MONGODUMP_COMMAND}`,
    "",
    'Restore with: mongorestore --uri="$PENSIEVE_DB" --archive=FILE --gzip',
    "On Azure Cosmos DB for MongoDB the service also keeps its own backups (continuous or periodic).",
  ].join("\n");
}

function timestamp(date: Date): string {
  return date.toISOString().replaceAll(":", "-").replace(/\.\d+Z$/, "Z");
}

/** A count per table, for the report; a table this database does not have is left out. */
function tableCounts(db: DatabaseSync): string {
  const parts: string[] = [];
  for (
    const [table, noun] of [["users", "accounts"], ["conversations", "conversations"], [
      "messages",
      "messages",
    ]]
  ) {
    try {
      const row = db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number };
      parts.push(`${row.n} ${noun}`);
    } catch {
      // not a Pensieve table in this database
    }
  }
  return parts.join(", ");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function main(args: string[]): Promise<number> {
  if (args.length > 1 || args[0]?.startsWith("-")) {
    console.error(USAGE);
    return 2;
  }
  let config;
  try {
    config = parseConfig(Deno.env.toObject());
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`pensieve: configuration error: ${error.message}`);
      return 2;
    }
    throw error;
  }
  if (config.db.kind === "mongodb") {
    console.error(mongodbAdvice());
    return 2;
  }
  const source = config.db.path;
  if (source === ":memory:") {
    console.error("PENSIEVE_DB is an in-memory database: there is nothing to back up.");
    return 2;
  }
  if (!(await exists(source))) {
    console.error(`No database at ${source} (PENSIEVE_DB).`);
    return 1;
  }
  // OUTPUT is the user's path (from where they ran the task); the default sits by the data.
  const output = args[0] !== undefined
    ? userPath(args[0])
    : join(config.dataDir, "backups", `pensieve-${timestamp(new Date())}.db`);
  if (await exists(output)) {
    console.error(`${output} already exists; choose another path.`);
    return 1;
  }
  await Deno.mkdir(dirname(output), { recursive: true });

  // Read-only: the backup never writes to the live database. The wait covers a writer's
  // checkpoint on another connection.
  const db = new DatabaseSync(source, { readOnly: true, timeout: 10_000 });
  let pages: number;
  try {
    // Every page in one step, under one read transaction: a consistent snapshot that writers
    // (WAL) do not wait for. Step by step, a write from a server would restart the copy.
    pages = await backup(db, output, { rate: -1 });
  } finally {
    db.close();
  }

  const copy = new DatabaseSync(output, { timeout: 10_000 });
  try {
    // One self-contained file: the copy carries the source's WAL mode, which would give it
    // -wal and -shm companions as soon as it is opened.
    copy.exec("PRAGMA journal_mode = DELETE");
    const pageSize = (copy.prepare("PRAGMA page_size").get() as { page_size: number }).page_size;
    const mib = (pages * pageSize / 1024 / 1024).toFixed(1);
    console.log(`Copied ${pages} pages (${mib} MiB) from ${source} to ${output}`);
    const problems = (copy.prepare("PRAGMA integrity_check").all() as { integrity_check: string }[])
      .map((row) => row.integrity_check);
    if (problems.length !== 1 || problems[0] !== "ok") {
      console.error(`integrity_check FAILED on ${output}:`);
      for (const problem of problems.slice(0, 20)) console.error(`  ${problem}`);
      return 1;
    }
    const counts = tableCounts(copy);
    console.log(`integrity_check: ok${counts ? ` (${counts})` : ""}`);
    console.log(
      "To restore: stop every server, then put this file in place of the database and delete " +
        "its -wal and -shm files.",
    );
    return 0;
  } finally {
    copy.close();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
