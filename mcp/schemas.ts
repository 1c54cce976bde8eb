import { z } from "zod";
import { LIMITS } from "../core/limits.ts";
import { conversationViewSchema, messageViewSchema } from "../core/view_schemas.ts";
import {
  boundedJson,
  messageInputSchema,
  sourceSchema,
  tagSchema,
  tagsSchema,
  titleSchema,
} from "../core/schemas.ts";

/** Tool input and output shapes. Input fields reuse the REST API's rules; descriptions guide the model. */

const conversationId = z.string().max(100).describe(
  "The conversation's id, as returned by save_conversation, list_conversations or search_conversations.",
);
const cursor = z.string().max(500).optional().describe(
  "next_cursor from the previous call, to get the next page.",
);
const messages = z.array(messageInputSchema).max(LIMITS.messagesPerRequest);

export const saveInput = z.strictObject({
  title: titleSchema.optional().describe("A short title; defaults to the first user message."),
  messages: messages.min(1).describe(
    "The conversation so far, oldest first: every user and assistant turn, verbatim.",
  ),
  tags: tagsSchema.optional().describe("Labels to find it by later, such as 'travel'."),
  source: sourceSchema.optional().describe(
    "Which AI client this comes from, such as 'claude' or 'chatgpt'.",
  ),
  metadata: boundedJson(LIMITS.metadataBytes).optional().describe("Any extra JSON to keep."),
});

export const loadInput = z.strictObject({
  conversation_id: conversationId,
  last_n: z.int().min(1).max(LIMITS.messagePageMax).optional().describe(
    "Only the last N messages: enough to pick up where it left off.",
  ),
  limit: z.int().min(1).max(LIMITS.messagePageMax).optional().describe(
    `At most this many messages (default ${LIMITS.messagePageDefault}).`,
  ),
  cursor,
});

export const appendInput = z.strictObject({
  conversation_id: conversationId,
  messages: messages.min(1).describe(
    "New turns to add after the last stored one, oldest first. Give each a client_message_id " +
      "so a retried call stores nothing twice.",
  ),
});

export const listInput = z.strictObject({
  cursor,
  limit: z.int().min(1).max(LIMITS.listPageMax).optional().describe(
    `At most this many (default ${LIMITS.listPageDefault}).`,
  ),
  tag: tagSchema.optional().describe("Only conversations with this tag."),
  source: sourceSchema.optional().describe("Only conversations saved from this client."),
});

export const searchInput = z.strictObject({
  query: z.string().min(1).max(LIMITS.queryMax).describe(
    'Words to find (all must match; the last may be a prefix); "quoted phrases" match exactly.',
  ),
  limit: z.int().min(1).max(LIMITS.searchPageMax).optional().describe(
    `At most this many results (default ${LIMITS.searchPageDefault}).`,
  ),
  cursor,
});

export const deleteInput = z.strictObject({ conversation_id: conversationId });

export const connectorSearchInput = z.object({
  query: z.string().max(LIMITS.queryMax).describe("What to look for in saved conversations."),
});

export const connectorFetchInput = z.object({
  id: z.string().max(100).describe("The id of a search result."),
});

export const credentialsInput = z.strictObject({
  email: z.string().max(LIMITS.emailMax).describe("The account's email address."),
  password: z.string().max(LIMITS.passwordMax).describe("The account's password."),
});

export const apiTokenInput = z.strictObject({
  token: z.string().max(2000).describe("A Pensieve personal access token (psv_…) or access token."),
});

// Outputs

const conversationOut = conversationViewSchema.extend({ url: z.string() });
const messageOut = messageViewSchema;

export const savedOutput = z.object({ conversation: conversationOut });

export const loadedOutput = z.object({
  conversation: conversationOut,
  messages: z.array(messageOut),
  next_cursor: z.string().nullable(),
});

export const appendedOutput = z.object({
  conversation: conversationOut,
  messages: z.array(messageOut.extend({ duplicate: z.boolean() })),
});

export const listedOutput = z.object({
  conversations: z.array(conversationOut),
  next_cursor: z.string().nullable(),
});

export const searchedOutput = z.object({
  results: z.array(z.object({
    conversation: conversationOut,
    seq: z.int().nullable(),
    role: z.string().nullable(),
    snippet: z.string(),
    highlights: z.array(z.tuple([z.int(), z.int()])),
    score: z.number(),
  })),
  next_cursor: z.string().nullable(),
});

export const deletedOutput = z.object({ deleted: z.string() });

export const connectorSearchOutput = z.object({
  results: z.array(z.object({ id: z.string(), title: z.string(), url: z.string() })),
});

export const connectorFetchOutput = z.object({
  id: z.string(),
  title: z.string(),
  text: z.string(),
  url: z.string(),
  metadata: z.record(z.string(), z.unknown()),
});

export const signedInOutput = z.object({ user: z.object({ id: z.string(), email: z.string() }) });
