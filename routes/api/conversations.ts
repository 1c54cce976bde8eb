import { type Context, Hono } from "hono";
import { Invalid } from "../../core/errors.ts";
import {
  appendMessagesSchema,
  listQuerySchema,
  type MessageInput,
  messagesQuerySchema,
  saveConversationSchema,
  updateConversationSchema,
} from "../../core/schemas.ts";
import type { Services } from "../../core/services.ts";
import { appendedMessageView, conversationView, messageView } from "../../core/views.ts";
import type { AppEnv } from "../env.ts";
import { readJson, readQuery } from "../validate.ts";

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,100}$/;

/**
 * An Idempotency-Key stands for the client_message_ids the caller did not give: a retried request
 * maps to the same ids, so the store's per-message uniqueness makes the retry store nothing.
 */
function applyIdempotencyKey(key: string | undefined, messages: MessageInput[]): MessageInput[] {
  if (key === undefined) return messages;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new Invalid("Idempotency-Key must be 1 to 100 visible ASCII characters.");
  }
  return messages.map((message, index) =>
    message.client_message_id === undefined
      ? { ...message, client_message_id: `idem:${key}:${index}` }
      : message
  );
}

/** /api/conversations: save, load, append, list, change and delete. */
export function conversationRoutes(services: Services): Hono<AppEnv> {
  const { conversations } = services;
  const loadPage = (c: Context<AppEnv>) => {
    const query = readQuery(c, messagesQuerySchema);
    return conversations.load(c.var.principal.userId, c.req.param("id")!, {
      afterSeq: query.after_seq,
      limit: query.limit,
      last: query.last,
    });
  };
  return new Hono<AppEnv>()
    .get("/", async (c) => {
      const page = await conversations.list(
        c.var.principal.userId,
        readQuery(c, listQuerySchema),
      );
      return c.json({
        conversations: page.items.map(conversationView),
        next_cursor: page.nextCursor,
      });
    })
    .post("/", async (c) => {
      const input = await readJson(c, saveConversationSchema);
      const key = c.req.header("Idempotency-Key");
      input.messages = applyIdempotencyKey(key, input.messages);
      // With a key, a retry answers 200 with what the first request stored.
      const { conversation, created } = key === undefined
        ? { conversation: await conversations.save(c.var.principal.userId, input), created: true }
        : await conversations.saveOnce(c.var.principal.userId, input, key);
      c.header("Location", `/api/conversations/${conversation.id}`);
      return c.json({ conversation: conversationView(conversation) }, created ? 201 : 200);
    })
    .get("/:id", async (c) => {
      const loaded = await loadPage(c);
      return c.json({
        conversation: conversationView(loaded.conversation),
        messages: loaded.messages.map(messageView),
        next_after_seq: loaded.nextAfterSeq,
      });
    })
    .patch("/:id", async (c) => {
      const patch = await readJson(c, updateConversationSchema);
      const conversation = await conversations.update(
        c.var.principal.userId,
        c.req.param("id"),
        patch,
      );
      return c.json({ conversation: conversationView(conversation) });
    })
    .delete("/:id", async (c) => {
      await conversations.delete(c.var.principal.userId, c.req.param("id"));
      return c.body(null, 204);
    })
    .get("/:id/messages", async (c) => {
      const loaded = await loadPage(c);
      return c.json({
        messages: loaded.messages.map(messageView),
        next_after_seq: loaded.nextAfterSeq,
      });
    })
    .post("/:id/messages", async (c) => {
      const input = await readJson(c, appendMessagesSchema);
      const messages = applyIdempotencyKey(c.req.header("Idempotency-Key"), input.messages);
      const result = await conversations.append(
        c.var.principal.userId,
        c.req.param("id"),
        messages,
      );
      const stored = result.messages.some((m) => !m.duplicate);
      return c.json({
        conversation: conversationView(result.conversation),
        messages: result.messages.map(appendedMessageView),
      }, stored ? 201 : 200);
    });
}
