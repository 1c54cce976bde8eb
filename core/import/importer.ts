import type { Clock } from "../clock.ts";
import { defaultTitle, idempotentId } from "../conversations.ts";
import { Invalid, PensieveError, TooLarge } from "../errors.ts";
import { LIMITS } from "../limits.ts";
import { sourceSchema, tagSchema } from "../schemas.ts";
import { sha256Hex } from "../secrets.ts";
import type { NewMessage } from "../types.ts";
import type { Store } from "../../db/store.ts";
import { boundedMetadata } from "./bounded_metadata.ts";
import { fromChatGpt } from "./chatgpt.ts";
import { fromClaude } from "./claude.ts";
import { fromLegacyPensieve, isLegacyConversation } from "./legacy_pensieve.ts";
import { fromPensieve } from "./pensieve.ts";
import { readExport } from "./export_reader.ts";
import { type ImportedConversation, ImportProblem, shortLabel } from "./imported.ts";

/** What an import did, in numbers, and what it could not take with the reason. */
export interface ImportSummary {
  conversations_created: number;
  conversations_updated: number;
  conversations_unchanged: number;
  messages_added: number;
  /** How many were skipped in all; `skipped` lists the first MAX_SKIPPED_LISTED of them. */
  skipped_count: number;
  skipped: { conversation: string; reason: string }[];
}

/** A file of a million broken conversations must not make a summary of a million reasons. */
export const MAX_SKIPPED_LISTED = 1000;

export function emptySummary(): ImportSummary {
  return {
    conversations_created: 0,
    conversations_updated: 0,
    conversations_unchanged: 0,
    messages_added: 0,
    skipped_count: 0,
    skipped: [],
  };
}

/** Counts a skipped conversation, and lists it while the list is short. */
export function noteSkipped(summary: ImportSummary, conversation: string, reason: string): void {
  summary.skipped_count++;
  if (summary.skipped.length >= MAX_SKIPPED_LISTED) return;
  summary.skipped.push({ conversation: shortLabel(conversation), reason: shortLabel(reason, 500) });
}

/** Text as SQLite will keep it: no NUL (it would cut the string), no lone surrogates. */
function storable(text: string, max: number): string {
  const clean = text.replaceAll("\u0000", "\uFFFD").toWellFormed();
  // Cut after cleaning, then made whole again: a cut may fall inside a surrogate pair.
  return clean.length <= max ? clean : (clean.slice(0, max - 20) + "\n[…truncated]").toWellFormed();
}

/** A title as the API keeps it: at most LIMITS.titleMax characters, cut with an ellipsis. */
function storableTitle(text: string): string {
  const clean = storable(text, Infinity);
  return clean.length <= LIMITS.titleMax
    ? clean
    : (clean.slice(0, LIMITS.titleMax - 1) + "…").toWellFormed();
}

/**
 * A time as the store keeps it: whole milliseconds within Date's range. Exports may hold a
 * fraction of a millisecond, or a number no date has; such a time is not kept (undefined).
 * (The readers keep to years 0000–9999 already; this is the last guard before the store.)
 */
function storableTime(ms: number | undefined): number | undefined {
  if (ms === undefined || !Number.isFinite(ms)) return undefined;
  const whole = Math.round(ms);
  return Math.abs(whole) <= 8.64e15 ? whole : undefined;
}

/**
 * A message's source id as a client_message_id: as it is when it fits, else its hash, so two long
 * ids that share a start never collide (and the same id always gives the same key).
 */
async function sourceKey(sourceId: string): Promise<string> {
  const fits = sourceId.length <= LIMITS.clientMessageIdMax && !sourceId.includes("\u0000") &&
    sourceId.isWellFormed() && sourceId.length > 0;
  return fits ? sourceId : `sha256:${await sha256Hex(sourceId)}`;
}

/** Tags as the API would take them: trimmed, NFC, within the limits, each once. */
function importTags(tags: string[] | undefined): string[] {
  const kept = new Set<string>();
  for (const tag of tags ?? []) {
    const parsed = tagSchema.safeParse(tag);
    if (parsed.success) kept.add(parsed.data);
    if (kept.size >= LIMITS.tagsMax) break;
  }
  return [...kept];
}

