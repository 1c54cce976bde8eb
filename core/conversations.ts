import { z } from "zod";
import type { Clock } from "./clock.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { Conflict, Invalid, NotFound } from "./errors.ts";
import { LIMITS } from "./limits.ts";
import type {
  ListQuery,
  MessageInput,
  SaveConversationInput,
  SearchQueryInput,
  UpdateConversationInput,
} from "./schemas.ts";
import { parseSearchQuery } from "./search_query.ts";
import { uuidFromText } from "./secrets.ts";
import { buildSnippet, compileHighlighter, type Snippet } from "./snippets.ts";
import type {
  AppendedMessage,
  Conversation,
  ConversationFilter,
  Message,
  NewMessage,
} from "./types.ts";
import type { Store } from "../db/store.ts";
import { WorkLimiter } from "./work_limiter.ts";

/** A page of something, with the cursor of the next page when there is one. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** One search result: a conversation and the excerpt that matched best. */
export interface SearchResult {
  conversation: Conversation;
  /** seq of the matching message; null when the title matched. */
  seq: number | null;
  role: Message["role"] | null;
  snippet: Snippet;
  score: number;
}

/** Which messages of a conversation to load. */
export interface LoadOptions {
  afterSeq?: number;
  limit?: number;
  /** The last `limit` messages. */
  last?: boolean;
}

const listCursor = z.object({ u: z.number(), i: z.string() });
/** Ranked results can be paged this deep; past it, narrow the search. */
const SEARCH_DEPTH = 10_000;
const searchCursor = z.object({ o: z.number().int().min(0).max(SEARCH_DEPTH), q: z.string() });

const NOT_FOUND = "No conversation with this id.";

function toNewMessage(message: MessageInput): NewMessage {
  return {
    role: message.role,
    content: message.content,
    createdAt: message.created_at,
    clientMessageId: message.client_message_id,
    metadata: message.metadata,
  };
}

/** A title from the first words someone said, when none was given. */
/** A title from the first user line (or any line), for a conversation saved without one. */
export function defaultTitle(messages: Pick<MessageInput, "role" | "content">[]): string {
  const first = messages.find((m) => m.role === "user" && m.content.trim()) ??
    messages.find((m) => m.content.trim());
  if (!first) return "Untitled conversation";
  const line = first.content.trim().replace(/\s+/g, " ");
  const chars = Array.from(line);
  return chars.length <= 80 ? line : chars.slice(0, 79).join("") + "…";
}

function toFilter(query: Pick<ListQuery, "tag" | "source" | "updated_from" | "updated_to">) {
  const filter: ConversationFilter = {};
  if (query.tag !== undefined) filter.tag = query.tag;
  if (query.source !== undefined) filter.source = query.source;
  if (query.updated_from !== undefined) filter.updatedFrom = query.updated_from;
  if (query.updated_to !== undefined) filter.updatedTo = query.updated_to;
  return filter;
}

/** A UUID (version 8, name-based) for one user's idempotency key: the same inputs, the same id. */
export function idempotentId(userId: string, key: string): Promise<string> {
  return uuidFromText(`conversation\n${userId}\n${key}`);
}

