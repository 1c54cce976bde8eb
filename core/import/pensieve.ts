import type { Metadata, Role } from "../types.ts";
import { LIMITS } from "../limits.ts";
import {
  type ImportedConversation,
  ImportProblem,
  importTime,
  isRecord,
  textOr,
} from "./imported.ts";

const ROLES = new Set(["user", "assistant", "system", "tool"]);

function time(value: unknown, label: string, field: string): number {
  const ms = typeof value === "string" ? importTime(Date.parse(value)) : undefined;
  if (ms === undefined) throw new ImportProblem(label, field, "is not an ISO time");
  return ms;
}

/** A client_message_id as the API takes it, or the reason it is not one. */
function clientMessageId(value: unknown, label: string, field: string): string | null {
  if (value === null || value === undefined) return null;
  if (
    typeof value !== "string" || value.length === 0 || value.length > LIMITS.clientMessageIdMax ||
    value.includes("\u0000") || !value.isWellFormed()
  ) {
    throw new ImportProblem(
      label,
      field,
      `is not a client_message_id (text of 1 to ${LIMITS.clientMessageIdMax} characters)`,
    );
  }
  return value;
}

/**
 * One conversation of Pensieve's own export (`"format": "pensieve-export"`): restored as it was,
 * with its source, tags, metadata, times and client message ids.
 */
export function fromPensieve(raw: unknown, position: number): ImportedConversation {
  if (!isRecord(raw)) {
    throw new ImportProblem(`conversation #${position + 1}`, "(root)", "is not an object");
  }
  const label = typeof raw.id === "string" ? raw.id : `conversation #${position + 1}`;
  if (typeof raw.id !== "string") throw new ImportProblem(label, "id", "is missing");
  if (!Array.isArray(raw.messages)) throw new ImportProblem(label, "messages", "is not a list");
  const messages = raw.messages.map((m, i) => {
    if (!isRecord(m) || !ROLES.has(textOr(m.role, "")) || typeof m.content !== "string") {
      throw new ImportProblem(label, `messages[${i}]`, "needs a role and a content");
    }
    return {
      sourceId: `${raw.id}:${textOr(m.seq, String(i))}`,
      clientMessageId: clientMessageId(
        m.client_message_id,
        label,
        `messages[${i}].client_message_id`,
      ),
      role: m.role as Role,
      content: m.content,
      createdAt: time(m.created_at, label, `messages[${i}].created_at`),
      metadata: isRecord(m.metadata) ? m.metadata as Metadata : undefined,
    };
  });
  return {
    source: typeof raw.source === "string" ? raw.source : "import:pensieve",
    sourceId: raw.id,
    title: typeof raw.title === "string" ? raw.title : "",
    createdAt: time(raw.created_at, label, "created_at"),
    updatedAt: time(raw.updated_at, label, "updated_at"),
    messages,
    metadata: isRecord(raw.metadata) ? raw.metadata as Metadata : {},
    tags: Array.isArray(raw.tags) ? raw.tags.filter((t) => typeof t === "string") : [],
    restore: true,
  };
}
