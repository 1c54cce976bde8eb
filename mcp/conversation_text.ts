import type { Conversation, Message } from "../core/types.ts";

/**
 * A conversation as one plain-text transcript, for ChatGPT's fetch and the resume prompt. Each
 * turn is a JSON-quoted string after its role, so stored text can never pose as another turn
 * or as the framing around it.
 */
export function transcript(conversation: Conversation, messages: Message[]): string {
  const lines = messages.map((m) => `[${m.seq}] ${m.role}: ${JSON.stringify(m.content)}`);
  const more = conversation.messageCount > messages.length
    ? `\n(${conversation.messageCount - messages.length} more messages not shown)`
    : "";
  return `Title: ${JSON.stringify(conversation.title)}\n${lines.join("\n")}${more}`;
}
