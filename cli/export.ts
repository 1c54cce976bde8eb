/**
 * `deno task export --user <email> [--format json|markdown] [--conversation <id>] [--output <file>]`:
 * writes one account's export, the same one `GET /api/export` serves: the whole account as one
 * JSON document (`pensieve-export` v1) or a zip of one Markdown file per conversation, or one
 * conversation as JSON or Markdown. It goes to the file, or to stdout; a summary goes to stderr.
 * Uses the same database settings as the server (PENSIEVE_DB, …).
 */
import { dirname } from "node:path";
import { userPath } from "./user_path.ts";
import { parseConfig } from "../config.ts";
import { systemClock } from "../core/clock.ts";
import { Conversations } from "../core/conversations.ts";
import { type ExportedCount, Exporter } from "../core/exporter.ts";
import { emailSchema } from "../core/schemas.ts";
import { openStore } from "../db/open_store.ts";
import { counting, ProgressLine } from "./report.ts";

const USAGE = "usage: deno task export --user <email> [--format json|markdown] " +
  "[--conversation <id>] [--output <file>]";

interface ExportArgs {
  email: string;
  format: "json" | "markdown";
  conversation: string | null;
  output: string | null;
}

/** The arguments, or the reason they are not usable. */
function parseArgs(args: string[]): ExportArgs | string {
  const values: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const match = /^--(user|format|conversation|output)(?:=(.*))?$/.exec(args[i]);
    if (!match) return `unknown argument: ${args[i]}`;
    const value = match[2] ?? args[++i];
    if (!value || (match[2] === undefined && value.startsWith("--"))) {
      return `--${match[1]} needs a value`;
    }
    if (match[1] in values) return `--${match[1]} is given twice`;
    values[match[1]] = value;
  }
  if (!values.user) return "--user is required";
  const format = values.format ?? "json";
  if (format !== "json" && format !== "markdown") return "--format is json or markdown";
  return {
    email: values.user,
    format,
    conversation: values.conversation ?? null,
    // `deno task` runs in the project's folder: a relative path means the one the user was in.
    output: values.output === undefined ? null : userPath(values.output),
  };
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** Where the export goes: a temp file renamed over `path` once complete, or stdout. */
async function destination(path: string | null) {
  if (path === null) {
    return { writable: Deno.stdout.writable, done: (_ok?: boolean) => Promise.resolve() };
  }
  const temp = await Deno.makeTempFile({ dir: dirname(path), prefix: ".pensieve-export-" });
  const file = await Deno.open(temp, { write: true, truncate: true });
  let finished = false;
  return {
    writable: file.writable,
    /** Puts the file in place after a complete export; removes it after a failed one. */
    async done(ok = true) {
      if (finished) return;
      if (ok) await Deno.rename(temp, path);
      else await Deno.remove(temp).catch(() => {});
      finished = true;
    },
  };
}

async function main(): Promise<number> {
  if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const args = parseArgs(Deno.args);
  if (typeof args === "string") {
    console.error(`${args}\n${USAGE}`);
    return 2;
  }
  const zip = args.format === "markdown" && args.conversation === null;
  if (zip && args.output === null && Deno.stdout.isTerminal()) {
    console.error(
      `A zip is not for a terminal: give --output <file.zip>, or redirect stdout.\n${USAGE}`,
    );
    return 2;
  }
  const config = parseConfig(Deno.env.toObject());
  const store = await openStore(config.db);
  let out: Awaited<ReturnType<typeof destination>> | null = null;
  try {
    const email = emailSchema.safeParse(args.email);
    const user = email.success ? await store.findUserByEmail(email.data) : null;
    if (!user) {
      console.error(`No account with the email ${args.email}.`);
      return 1;
    }
    const exporter = new Exporter(new Conversations(store, systemClock), systemClock);
    let conversations = 0;
    let messages = 0;
    const progress = new ProgressLine();
    const onConversation = (written: ExportedCount) => {
      conversations++;
      messages += written.messages;
      progress.update(null, `${conversations} conversations, ${messages} messages`);
    };
    let body: ReadableStream<Uint8Array>;
    if (args.conversation !== null) {
      const one = /^[0-9a-f-]{36}$/i.test(args.conversation)
        ? await exporter.oneStream(user.id, args.conversation, {
          format: args.format,
          onConversation,
        })
        : null;
      if (!one) {
        console.error(`${user.email} has no conversation with the id ${args.conversation}.`);
        return 1;
      }
      body = one;
    } else if (zip) {
      body = exporter.markdownZip(user.id, { onConversation });
    } else {
      body = exporter.all(user.id, { onConversation });
    }
    let bytes = 0;
    out = await destination(args.output);
    await body.pipeThrough(counting((n) => (bytes += n))).pipeTo(out.writable);
    await out.done();
    progress.clear();
    console.error(
      `Exported ${count(conversations, "conversation")}, ${count(messages, "message")} of ` +
        `${user.email} to ${args.output ?? "stdout"}: ${count(bytes, "byte")}.`,
    );
    return 0;
  } catch (error) {
    await out?.done(false);
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  } finally {
    await store.close();
  }
}

if (import.meta.main) Deno.exit(await main());
