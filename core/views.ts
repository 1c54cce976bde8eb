import type { SearchResult } from "./conversations.ts";
import type { AppendedMessage, Conversation, Message, PersonalToken, User } from "./types.ts";

/** The JSON shapes Pensieve shows the outside world: snake_case, ISO 8601 times. */

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function userView(user: User) {
  return { id: user.id, email: user.email, created_at: iso(user.createdAt) };
}

export function conversationView(conversation: Conversation) {
  return {
    id: conversation.id,
    title: conversation.title,
    tags: conversation.tags,
    source: conversation.source,
    metadata: conversation.metadata,
    message_count: conversation.messageCount,
    version: conversation.version,
    created_at: iso(conversation.createdAt),
    updated_at: iso(conversation.updatedAt),
  };
}

export function messageView(message: Message) {
  return {
    seq: message.seq,
    role: message.role,
    content: message.content,
    created_at: iso(message.createdAt),
    client_message_id: message.clientMessageId,
    metadata: message.metadata,
  };
}

export function appendedMessageView(message: AppendedMessage) {
  return { ...messageView(message), duplicate: message.duplicate };
}

export function personalTokenView(token: PersonalToken) {
  return {
    id: token.id,
    name: token.name,
    prefix: token.prefix,
    created_at: iso(token.createdAt),
    expires_at: token.expiresAt === null ? null : iso(token.expiresAt),
    last_used_at: token.lastUsedAt === null ? null : iso(token.lastUsedAt),
  };
}

export function searchResultView(result: SearchResult) {
  return {
    conversation: conversationView(result.conversation),
    seq: result.seq,
    role: result.role,
    snippet: result.snippet.text,
    highlights: result.snippet.highlights,
    score: result.score,
  };
}

/** Where a person opens the conversation in the dashboard. */
export function conversationUrl(publicUrl: string, conversationId: string): string {
  return `${publicUrl}/dashboard/conversations/${conversationId}`;
}
