import type { Metadata, Role } from "../types.ts";

/** A message as read from another service's export, before it has a place here. */
export interface ImportedMessage {
  /** The message's id in the source: re-importing it stores nothing twice. */
  sourceId: string;
  /** Pensieve's own exports: the client_message_id to restore as it was (null: none). */
  clientMessageId?: string | null;
  role: Role;
  content: string;
  createdAt?: number;
  metadata?: Metadata;
}

/** A conversation as read from another service's export. */
export interface ImportedConversation {
  /** `import:chatgpt`, `import:claude`, … */
  source: string;
  sourceId: string;
  title: string;
  createdAt?: number;
  updatedAt?: number;
  messages: ImportedMessage[];
  metadata: Metadata;
  tags?: string[];
  /**
   * Pensieve's own export: restored exactly (its own ids, client message ids, tags), and a
   * longer copy adds the messages past those already stored.
   */
  restore?: boolean;
}

/** A name taken from a file, cut to a length a message can show. */
export function shortLabel(text: string, max = 120): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : chars.slice(0, max - 1).join("") + "…";
}

/** A conversation that cannot be read: which one, and which field is wrong. */
export class ImportProblem extends Error {
  readonly conversation: string;
  constructor(conversation: string, readonly field: string, message: string) {
    const label = shortLabel(String(conversation));
    super(`${label}: ${field}: ${message}`);
    this.conversation = label;
  }
}

/** The first and last instants a stored time may be: years 0000 to 9999, as ISO 8601 writes them. */
const EARLIEST = -62167219200000; // 0000-01-01T00:00:00.000Z
const LATEST = 253402300799999; // 9999-12-31T23:59:59.999Z

/**
 * A time read from an export, in whole milliseconds, or undefined when it is not one (not a
 * number, or outside the years 0000–9999 a stored time is shown in).
 */
export function importTime(ms: unknown): number | undefined {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return undefined;
  const whole = Math.round(ms);
  return whole >= EARLIEST && whole <= LATEST ? whole : undefined;
}

/**
 * A value as text when it is one (or a number or boolean), else `fallback`: an object from a file
 * may carry a "toString" member, which String() and template literals would trip over.
 */
export function textOr(value: unknown, fallback: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return fallback;
}

/** Whether a parsed JSON value is an object (not null, not a list). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
