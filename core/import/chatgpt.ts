import type { Metadata, Role } from "../types.ts";
import {
  type ImportedConversation,
  type ImportedMessage,
  ImportProblem,
  importTime,
  isRecord,
  textOr,
} from "./imported.ts";

type Node = {
  id?: string;
  message?: Record<string, unknown> | null;
  parent?: string | null;
  children?: string[];
};

const ROLES: Record<string, Role> = {
  user: "user",
  assistant: "assistant",
  system: "system",
  tool: "tool",
};

function seconds(value: unknown): number | undefined {
  return typeof value === "number" && value > 0 ? importTime(value * 1000) : undefined;
}

/** An id as the export gives it: text (or a number); anything else is no id. */
function idText(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return null;
}

/** One part of a multimodal message: text as is, an image or file as a placeholder. */
function partText(part: unknown): string {
  if (typeof part === "string") return part;
  if (!isRecord(part)) return "";
  if (part.content_type === "image_asset_pointer") {
    const name = (isRecord(part.metadata) && typeof part.metadata.dalle === "object")
      ? "generated image"
      : textOr(part.asset_pointer, "image");
    return `[image: ${name}]`;
  }
  if (typeof part.text === "string") return part.text;
  return `[${textOr(part.content_type, "attachment")}]`;
}

/** The text of one message's content, by content type; "" when it has none worth keeping. */
function contentText(content: Record<string, unknown>): string {
  const type = content.content_type;
  if (Array.isArray(content.parts)) {
    return content.parts.map(partText).filter((t) => t !== "").join("\n").trim();
  }
  if (typeof content.text === "string") {
    const text = content.text.trim();
    if (type === "code" && text) {
      const lang = typeof content.language === "string" && content.language !== "unknown"
        ? content.language
        : "";
      return "```" + lang + "\n" + text + "\n```";
    }
    return text;
  }
  if (typeof content.result === "string") return content.result.trim();
  return "";
}

/** The thread the user saw: from current_node up through parent links, oldest first. */
function visibleThread(mapping: Record<string, Node>, currentNode: unknown, id: string): Node[] {
  // Only the mapping's own nodes: a name like "constructor" must not reach Object's prototype.
  const nodeOf = (key: string): Node | undefined =>
    Object.hasOwn(mapping, key) && isRecord(mapping[key]) ? mapping[key] : undefined;
  let start = typeof currentNode === "string" && nodeOf(currentNode) ? currentNode : null;
  if (!start) {
    // No current_node: the newest leaf, by its message's time.
    let best: { id: string; time: number } | null = null;
    for (const [key, node] of Object.entries(mapping)) {
      if (!isRecord(node)) continue;
      if (Array.isArray(node.children) && node.children.length > 0) continue;
      const time = seconds(node.message?.create_time) ?? 0;
      if (!best || time >= best.time) best = { id: key, time };
    }
    start = best?.id ?? null;
  }
  const thread: Node[] = [];
  const seen = new Set<string>();
  for (let key = start; key !== null;) {
    if (seen.has(key)) throw new ImportProblem(id, "mapping", "parent links form a loop");
    seen.add(key);
    const node = nodeOf(key);
    if (!node) break;
    thread.push({ ...node, id: idText(node.id) ?? key });
    key = idText(node.parent);
  }
  return thread.reverse();
}

/** One conversation of a ChatGPT data export (`conversations.json`). */
export function fromChatGpt(raw: unknown, position: number): ImportedConversation {
  if (!isRecord(raw)) {
    throw new ImportProblem(`conversation #${position + 1}`, "(root)", "is not an object");
  }
  const sourceId = idText(raw.conversation_id ?? raw.id) ?? "";
  const label = sourceId || `conversation #${position + 1}`;
  if (!sourceId) throw new ImportProblem(label, "id", "is missing or not text");
  if (!isRecord(raw.mapping)) throw new ImportProblem(label, "mapping", "is missing");
  const messages: ImportedMessage[] = [];
  const models = new Set<string>();
  for (const node of visibleThread(raw.mapping as Record<string, Node>, raw.current_node, label)) {
    const message = node.message;
    if (!isRecord(message)) continue;
    const meta = isRecord(message.metadata) ? message.metadata : {};
    if (message.weight === 0 || meta.is_visually_hidden_from_conversation === true) continue;
    const author = isRecord(message.author) ? message.author : {};
    const role = typeof author.role === "string" && Object.hasOwn(ROLES, author.role)
      ? ROLES[author.role]
      : undefined;
    if (!role) continue;
    const content = isRecord(message.content) ? message.content : null;
    if (!content) continue;
    const text = contentText(content);
    if (!text) continue;
    const messageId = idText(message.id) ?? node.id!;
    const metadata: Metadata = { source_id: messageId };
    if (content.content_type && content.content_type !== "text") {
      metadata.content_type = content.content_type;
    }
    if (typeof meta.model_slug === "string") {
      metadata.model = meta.model_slug;
      models.add(meta.model_slug);
    }
    if (role === "tool" && typeof author.name === "string") metadata.tool = author.name;
    if (Array.isArray(meta.attachments) && meta.attachments.length) {
      metadata.attachments = meta.attachments.map((a) =>
        isRecord(a) ? { name: a.name ?? null, mime_type: a.mime_type ?? null } : null
      );
    }
    messages.push({
      sourceId: messageId,
      role,
      content: text,
      createdAt: seconds(message.create_time),
      metadata,
    });
  }
  const title = typeof raw.title === "string" && raw.title.trim() ? raw.title.trim() : "";
  return {
    source: "import:chatgpt",
    sourceId,
    title,
    createdAt: seconds(raw.create_time) ?? messages[0]?.createdAt,
    updatedAt: seconds(raw.update_time) ?? messages.at(-1)?.createdAt,
    messages,
    metadata: {
      source_id: sourceId,
      ...(models.size ? { models: [...models] } : {}),
    },
  };
}
