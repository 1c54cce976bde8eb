/**
 * `deno task import --user <email> <file>...`: brings ChatGPT or Claude exports (`.zip` or
 * `conversations*.json`) into one account, with a progress line and a summary at the end.
 * Uses the same database settings as the server (PENSIEVE_DB, …).
 */
import { parseConfig } from "../config.ts";
import { systemClock } from "../core/clock.ts";
import { Importer, type ImportSummary } from "../core/import/importer.ts";
import { emailSchema } from "../core/schemas.ts";
import { openStore } from "../db/open_store.ts";

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

/** Counts bytes as they pass, for the progress line. */
function counting(onBytes: (n: number) => void): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, controller) {
      onBytes(chunk.length);
      controller.enqueue(chunk);
    },
  });
}

async function main(): Promise<number> {
  const args = parseArgs(Deno.args);
  if (!args) {
    console.error(USAGE);
    return 2;
  }
  const config = parseConfig(Deno.env.toObject());
  const store = openStore(config.db);
  try {
    const user = await store.findUserByEmail(emailSchema.parse(args.email));
    if (!user) {
      console.error(`No account with the email ${args.email}.`);
      return 1;
    }
    const importer = new Importer(store, systemClock);
    const total: ImportSummary = {
      conversations_created: 0,
      conversations_updated: 0,
      conversations_unchanged: 0,
      messages_added: 0,
      skipped: [],
    };
    const tty = Deno.stderr.isTerminal();
    for (const path of args.files) {
      const size = (await Deno.stat(path)).size;
      let read = 0;
      const file = await Deno.open(path);
      const stream = file.readable.pipeThrough(counting((n) => (read += n)));
      let last = 0;
      const summary = await importer.import(user.id, stream, {
        name: path,
        onProgress: (s) => {
          const now = Date.now();
          if (now - last < 200) return;
          last = now;
          const done = s.conversations_created + s.conversations_updated +
            s.conversations_unchanged;
          const pct = size ? Math.min(100, Math.floor((read / size) * 100)) : 100;
          const bar = "#".repeat(Math.floor(pct / 4)).padEnd(25, ".");
          const line = `[${bar}] ${pct}% ${done} conversations, ${s.messages_added} messages`;
          if (tty) Deno.stderr.writeSync(new TextEncoder().encode(`\r${line}`));
        },
      });
      if (tty) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
      for (const key of Object.keys(total) as (keyof ImportSummary)[]) {
        if (key === "skipped") total.skipped.push(...summary.skipped);
        else total[key] += summary[key];
      }
      console.log(`${path}: done`);
    }
    console.log(
      `Imported into ${user.email}: ${total.conversations_created} new conversations, ` +
        `${total.conversations_updated} updated, ${total.conversations_unchanged} unchanged, ` +
        `${total.messages_added} messages added, ${total.skipped.length} skipped.`,
    );
    for (const s of total.skipped) console.log(`  skipped ${s.conversation}: ${s.reason}`);
    return 0;
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  } finally {
    await store.close();
  }
}

if (import.meta.main) Deno.exit(await main());
