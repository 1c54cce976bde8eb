import { LIMITS } from "../limits.ts";
import type { Metadata, Role } from "../types.ts";
import {
  type ImportedConversation,
  type ImportedMessage,
  ImportProblem,
  isRecord,
} from "./imported.ts";

/** The source recorded on conversations brought over from the original Pensieve. */
export const LEGACY_SOURCE = "import:pensieve-v1";

/** An account of the original Pensieve (its MongoDB `users` collection). */
export interface LegacyUser {
  id: string;
  email: string;
  /** bcrypt, as passlib wrote it (`$2b$…`). */
  passwordHash: string;
  createdAt?: number;
}

const ROLES: Record<string, Role> = {
  user: "user",
  human: "user",
  assistant: "assistant",
  ai: "assistant",
  model: "assistant",
  bot: "assistant",
  system: "system",
  developer: "system",
  tool: "tool",
  function: "tool",
};

const NAIVE_TIME = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/**
 * A time as the original Pensieve left it: a BSON date (a `Date` once read), Extended JSON
 * `{"$date": …}`, epoch milliseconds, or text — Python's `str(datetime.utcnow())` has no zone and
 * means UTC.
 */
export function legacyTime(value: unknown): number | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  if (isRecord(value) && "$date" in value) return legacyTime(value.$date);
  if (isRecord(value) && typeof value.$numberLong === "string") return Number(value.$numberLong);
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value !== "string") return undefined;
  const text = NAIVE_TIME.test(value) ? `${value.replace(" ", "T")}Z` : value;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** An id as MongoDB keeps it: a string, or an ObjectId (`{"$oid": …}` in Extended JSON). */
export function legacyId(value: unknown): string | null {
  if (typeof value === "string" && value) return value;
  if (isRecord(value) && typeof value.$oid === "string") return value.$oid;
  if (typeof value === "object" && value !== null && "toHexString" in value) {
    return (value as { toHexString(): string }).toHexString();
  }
  return null;
}

/** Message text from what the original stored: a string, or content blocks from an MCP client. */
function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (content === null || content === undefined) return "";
  if (Array.isArray(content)) return content.map(textOf).filter(Boolean).join("\n\n");
  if (isRecord(content)) {
    if (typeof content.text === "string") return content.text;
    if (content.type === "image") return "[image]";
  }
  return JSON.stringify(content);
}

/** The metadata that fits the conversation limit, key by key; the names of the rest. */
function boundedMetadata(rest: Record<string, unknown>): Metadata {
  const kept: Metadata = {};
  const dropped: string[] = [];
  let size = 2;
  for (const [key, value] of Object.entries(rest)) {
    const entry = JSON.stringify({ [key]: value }).length - 1;
    if (size + entry > LIMITS.metadataBytes - 200) dropped.push(key);
    else {
      kept[key] = value as Metadata[string];
      size += entry;
    }
  }
  if (dropped.length) kept.dropped_keys = dropped.slice(0, 20);
  return kept;
}

/**
 * One conversation of the original Pensieve: a document of its MongoDB `conversations`
 * collection (`_id`, `user_id`, `messages: [{role, content}]`, `metadata`, `created_at`,
 * `updated_at`), as the driver reads it or as `mongoexport` and its API wrote it (`id` for `_id`).
 * Title and tags come from `metadata`; the rest of `metadata` is kept.
 */
export function fromLegacyPensieve(raw: unknown, position: number): ImportedConversation {
  if (!isRecord(raw)) {
    throw new ImportProblem(`conversation #${position + 1}`, "(root)", "is not an object");
  }
  const sourceId = legacyId(raw._id) ?? legacyId(raw.id);
  const label = sourceId ?? `conversation #${position + 1}`;
  if (!sourceId) throw new ImportProblem(label, "_id", "is missing");
  if (!Array.isArray(raw.messages)) throw new ImportProblem(label, "messages", "is not a list");
  const createdAt = legacyTime(raw.created_at);
  const messages: ImportedMessage[] = [];
  for (const [i, m] of raw.messages.entries()) {
    if (!isRecord(m)) throw new ImportProblem(label, `messages[${i}]`, "is not an object");
    const given = typeof m.role === "string" ? m.role.trim().toLowerCase() : "";
    const role = ROLES[given];
    const content = textOf(m.content).trim();
    if (!content) continue;
    const metadata: Metadata = {};
    // An unknown role is kept as a system message that says what it was, not dropped.
    if (!role) metadata.original_role = given || null;
    messages.push({
      sourceId: `${sourceId}:${i}`,
      role: role ?? "system",
      content,
      createdAt: legacyTime(m.timestamp ?? m.created_at) ?? createdAt,
      metadata: Object.keys(metadata).length ? metadata : undefined,
    });
  }
  const { title, tags, ...rest } = isRecord(raw.metadata) ? raw.metadata : {};
  return {
    source: LEGACY_SOURCE,
    sourceId,
    title: typeof title === "string" ? title.trim() : "",
    createdAt,
    updatedAt: legacyTime(raw.updated_at),
    messages,
    metadata: { ...boundedMetadata(rest), source_id: sourceId },
    tags: Array.isArray(tags)
      ? [
        ...new Set(
          tags.filter((t): t is string => typeof t === "string").map((t) =>
            t.trim().normalize("NFC")
          ),
        ),
      ]
        .filter((t) => t && t.length <= LIMITS.tagMax).slice(0, LIMITS.tagsMax)
      : [],
  };
}

/** Whether a document looks like one of the original Pensieve's conversations. */
export function isLegacyConversation(record: Record<string, unknown>): boolean {
  return Array.isArray(record.messages) && !("message_count" in record) &&
    ("_id" in record || ("id" in record && "metadata" in record));
}

/** One account of the original Pensieve, or the reason it cannot be brought over. */
export function legacyUser(raw: unknown, position: number): LegacyUser {
  const label = `user #${position + 1}`;
  if (!isRecord(raw)) throw new ImportProblem(label, "(root)", "is not an object");
  const id = legacyId(raw._id) ?? legacyId(raw.id);
  if (!id) throw new ImportProblem(label, "_id", "is missing");
  if (typeof raw.email !== "string" || !raw.email.includes("@")) {
    throw new ImportProblem(id, "email", "is missing or not an email address");
  }
  const hash = raw.hashed_password ?? raw.password_hash;
  if (typeof hash !== "string" || !/^\$2[abxy]\$\d{2}\$[./A-Za-z0-9]{53}$/.test(hash)) {
    throw new ImportProblem(raw.email, "hashed_password", "is not a bcrypt hash");
  }
  return { id, email: raw.email, passwordHash: hash, createdAt: legacyTime(raw.created_at) };
}
