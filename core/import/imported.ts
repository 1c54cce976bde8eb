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

/** A conversation that cannot be read: which one, and which field is wrong. */
export class ImportProblem extends Error {
  constructor(readonly conversation: string, readonly field: string, message: string) {
    super(`${conversation}: ${field}: ${message}`);
  }
}

/** Whether a parsed JSON value is an object (not null, not a list). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