/** A source as the API would take it; one it would refuse becomes the importer's own. */
function importSource(source: string, fallback: string): string {
  const parsed = sourceSchema.safeParse(source);
  return parsed.success ? parsed.data : fallback;
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
 * A file that fails part-way (malformed, cut off, too large, stalled) after some conversations were
 * stored: the error says so, since what came before stays (each conversation is stored whole).
 */
function partlyImported(error: unknown, summary: ImportSummary): unknown {
  const stored = summary.conversations_created + summary.conversations_updated;
  if (stored === 0 || !(error instanceof Invalid || error instanceof TooLarge)) return error;
  const note = ` What came before it was imported (${summary.conversations_created} new and ` +
    `${summary.conversations_updated} updated conversations, ${summary.messages_added} messages); ` +
    "sending the whole file again adds only what is missing.";
  return error instanceof Invalid
    ? new Invalid(error.message + note)
    : new TooLarge(error.message + note);
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
    try {
      await this.#importAll(userId, input, summary, options);
    } catch (error) {
      throw partlyImported(error, summary);
    }
    return summary;
  }

  async #importAll(
    userId: string,
    input: ReadableStream<Uint8Array>,
    summary: ImportSummary,
    options: { name?: string; onProgress?: (summary: ImportSummary) => void },
  ): Promise<void> {
    for await (const raw of readExport(input, options.name)) {
      let conversation: ImportedConversation;
      try {
        if (raw.problem !== undefined) {
          throw new ImportProblem(`conversation #${raw.position + 1}`, raw.file, raw.problem);
        }
        conversation = interpret(raw.value, raw.position);
      } catch (thrown) {
        const error = asImportProblem(thrown, raw.position);
        noteSkipped(summary, error.conversation, error.message);
        options.onProgress?.(summary);
        continue;
      }
      await this.add(userId, conversation, summary);
      options.onProgress?.(summary);
    }
  }

  /** Stores one conversation read from an export, counting what it did in `summary`. */
  async add(userId: string, c: ImportedConversation, summary: ImportSummary): Promise<void> {
    try {
      await this.#store(userId, c, summary);
    } catch (error) {
      if (!(error instanceof PensieveError)) throw error;
      noteSkipped(summary, c.sourceId, `${shortLabel(c.sourceId)}: ${error.message}`);
    }
  }

  async #store(userId: string, c: ImportedConversation, summary: ImportSummary): Promise<void> {
    const restoring = c.restore === true;
    const messages: NewMessage[] = [];
    for (const m of c.messages) {
      messages.push({
        role: m.role,
        content: storable(m.content, LIMITS.messageContentMax),
        createdAt: storableTime(m.createdAt),
        clientMessageId: restoring ? (m.clientMessageId ?? undefined) : await sourceKey(m.sourceId),
        metadata: m.metadata === undefined ? undefined : boundedMetadata(m.metadata),
      });
    }
    const id = await this.#target(userId, c);
    const existing = await this.store.getConversation(userId, id);
    const createdAt = storableTime(c.createdAt);
    const now = storableTime(c.updatedAt) ?? createdAt ?? this.clock.now();
    if (!existing) {
      await this.store.createConversation(userId, {
        id,
        title: storableTitle(c.title || defaultTitle(messages)),
        tags: importTags(c.tags),
        source: importSource(c.source, restoring ? "import:pensieve" : "import"),
        metadata: boundedMetadata(c.metadata),
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

  /**
   * The id the conversation has or gets here: derived from the user and its id at the source, so
   * a second import finds the first. A Pensieve export of this very account names conversations
   * by their own ids: when the user has one by that id, that is the one it restores.
   */
  async #target(userId: string, c: ImportedConversation): Promise<string> {
    if (c.restore === true) {
      if (await this.store.getConversation(userId, c.sourceId)) return c.sourceId;
      return idempotentId(userId, `pensieve:${c.sourceId}`);
    }
    return idempotentId(userId, `${c.source}:${c.sourceId}`);
  }
}
