import type { Clock } from "./clock.ts";
import type { Conversations } from "./conversations.ts";
import { NotFound } from "./errors.ts";
import { LIMITS } from "./limits.ts";
import type { Conversation } from "./types.ts";
import { conversationView, messageView } from "./views.ts";
import { Zip, ZipDeflate } from "fflate";

/** The export format's name and version, written at the top of every export. */
export const EXPORT_FORMAT = { format: "pensieve-export", version: 1 } as const;

/** What a caller of a whole-account export may ask for. */
export interface ExportOptions {
  /** Called with each conversation as it is written, for counts and progress. */
  onConversation?: (doc: ExportedConversation) => void;
}

/**
 * Everything one user has, as one JSON document (`pensieve-export` v1), produced as it is read:
 * one conversation per pull, so a large history never sits in memory whole and a slow reader
 * holds nothing up. The list is taken once, first: changes during the export move nothing out of
 * it, and a conversation deleted meanwhile is left out.
 */
export function exportAll(
  conversations: Conversations,
  clock: Clock,
  userId: string,
  options: ExportOptions = {},
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let heads: Conversation[] | null = null;
  let index = 0;
  let written = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (heads === null) {
          heads = [];
          let cursor: string | undefined;
          do {
            const page = await conversations.list(userId, { cursor, limit: LIMITS.listPageMax });
            heads.push(...page.items);
            cursor = page.nextCursor ?? undefined;
          } while (cursor);
          const head = JSON.stringify({
            ...EXPORT_FORMAT,
            exported_at: new Date(clock.now()).toISOString(),
          });
          controller.enqueue(encoder.encode(`${head.slice(0, -1)},"conversations":[`));
          return;
        }
        while (index < heads.length) {
          const one = await exportOne(conversations, userId, heads[index++].id);
          if (one === null) continue;
          options.onConversation?.(one);
          controller.enqueue(encoder.encode(`${written++ > 0 ? "," : ""}${JSON.stringify(one)}`));
          return;
        }
        controller.enqueue(encoder.encode("]}"));
        controller.close();
      } catch (error) {
        controller.error(error);
      }
    },
  }, { highWaterMark: 0 });
}

/** One conversation with every message, in the export's shape; null when it is gone. */
export async function exportOne(
  conversations: Conversations,
  userId: string,
  conversationId: string,
) {
  try {
    const first = await conversations.load(userId, conversationId, {
      limit: LIMITS.messagePageMax,
    });
    const messages = first.messages.map(messageView);
    let after = first.nextAfterSeq;
    while (after !== null) {
      const more = await conversations.load(userId, conversationId, {
        afterSeq: after,
        limit: LIMITS.messagePageMax,
      });
      messages.push(...more.messages.map(messageView));
      after = more.nextAfterSeq;
    }
    return { ...conversationView(first.conversation), messages };
  } catch (error) {
    if (error instanceof NotFound) return null;
    throw error;
  }
}

/** A conversation in the export's shape: its head and every message. */
export type ExportedConversation = NonNullable<Awaited<ReturnType<typeof exportOne>>>;

/** A conversation as a Markdown document: title, then each message under its role and time. */
export function conversationMarkdown(doc: ExportedConversation): string {
  const head = [
    // One line: a line break in a title would end the heading and start the document's text.
    `# ${doc.title.replace(/\s+/g, " ").trim()}`,
    "",
    `- source: ${doc.source}`,
    ...(doc.tags.length ? [`- tags: ${doc.tags.join(", ")}`] : []),
    `- created: ${doc.created_at}`,
    `- updated: ${doc.updated_at}`,
    "",
  ];
  const body = doc.messages.map((m) => `## ${m.role} · ${m.created_at}\n\n${m.content}\n`);
  return head.concat(body).join("\n");
}

/**
 * A file name from a title: letters and digits kept (any script, never a path or a name a system
 * reserves, since the id's start follows), unique in the zip even where case is not told apart
 * (two "New chat" conversations whose ids start alike get -2, -3, …).
 */
function fileName(doc: ExportedConversation, taken: Set<string>): string {
  const letters = Array.from(
    doc.title.normalize("NFC").replace(/[^\p{L}\p{N}]+/gu, "-").replace(/^-|-$/g, ""),
  );
  const slug = letters.slice(0, 60).join("").replace(/-$/, "") || "conversation";
  const base = `${slug}-${doc.id.slice(0, 8)}`;
  let name = `${base}.md`;
  for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${base}-${n}.md`;
  taken.add(name.toLowerCase());
  return name;
}

/**
 * Every conversation as its own Markdown file in one zip, produced a conversation per pull like
 * the JSON export.
 */
export function exportMarkdownZip(
  conversations: Conversations,
  userId: string,
  options: ExportOptions = {},
): ReadableStream<Uint8Array> {
  let ids: string[] | null = null;
  let index = 0;
  const taken = new Set<string>();
  const pending: Uint8Array[] = [];
  let done = false;
  const zip = new Zip((error, chunk, final) => {
    if (error) throw error;
    pending.push(chunk);
    if (final) done = true;
  });
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (ids === null) {
          ids = [];
          let cursor: string | undefined;
          do {
            const page = await conversations.list(userId, { cursor, limit: LIMITS.listPageMax });
            ids.push(...page.items.map((c) => c.id));
            cursor = page.nextCursor ?? undefined;
          } while (cursor);
        }
        while (!pending.length && !done) {
          if (index >= ids.length) {
            zip.end();
            break;
          }
          const doc = await exportOne(conversations, userId, ids[index++]);
          if (!doc) continue;
          options.onConversation?.(doc);
          const file = new ZipDeflate(fileName(doc, taken), { level: 6 });
          zip.add(file);
          file.push(new TextEncoder().encode(conversationMarkdown(doc)), true);
        }
        while (pending.length) controller.enqueue(pending.shift()!);
        if (done) controller.close();
      } catch (error) {
        controller.error(error);
      }
    },
  }, { highWaterMark: 0 });
}

/** Exports for one app: the whole account, or one conversation. */
export class Exporter {
  constructor(private readonly conversations: Conversations, private readonly clock: Clock) {}

  all(userId: string, options: ExportOptions = {}): ReadableStream<Uint8Array> {
    return exportAll(this.conversations, this.clock, userId, options);
  }

  one(userId: string, conversationId: string) {
    return exportOne(this.conversations, userId, conversationId);
  }

  markdownZip(userId: string, options: ExportOptions = {}): ReadableStream<Uint8Array> {
    return exportMarkdownZip(this.conversations, userId, options);
  }
}
