import { LIMITS } from "../limits.ts";
import type { Metadata, Role } from "../types.ts";
import { UnreadableDocument } from "./document_reader.ts";
import {
  type ImportedConversation,
  type ImportedMessage,
  ImportProblem,
  importTime,
  isRecord,
  textOr,
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

/**
 * A bcrypt hash as passlib and others write it: `$2a$`, `$2b$` or `$2y$` (the same algorithm),
 * a two-digit cost, 22 characters of salt and 31 of hash. `$2x$` (an old buggy variant) is not
 * one bcrypt libraries verify.
 */
const BCRYPT = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
/** passlib's default is 12; 16 takes a few seconds to verify here, more would take minutes. */
const BCRYPT_MAX_COST = 16;

const NAIVE_TIME = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/**
 * A time as the original Pensieve left it: a BSON date (a `Date` once read), Extended JSON
 * `{"$date": …}`, epoch milliseconds, or text — Python's `str(datetime.utcnow())` has no zone and
 * means UTC.
 */
export function legacyTime(value: unknown): number | undefined {
  if (value instanceof Date) return importTime(value.getTime());
  if (isRecord(value) && "$date" in value) {
    // One level only: {"$date": {"$numberLong": "…"}} is Extended JSON, deeper is not.
    const inner = value.$date;
    if (isRecord(inner)) {
      return typeof inner.$numberLong === "string" && /^-?\d{1,16}$/.test(inner.$numberLong)
        ? importTime(Number(inner.$numberLong))
        : undefined;
    }
    return legacyTime(inner);
  }
  if (typeof value === "number") return importTime(value);
  if (typeof value !== "string") return undefined;
  const text = NAIVE_TIME.test(value) ? `${value.replace(" ", "T")}Z` : value;
  return importTime(Date.parse(text));
}

/** Hex ids (ObjectIds, UUIDs) in one case, so the two collections' spellings of one id match. */
function sameCase(id: string): string {
  return /^[0-9a-f-]+$/i.test(id) ? id.toLowerCase() : id;
}

/** Sixteen bytes as a UUID's text. */
function uuidText(bytes: Uint8Array): string | null {
  if (bytes.length !== 16) return null;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

/** A UUID kept as BSON binary (subtype 4, or 3 as older Python drivers wrote it), or null. */
function binaryUuid(value: Record<string, unknown>): string | null {
  // Extended JSON v2 {"$binary": {"base64", "subType"}}, v1 {"$binary": "…", "$type": "…"}.
  const binary = isRecord(value.$binary) ? value.$binary : value;
  const base64 = isRecord(value.$binary) ? binary.base64 : value.$binary;
  const subType = isRecord(value.$binary) ? binary.subType : value.$type;
  if (typeof base64 !== "string" || !["03", "04", "3", "4"].includes(textOr(subType, ""))) {
    return null;
  }
  try {
    return uuidText(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
  } catch {
    return null;
  }
}

/**
 * An id as MongoDB keeps it: a string, an ObjectId (`{"$oid": …}` in Extended JSON) or a UUID
 * (`{"$uuid": …}`, or BSON binary of subtype 4 or 3), as text; hex in lower case.
 */
export function legacyId(value: unknown): string | null {
  if (typeof value === "string" && value) return sameCase(value);
  if (isRecord(value)) {
    if (typeof value.$oid === "string") return sameCase(value.$oid);
    if (typeof value.$uuid === "string") return sameCase(value.$uuid);
    if ("$binary" in value) return binaryUuid(value);
  }
  if (typeof value === "object" && value !== null) {
    // The driver's own classes: ObjectId and UUID have toHexString; a plain Binary does not.
    const sub = (value as { sub_type?: unknown }).sub_type;
    const bytes = (value as { buffer?: unknown }).buffer;
    if ((sub === 3 || sub === 4) && bytes instanceof Uint8Array) return uuidText(bytes);
    if ("toHexString" in value && typeof value.toHexString === "function") {
      return sameCase(String(value.toHexString()));
    }
  }
  return null;
}

/** Message text from what the original stored: a string, or content blocks from an MCP client. */
function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (content === null || content === undefined) return "";
  if (Array.isArray(content)) {
    // Blocks are one list deep; anything nested further is kept as its JSON.
    return content.map((block) => Array.isArray(block) ? asJson(block) : textOf(block))
      .filter(Boolean).join("\n\n");
  }
  if (isRecord(content)) {
    if (typeof content.text === "string") return content.text;
    if (content.type === "image") return "[image]";
  }
  return asJson(content);
}

function asJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "";
  } catch {
    return ""; // a BigInt or a cycle: nothing a message can show
  }
}