/** Saving, reading, changing, listing and searching one user's conversations. */
export class Conversations {
  /**
   * @param searches bounds the searches run at once and waiting: a search for a common word
   * holds the database for far longer than any other request, so a burst of them is refused
   * (503) rather than queued without end. Unbounded when not given.
   */
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly searches: WorkLimiter = new WorkLimiter(Infinity, 0),
  ) {}

  /** Stores a new conversation with its messages in one step. */
  save(
    userId: string,
    input: SaveConversationInput,
    id: string = crypto.randomUUID(),
  ): Promise<Conversation> {
    return this.store.createConversation(userId, {
      id,
      title: input.title || defaultTitle(input.messages),
      tags: input.tags,
      source: input.source,
      metadata: input.metadata,
      messages: input.messages.map(toNewMessage),
      now: this.clock.now(),
    });
  }

  /**
   * Saves at most once per idempotency key: the id is derived from the user and the key, so a
   * retried request finds what the first one stored (created: false) instead of storing again.
   */
  async saveOnce(
    userId: string,
    input: SaveConversationInput,
    idempotencyKey: string,
  ): Promise<{ conversation: Conversation; created: boolean }> {
    const id = await idempotentId(userId, idempotencyKey);
    try {
      return { conversation: await this.save(userId, input, id), created: true };
    } catch (error) {
      if (!(error instanceof Conflict)) throw error;
      // The same Conflict type also reports a batch that contradicts itself; only an existing
      // conversation with this id is a retry.
      const existing = await this.store.getConversation(userId, id);
      if (!existing) throw error;
      return { conversation: existing, created: false };
    }
  }

  async get(userId: string, conversationId: string): Promise<Conversation> {
    const conversation = await this.store.getConversation(userId, conversationId);
    if (!conversation) throw new NotFound(NOT_FOUND);
    return conversation;
  }

  /** The head and a page of messages: from the start, after a seq, or the last N. */
  async load(
    userId: string,
    conversationId: string,
    options: LoadOptions = {},
  ): Promise<{ conversation: Conversation; messages: Message[]; nextAfterSeq: number | null }> {
    const conversation = await this.get(userId, conversationId);
    const limit = options.limit ?? LIMITS.messagePageDefault;
    const messages = await this.store.listMessages(userId, conversationId, {
      afterSeq: options.afterSeq,
      limit,
      last: options.last,
    });
    const lastSeq = messages.at(-1)?.seq;
    const nextAfterSeq = lastSeq !== undefined && lastSeq < conversation.messageCount - 1
      ? lastSeq
      : null;
    return { conversation, messages, nextAfterSeq };
  }

  /** Appends after the last message; retried client_message_ids are reported, not stored. */
  async append(
    userId: string,
    conversationId: string,
    messages: MessageInput[],
  ): Promise<{ conversation: Conversation; messages: AppendedMessage[] }> {
    const result = await this.store.appendMessages(
      userId,
      conversationId,
      messages.map(toNewMessage),
      this.clock.now(),
    );
    if (!result) throw new NotFound(NOT_FOUND);
    return result;
  }

  async update(
    userId: string,
    conversationId: string,
    patch: UpdateConversationInput,
  ): Promise<Conversation> {
    const updated = await this.store.updateConversation(
      userId,
      conversationId,
      patch,
      this.clock.now(),
    );
    if (!updated) throw new NotFound(NOT_FOUND);
    return updated;
  }

  async delete(userId: string, conversationId: string): Promise<void> {
    if (!(await this.store.deleteConversation(userId, conversationId))) {
      throw new NotFound(NOT_FOUND);
    }
  }

  /** Newest first, a page at a time. */
  async list(userId: string, query: ListQuery): Promise<Page<Conversation>> {
    const after = query.cursor ? decodeCursor(query.cursor, listCursor) : undefined;
    const items = await this.store.listConversations(userId, {
      filter: toFilter(query),
      after: after && { updatedAt: after.u, id: after.i },
      limit: query.limit + 1,
    });
    const more = items.length > query.limit;
    if (more) items.pop();
    const last = items.at(-1);
    return {
      items,
      nextCursor: more && last ? encodeCursor({ u: last.updatedAt, i: last.id }) : null,
    };
  }

  /** Ranked full-text search over titles and messages, one result per conversation. */
  async search(userId: string, input: SearchQueryInput): Promise<Page<SearchResult>> {
    const query = parseSearchQuery(input.q);
    const cursor = input.cursor ? decodeCursor(input.cursor, searchCursor) : null;
    if (cursor && cursor.q !== input.q) {
      throw new Invalid("The cursor belongs to a different search; start again without it.");
    }
    const start = cursor?.o ?? 0;
    const hits = await this.searches.run(() =>
      this.store.searchConversations(userId, {
        query,
        filter: toFilter(input),
        offset: start,
        limit: input.limit + 1,
      })
    );
    const more = hits.length > input.limit;
    if (more) hits.pop();
    const highlighter = compileHighlighter(query);
    return {
      items: hits.map((hit) => ({
        conversation: hit.conversation,
        seq: hit.message?.seq ?? null,
        role: hit.message?.role ?? null,
        snippet: buildSnippet(hit.message?.content ?? hit.conversation.title, highlighter),
        score: hit.score,
      })),
      nextCursor: more && start + input.limit <= SEARCH_DEPTH
        ? encodeCursor({ o: start + input.limit, q: input.q })
        : null,
    };
  }
}
