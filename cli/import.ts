/**
 * `deno task import --user <email> <file>...`: brings ChatGPT or Claude exports (`.zip` or
 * `conversations*.json`) into one account, with a progress line and a summary at the end.
 * Uses the same database settings as the server (PENSIEVE_DB, …).
 */
import { parseConfig } from "../config.ts";
import { systemClock } from "../core/clock.ts";
import { PensieveError } from "../core/errors.ts";
import { emptySummary, Importer } from "../core/import/importer.ts";
import { emailSchema } from "../core/schemas.ts";
import { openStore } from "../db/open_store.ts";
import { userPath } from "./user_path.ts";
import { addSummary, conversationsDone, counting, ProgressLine, summaryLines } from "./report.ts";

const USAGE = "usage: deno task import --user <email> <export.zip|conversations.json>...";

function parseArgs(args: string[]): { email: string; files: string[] } | null {
  const files: string[] = [];
  let email: string | null = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--user") email = args[++i] ?? null;
    else if (args[i].startsWith("--user=")) email = args[i].slice(7);
    else files.push(args[i]);
  }
  return email && files.length ? { email, files } : null;
}

async function main(): Promise<number> {
  const args = parseArgs(Deno.args);
  if (!args) {
    console.error(USAGE);
    return 2;
  }
  const config = parseConfig(Deno.env.toObject());
  const store = await openStore(config.db);
  try {
    const email = emailSchema.safeParse(args.email);
    const user = email.success ? await store.findUserByEmail(email.data) : null;
    if (!user) {
      console.error(`No account with the email ${args.email}.`);
      return 1;
    }
    const importer = new Importer(store, systemClock);
    const total = emptySummary();
    const progress = new ProgressLine();
    let failed = 0;
    for (const path of args.files.map(userPath)) {
      let read = 0;
      let size = 0;
      const summary = emptySummary();
      try {
        size = (await Deno.stat(path)).size;
        const file = await Deno.open(path);
        const stream = file.readable.pipeThrough(counting((n) => (read += n)));
        const done = await importer.import(user.id, stream, {
          name: path,
          onProgress: (s) => {
            Object.assign(summary, s); // what it did so far, kept if the file breaks off
            progress.update(
              size ? read / size : null,
              `${conversationsDone(s)} conversations, ${s.messages_added} messages`,
            );
          },
        });
        Object.assign(summary, done);
        progress.clear();
        console.log(`${path}: done`);
      } catch (error) {
        // A file that cannot be read (or breaks off) is reported; what it gave stays, and the
        // other files are still imported.
        if (!(error instanceof PensieveError) && !(error instanceof Deno.errors.NotFound)) {
          throw error;
        }
        progress.clear();
        failed++;
        console.error(`${path}: ${error.message}`);
      }
      addSummary(total, summary);
    }
    const [counts, ...skipped] = summaryLines(total);
    console.log(`Imported into ${user.email}: ${counts}`);
    for (const line of skipped) console.log(line);
    return failed ? 1 : 0;
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  } finally {
    await store.close();
  }
}

if (import.meta.main) Deno.exit(await main());