/** The document as a record, or the reason it cannot be read. */
function documentOf(raw: unknown, label: string): Record<string, unknown> {
  if (raw instanceof UnreadableDocument) throw new ImportProblem(label, "(root)", raw.reason);
  if (!isRecord(raw)) throw new ImportProblem(label, "(root)", "is not an object");
  return raw;
}

/**
 * One conversation of the original Pensieve: a document of its MongoDB `conversations`
 * collection (`_id`, `user_id`, `messages: [{role, content}]`, `metadata`, `created_at`,
 * `updated_at`), as the driver reads it or as `mongoexport` and its API wrote it (`id` for `_id`).
 * Title and tags come from `metadata`; the rest of `metadata` is kept.
 */
export function fromLegacyPensieve(document: unknown, position: number): ImportedConversation {
  const raw = documentOf(document, `conversation #${position + 1}`);
  const sourceId = legacyId(raw._id) ?? legacyId(raw.id);
  const label = sourceId ?? `conversation #${position + 1}`;
  if (!sourceId) throw new ImportProblem(label, "_id", "is missing");
  if (!Array.isArray(raw.messages)) throw new ImportProblem(label, "messages", "is not a list");
  const createdAt = legacyTime(raw.created_at);
  const messages: ImportedMessage[] = [];
  for (const [i, m] of raw.messages.entries()) {
    if (!isRecord(m)) throw new ImportProblem(label, `messages[${i}]`, "is not an object");
    const given = typeof m.role === "string" ? m.role.trim().toLowerCase() : "";
    const role = Object.hasOwn(ROLES, given) ? ROLES[given] : undefined;
    const content = textOf(m.content).trim();
    if (!content) continue;
    const metadata: Metadata = {};
    // An unknown role is kept as a system message that says what it was, not dropped.
    if (!role) metadata.original_role = given.slice(0, 100) || null;
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
    // source_id first, so it is kept when the rest is cut to the size limit.
    metadata: Object.assign({ source_id: sourceId }, rest, { source_id: sourceId }),
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
export function legacyUser(document: unknown, position: number): LegacyUser {
  const label = `user #${position + 1}`;
  const raw = documentOf(document, label);
  const id = legacyId(raw._id) ?? legacyId(raw.id);
  if (!id) throw new ImportProblem(label, "_id", "is missing");
  if (typeof raw.email !== "string" || !raw.email.includes("@")) {
    throw new ImportProblem(id, "email", "is missing or not an email address");
  }
  const hash = raw.hashed_password ?? raw.password_hash;
  const bcrypt = typeof hash === "string" ? BCRYPT.exec(hash) : null;
  if (!bcrypt) throw new ImportProblem(raw.email, "hashed_password", "is not a bcrypt hash");
  // Each step doubles the work of every sign-in: past the limit, one sign-in would take minutes
  // of the server's time (and bcrypt knows no cost under 4).
  const cost = Number(bcrypt[1]);
  if (cost < 4 || cost > BCRYPT_MAX_COST) {
    throw new ImportProblem(
      raw.email,
      "hashed_password",
      `has a bcrypt cost of ${cost}; this server verifies 4 to ${BCRYPT_MAX_COST}`,
    );
  }
  return {
    id,
    email: raw.email,
    passwordHash: bcrypt[0],
    createdAt: legacyTime(raw.created_at),
  };
}
