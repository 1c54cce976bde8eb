import type { Clock } from "./clock.ts";
import type { Conversations } from "./conversations.ts";
import { NotFound } from "./errors.ts";
import { LIMITS } from "./limits.ts";
import type { Conversation, Message } from "./types.ts";
import { conversationView, messageView } from "./views.ts";
import type { ZipDeflate } from "fflate";

/** The export format's name and version, written at the top of every export. */
export const EXPORT_FORMAT = { format: "pensieve-export", version: 1 } as const;

/**
 * Messages are read this many at a time while exporting: a message may be 1 MiB, so a page is
 * what an export holds of a conversation, however long the conversation grows.
 */
const EXPORT_PAGE = 20;

/** A conversation as it has been written to an export: which one, and how many messages. */
export interface ExportedCount {
  id: string;
  title: string;
  messages: number;
}

/** What a caller of an export may ask for. */
export interface ExportOptions {
  /** Called with each conversation once it is written, for counts and progress. */
  onConversation?: (written: ExportedCount) => void;
}

type MessageView = ReturnType<typeof messageView>;
type ConversationView = ReturnType<typeof conversationView>;

/** The head of the conversation and its messages, a page at a time; nothing when it is gone. */
async function* pages(
  conversations: Conversations,
  userId: string,
  conversationId: string,
): AsyncGenerator<{ head: Conversation; messages: Message[] }> {
  let after: number | undefined;
  for (;;) {
    let page;
    try {
      page = await conversations.load(userId, conversationId, {
        afterSeq: after,
        limit: EXPORT_PAGE,
      });
    } catch (error) {
      // Deleted before it was read (left out), or while it was (what was read stands).
      if (error instanceof NotFound) return;
      throw error;
    }
    yield { head: page.conversation, messages: page.messages };
    if (page.nextAfterSeq === null) return;
    after = page.nextAfterSeq;
  }
}

/**
 * One conversation in the export's JSON, produced a page of messages at a time: exactly
 * `JSON.stringify({ ...conversationView(head), messages })`, never held whole.
 */
async function* conversationJson(
  conversations: Conversations,
  userId: string,
  conversationId: string,
  written: (count: ExportedCount) => void,
): AsyncGenerator<string> {
  let head: Conversation | null = null;
  let count = 0;
  for await (const page of pages(conversations, userId, conversationId)) {
    if (head === null) {
      head = page.head;
      yield `${JSON.stringify(conversationView(head)).slice(0, -1)},"messages":[`;
    }
    if (page.messages.length) {
      yield (count ? "," : "") + page.messages.map((m) => JSON.stringify(messageView(m))).join(",");
      count += page.messages.length;
    }
  }
  if (head === null) return;
  yield "]}";
  written({ id: head.id, title: head.title, messages: count });
}

/** The ids of every conversation of the user, newest first, taken once. */
async function allIds(conversations: Conversations, userId: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await conversations.list(userId, { cursor, limit: LIMITS.listPageMax });
    ids.push(...page.items.map((c) => c.id));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return ids;
}

/** Text as a stream of UTF-8, pulled a piece at a time. */
function encoded(parts: AsyncIterable<string | Uint8Array>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = parts[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await iterator.next();
        if (next.done) controller.close();
        else {
          controller.enqueue(
            typeof next.value === "string" ? encoder.encode(next.value) : next.value,
          );
        }
      } catch (error) {
        controller.error(error);
      }
    },
    async cancel() {
      await iterator.return?.();
    },
  }, { highWaterMark: 0 });
}

/**
 * Everything one user has, as one JSON document (`pensieve-export` v1), produced as it is read:
 * a page of one conversation's messages per pull, so neither a large history nor one long
 * conversation ever sits in memory whole, and a slow reader holds nothing up. The list is taken
 * once, first: changes during the export move nothing out of it, and a conversation deleted
 * meanwhile is left out.
 */
export function exportAll(
  conversations: Conversations,
  clock: Clock,
  userId: string,
  options: ExportOptions = {},
): ReadableStream<Uint8Array> {
  const written = options.onConversation ?? (() => {});
  return encoded((async function* () {
    const ids = await allIds(conversations, userId);
    const head = JSON.stringify({
      ...EXPORT_FORMAT,
      exported_at: new Date(clock.now()).toISOString(),
    });
    yield `${head.slice(0, -1)},"conversations":[`;
    let first = true;
    for (const id of ids) {
      let opened = false;
      for await (const part of conversationJson(conversations, userId, id, written)) {
        yield opened || first ? part : `,${part}`;
        opened = true;
      }
      if (opened) first = false;
    }
    yield "]}";
  })());
}

/**
 * One conversation in the export's JSON, streamed a page at a time; null when the user has no
 * conversation with this id.
 */
export async function exportOneStream(
  conversations: Conversations,
  userId: string,
  conversationId: string,
  options: ExportOptions & { format?: "json" | "markdown" } = {},
): Promise<ReadableStream<Uint8Array> | null> {
  try {
    await conversations.get(userId, conversationId);
  } catch (error) {
    if (error instanceof NotFound) return null;
    throw error;
  }
  const written = options.onConversation ?? (() => {});
  return encoded(
    options.format === "markdown"
      ? conversationMarkdownParts(conversations, userId, conversationId, written)
      : conversationJson(conversations, userId, conversationId, written),
  );
}

