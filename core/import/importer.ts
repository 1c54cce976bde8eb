import type { Clock } from "../clock.ts";
import { defaultTitle, idempotentId } from "../conversations.ts";
import { PensieveError } from "../errors.ts";
import { LIMITS } from "../limits.ts";
import type { NewMessage } from "../types.ts";
import type { Store } from "../../db/store.ts";
import { fromChatGpt } from "./chatgpt.ts";
import { fromClaude } from "./claude.ts";
import { fromLegacyPensieve, isLegacyConversation } from "./legacy_pensieve.ts";
import { fromPensieve } from "./pensieve.ts";
import { readExport } from "./export_reader.ts";
import { type ImportedConversation, ImportProblem } from "./imported.ts";

/** What an import did, in numbers, and what it could not take with the reason. */
export interface ImportSummary {
  conversations_created: number;
  conversations_updated: number;
  conversations_unchanged: number;
  messages_added: number;
  skipped: { conversation: string; reason: string }[];
}

export function emptySummary(): ImportSummary {
  return {
    conversations_created: 0,
    conversations_updated: 0,
    conversations_unchanged: 0,
    messages_added: 0,
    skipped: [],
  };
}

/** Text as SQLite will keep it: no NUL (it would cut the string), no lone surrogates. */
function storable(text: string, max: number): string {
  const clean = text.replaceAll("\u0000", "\uFFFD").toWellFormed();
  return clean.length <= max ? clean : clean.slice(0, max - 20) + "\n[…truncated]";
}

const EARLIEST = Date.parse("0000-01-01T00:00:00.000Z");
const LATEST = Date.parse("9999-12-31T23:59:59.999Z");

/**
 * A time as the store keeps it: whole milliseconds within the years 0000 to 9999, as the API
 * takes and shows times. Exports may hold a fraction of a millisecond, or a number no such date
 * has; such a time is not kept (undefined).
 */
function storableTime(ms: number | undefined): number | undefined {
  if (ms === undefined || !Number.isFinite(ms)) return undefined;
  const whole = Math.round(ms);
  return whole >= EARLIEST && whole <= LATEST ? whole : undefined;
}

/**
 * What a reader threw, as the reason to skip a conversation: a reader that trips over an odd value
 * (an object whose toString is not a function where text belongs, nesting too deep to walk) has
 * found a conversation it cannot read, which is no fault of the server.
 */
function asImportProblem(error: unknown, position: number): ImportProblem {
  if (error instanceof ImportProblem) return error;
  if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
  return new ImportProblem(
    `conversation #${position + 1}`,
    "(root)",
    `cannot be read (${error.message})`,
  );
}

function interpret(value: unknown, position: number): ImportedConversation {
  const record = typeof value === "object" && value !== null
    ? value as Record<string, unknown>
    : {};
  if ("message_count" in record && "messages" in record) return fromPensieve(value, position);
  if (isLegacyConversation(record)) return fromLegacyPensieve(value, position);
  // Recognised by the fields each service always writes, so a damaged one still gets a reason.
  if ("mapping" in record || "current_node" in record || "conversation_id" in record) {
    return fromChatGpt(value, position);
  }
  if ("chat_messages" in record || ("uuid" in record && "name" in record)) {
    return fromClaude(value, position);
  }
  throw new ImportProblem(
    `conversation #${position + 1}`,
    "(root)",
    "is neither a ChatGPT nor a Claude conversation",
  );
}

/**
 * Brings a ChatGPT or Claude export into one user's Pensieve. Each conversation's id is derived
 * from the user and its id at the source, and each message carries its source id, so importing
 * the same export again stores nothing new, and a later export of a longer conversation adds only
 * the new messages. A conversation that cannot be read is skipped whole, with the reason; the
 * rest is imported.
 */
export class Importer {
  constructor(private readonly store: Store, private readonly clock: Clock) {}

  async import(
    userId: string,
    input: ReadableStream<Uint8Array>,
    options: { name?: string; onProgress?: (summary: ImportSummary) => void } = {},
  ): Promise<ImportSummary> {
    const summary = emptySummary();
    for await (const raw of readExport(input, options.name)) {
      let conversation: ImportedConversation;
      try {
        conversation = interpret(raw.value, raw.position);
      } catch (thrown) {
        const error = asImportProblem(thrown, raw.position);
        summary.skipped.push({ conversation: error.conversation, reason: error.message });
        continue;
      }
      await this.add(userId, conversation, summary);
      options.onProgress?.(summary);
    }
    return summary;
  }

  /** Stores one conversation read from an export, counting what it did in `summary`. */
  async add(userId: string, c: ImportedConversation, summary: ImportSummary): Promise<void> {
    try {
      await this.#store(userId, c, summary);
    } catch (error) {
      if (!(error instanceof PensieveError)) throw error;
      summary.skipped.push({ conversation: c.sourceId, reason: error.message });
    }
  }

  async #store(userId: string, c: ImportedConversation, summary: ImportSummary): Promise<void> {
    const restoring = c.restore === true;
    const messages: NewMessage[] = c.messages.map((m) => ({
      role: m.role,
      content: storable(m.content, LIMITS.messageContentMax),
      createdAt: storableTime(m.createdAt),
      clientMessageId: restoring
        ? (m.clientMessageId ?? undefined)
        : m.sourceId.slice(0, LIMITS.clientMessageIdMax),
      metadata: m.metadata,
    }));
    const id = await idempotentId(userId, `${restoring ? "pensieve" : c.source}:${c.sourceId}`);
    const existing = await this.store.getConversation(userId, id);
    const createdAt = storableTime(c.createdAt);
    const now = storableTime(c.updatedAt) ?? createdAt ?? this.clock.now();
    if (!existing) {
      await this.store.createConversation(userId, {
        id,
        title: storable(c.title || defaultTitle(messages), LIMITS.titleMax),
        tags: c.tags ?? [],
        source: c.source,
        metadata: c.metadata,
        messages,
        now,
        createdAt: createdAt ?? now,
      });
      summary.conversations_created++;
      summary.messages_added += messages.length;
      return;
    }
    // A restored conversation has no source ids on its messages: the ones past what is stored
    // are the new ones.
    const fresh = restoring ? messages.slice(existing.messageCount) : messages;
    if (fresh.length === 0) {
      summary.conversations_unchanged++;
      return;
    }
    const result = await this.store.appendMessages(userId, id, fresh, now);
    const added = result?.messages.filter((m) => !m.duplicate).length ?? 0;
    summary.messages_added += added;
    if (added > 0) summary.conversations_updated++;
    else summary.conversations_unchanged++;
  }
}
