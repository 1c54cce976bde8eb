import type { Metadata } from "../types.ts";
import {
  type ImportedConversation,
  type ImportedMessage,
  ImportProblem,
  importTime,
  isRecord,
  textOr,
} from "./imported.ts";

type ClaudeMessage = Record<string, unknown> & { uuid?: string; parent_message_uuid?: string };

function iso(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  return importTime(Date.parse(value));
}

/**
 * The active branch when messages name their parents (newer exports): from the newest message
 * up through parent links. Older exports are one list, already in order.
 */
function activeBranch(messages: ClaudeMessage[]): ClaudeMessage[] {
  if (!messages.some((m) => typeof m.parent_message_uuid === "string")) return messages;
  const id = (m: ClaudeMessage) => textOr(m.uuid, "");
  const parent = (m: ClaudeMessage) => textOr(m.parent_message_uuid, "");
  const byId = new Map(messages.map((m) => [id(m), m]));
  const hasChild = new Set(messages.map(parent));
  const leaves = messages.filter((m) => !hasChild.has(id(m)));
  const leaf = leaves.reduce<ClaudeMessage | undefined>(
    (best, m) => !best || (iso(m.created_at) ?? 0) >= (iso(best.created_at) ?? 0) ? m : best,
    undefined,
  );
  const branch: ClaudeMessage[] = [];
  const seen = new Set<string>();
  for (let m = leaf; m && !seen.has(id(m)); m = byId.get(parent(m))) {
    seen.add(id(m));
    branch.push(m);
  }
  return branch.reverse();
}

/** One conversation of a Claude.ai data export (`conversations.json`). */
export function fromClaude(raw: unknown, position: number): ImportedConversation {
  if (!isRecord(raw)) {
    throw new ImportProblem(`conversation #${position + 1}`, "(root)", "is not an object");
  }
  const sourceId = typeof raw.uuid === "string" ? raw.uuid : "";
  const label = sourceId || `conversation #${position + 1}`;
  if (!sourceId) throw new ImportProblem(label, "uuid", "is missing");
  if (!Array.isArray(raw.chat_messages)) {
    throw new ImportProblem(label, "chat_messages", "is not a list");
  }
  for (const [i, m] of raw.chat_messages.entries()) {
    if (!isRecord(m)) throw new ImportProblem(label, `chat_messages[${i}]`, "is not an object");
  }
  const messages: ImportedMessage[] = [];
  for (const [i, m] of activeBranch(raw.chat_messages as ClaudeMessage[]).entries()) {
    const role = m.sender === "human" ? "user" : m.sender === "assistant" ? "assistant" : null;
    if (!role) continue;
    const texts: string[] = [];
    const thinking: string[] = [];
    const tools: unknown[] = [];
    for (const block of Array.isArray(m.content) ? m.content : []) {
      if (!isRecord(block)) continue;
      if (block.type === "text" && typeof block.text === "string") texts.push(block.text);
      else if (block.type === "thinking" && typeof block.thinking === "string") {
        thinking.push(block.thinking);
      } else if (block.type === "tool_use") {
        tools.push({ type: "tool_use", name: block.name ?? null, input: block.input ?? null });
      } else if (block.type === "tool_result") {
        tools.push({
          type: "tool_result",
          name: block.name ?? null,
          content: block.content ?? null,
        });
      }
    }
    const text = (texts.length ? texts.join("\n\n") : typeof m.text === "string" ? m.text : "")
      .trim();
    const attachments = (Array.isArray(m.attachments) ? m.attachments : []).filter(isRecord);
    const files = (Array.isArray(m.files) ? m.files : []).filter(isRecord);
    if (!text && !attachments.length && !files.length) continue;
    // A message without a text uuid is named by its place in the branch.
    const messageId = typeof m.uuid === "string" && m.uuid ? m.uuid : `${sourceId}:${i}`;
    const metadata: Metadata = { source_id: messageId };
    if (thinking.length) metadata.thinking = thinking.join("\n\n");
    if (tools.length) metadata.tool_calls = tools;
    if (attachments.length) {
      metadata.attachments = attachments.map((a) => ({
        file_name: a.file_name ?? null,
        extracted_content: typeof a.extracted_content === "string"
          ? a.extracted_content.slice(0, 4000)
          : null,
      }));
    }
    if (files.length) metadata.files = files.map((f) => f.file_name ?? f.file_uuid ?? null);
    const shown = text ||
      attachments.map((a) => `[attachment: ${textOr(a.file_name, "file")}]`)
        .concat(files.map((f) => `[file: ${textOr(f.file_name, "file")}]`)).join("\n");
    messages.push({
      sourceId: messageId,
      role,
      content: shown,
      createdAt: iso(m.created_at),
      metadata,
    });
  }
  return {
    source: "import:claude",
    sourceId,
    title: typeof raw.name === "string" ? raw.name.trim() : "",
    createdAt: iso(raw.created_at),
    updatedAt: iso(raw.updated_at),
    messages,
    metadata: { source_id: sourceId },
  };
}