/** One conversation with every message, in the export's shape; null when it is gone. */
export async function exportOne(
  conversations: Conversations,
  userId: string,
  conversationId: string,
) {
  let doc: (ConversationView & { messages: MessageView[] }) | null = null;
  for await (const page of pages(conversations, userId, conversationId)) {
    doc ??= { ...conversationView(page.head), messages: [] };
    doc.messages.push(...page.messages.map(messageView));
  }
  return doc;
}

/** A conversation in the export's shape: its head and every message. */
export type ExportedConversation = NonNullable<Awaited<ReturnType<typeof exportOne>>>;

/** The Markdown of a conversation's head: its title, source, tags and times. */
function markdownHead(doc: ConversationView): string {
  return [
    // One line: a line break in a title would end the heading and start the document's text.
    `# ${doc.title.replace(/\s+/g, " ").trim()}`,
    "",
    `- source: ${doc.source}`,
    ...(doc.tags.length ? [`- tags: ${doc.tags.join(", ")}`] : []),
    `- created: ${doc.created_at}`,
    `- updated: ${doc.updated_at}`,
    "",
  ].join("\n");
}

/** The Markdown of one message, with the line break that comes before it. */
function markdownMessage(m: MessageView): string {
  return `\n## ${m.role} · ${m.created_at}\n\n${m.content}\n`;
}

/** A conversation as a Markdown document: title, then each message under its role and time. */
export function conversationMarkdown(doc: ExportedConversation): string {
  return markdownHead(doc) + doc.messages.map(markdownMessage).join("");
}

/** conversationMarkdown, produced a page of messages at a time. */
async function* conversationMarkdownParts(
  conversations: Conversations,
  userId: string,
  conversationId: string,
  written: (count: ExportedCount) => void,
): AsyncGenerator<string> {
  let head: Conversation | null = null;
  let count = 0;
  for await (const page of pages(conversations, userId, conversationId)) {
    if (head === null) {
      head = page.head;
      yield markdownHead(conversationView(head));
    }
    if (page.messages.length) {
      yield page.messages.map((m) => markdownMessage(messageView(m))).join("");
      count += page.messages.length;
    }
  }
  if (head !== null) written({ id: head.id, title: head.title, messages: count });
}

/**
 * A file name from a title: letters and digits kept (any script, never a path or a name a system
 * reserves, since the id's start follows), unique in the zip even where case is not told apart
 * (two "New chat" conversations whose ids start alike get -2, -3, …).
 */
function fileName(head: Conversation, taken: Set<string>): string {
  const letters = Array.from(
    head.title.normalize("NFC").replace(/[^\p{L}\p{N}]+/gu, "-").replace(/^-|-$/g, ""),
  );
  const slug = letters.slice(0, 60).join("").replace(/-$/, "") || "conversation";
  const base = `${slug}-${head.id.slice(0, 8)}`;
  let name = `${base}.md`;
  for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${base}-${n}.md`;
  taken.add(name.toLowerCase());
  return name;
}

/**
 * Every conversation as its own Markdown file in one zip, produced a page of messages per pull
 * like the JSON export.
 */
export function exportMarkdownZip(
  conversations: Conversations,
  userId: string,
  options: ExportOptions = {},
): ReadableStream<Uint8Array> {
  const written = options.onConversation ?? (() => {});
  const encoder = new TextEncoder();
  return encoded((async function* () {
    const ids = await allIds(conversations, userId);
    const taken = new Set<string>();
    const pending: Uint8Array[] = [];
    // Loaded here, not at start-up: zip export is rare and fflate is not small.
    const { Zip, ZipDeflate } = await import("fflate");
    const zip = new Zip((error, chunk) => {
      if (error) throw error;
      pending.push(chunk);
    });
    for (const id of ids) {
      let file: ZipDeflate | null = null;
      let title = "";
      let count = 0;
      for await (const page of pages(conversations, userId, id)) {
        if (file === null) {
          title = page.head.title;
          file = new ZipDeflate(fileName(page.head, taken), { level: 6 });
          zip.add(file);
          file.push(encoder.encode(markdownHead(conversationView(page.head))));
        }
        const text = page.messages.map((m) => markdownMessage(messageView(m))).join("");
        file.push(encoder.encode(text));
        count += page.messages.length;
        yield* pending.splice(0);
      }
      if (file !== null) {
        file.push(new Uint8Array(), true);
        written({ id, title, messages: count });
      }
      yield* pending.splice(0);
    }
    zip.end();
    yield* pending.splice(0);
  })());
}

/** Exports for one app: the whole account, or one conversation. */
export class Exporter {
  constructor(private readonly conversations: Conversations, private readonly clock: Clock) {}

  all(userId: string, options: ExportOptions = {}): ReadableStream<Uint8Array> {
    return exportAll(this.conversations, this.clock, userId, options);
  }

  /** One conversation, whole in memory (for a page that shows it); prefer `oneStream`. */
  one(userId: string, conversationId: string) {
    return exportOne(this.conversations, userId, conversationId);
  }

  /** One conversation as JSON or Markdown, streamed; null when the user has no such one. */
  oneStream(
    userId: string,
    conversationId: string,
    options: ExportOptions & { format?: "json" | "markdown" } = {},
  ): Promise<ReadableStream<Uint8Array> | null> {
    return exportOneStream(this.conversations, userId, conversationId, options);
  }

  markdownZip(userId: string, options: ExportOptions = {}): ReadableStream<Uint8Array> {
    return exportMarkdownZip(this.conversations, userId, options);
  }
}
