import type { McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";
import { decodeCursor, encodeCursor } from "../../core/cursor.ts";
import { Invalid } from "../../core/errors.ts";
import { LIMITS } from "../../core/limits.ts";
import type { Conversation } from "../../core/types.ts";
import {
  appendedMessageView,
  conversationUrl,
  conversationView,
  messageView,
  searchResultView,
} from "../../core/views.ts";
import {
  appendedOutput,
  appendInput,
  deletedOutput,
  deleteInput,
  listedOutput,
  listInput,
  loadedOutput,
  loadInput,
  savedOutput,
  saveInput,
  searchedOutput,
  searchInput,
} from "../schemas.ts";
import { dataResult } from "../tool_result.ts";
import { TOOL_SCOPES } from "../scopes.ts";
import { type McpDeps, userTool } from "../tool_context.ts";

const loadCursor = z.object({ s: z.int().min(-1) });

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;

/** A conversation head as tools show it: the REST view plus its dashboard link. */
export function conversationOut(deps: Pick<McpDeps, "config">, conversation: Conversation) {
  return {
    ...conversationView(conversation),
    url: conversationUrl(deps.config.publicUrl, conversation.id),
  };
}

/** The original Pensieve tools: save, load, append, list, search, delete. */
export function registerConversationTools(server: McpServer, deps: McpDeps): void {
  const { conversations } = deps.services;

  server.registerTool("save_conversation", {
    title: "Save conversation",
    description: "Save the current conversation to the user's Pensieve so it can be found and " +
      "continued later, in this or another AI client. Include every turn so far, verbatim. " +
      "Returns the conversation id: keep it, and use append_to_conversation for later turns " +
      "instead of saving again.",
    inputSchema: saveInput,
    outputSchema: savedOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false },
  }, (input, extra) =>
    userTool(deps, extra, TOOL_SCOPES.save_conversation, async (userId) => {
      const conversation = await conversations.save(userId, {
        title: input.title,
        messages: input.messages,
        tags: input.tags ?? [],
        source: input.source ?? "mcp",
        metadata: input.metadata ?? {},
      });
      return dataResult(
        `Saved "${conversation.title}" with ${
          count(conversation.messageCount, "message")
        } (id ${conversation.id}).`,
        { conversation: conversationOut(deps, conversation) },
      );
    }));

  server.registerTool("load_conversation", {
    title: "Load conversation",
    description: "Load a saved conversation's messages, oldest first, to read it or continue " +
      "it. Use last_n to get only the most recent turns. When next_cursor is not null there " +
      "are more messages: call again with it.",
    inputSchema: loadInput,
    outputSchema: loadedOutput,
    annotations: { readOnlyHint: true, openWorldHint: false },
  }, (input, extra) =>
    userTool(deps, extra, TOOL_SCOPES.load_conversation, async (userId) => {
      if (input.last_n !== undefined && input.cursor !== undefined) {
        throw new Invalid("Give last_n or cursor, not both.");
      }
      const after = input.cursor ? decodeCursor(input.cursor, loadCursor).s : undefined;
      const loaded = await conversations.load(userId, input.conversation_id, {
        afterSeq: after,
        limit: input.last_n ?? input.limit ?? LIMITS.messagePageDefault,
        last: input.last_n !== undefined,
      });
      const nextCursor = loaded.nextAfterSeq === null || input.last_n !== undefined
        ? null
        : encodeCursor({ s: loaded.nextAfterSeq });
      const first = loaded.messages[0]?.seq;
      const range = first === undefined
        ? "no messages"
        : `messages ${first}–${loaded.messages.at(-1)!.seq}`;
      return dataResult(
        `"${loaded.conversation.title}": ${range} of ${loaded.conversation.messageCount}.`,
        {
          conversation: conversationOut(deps, loaded.conversation),
          messages: loaded.messages.map(messageView),
          next_cursor: nextCursor,
        },
      );
    }));

  server.registerTool("append_to_conversation", {
    title: "Append to conversation",
    description: "Add new turns to a saved conversation, after its last message. Use it to " +
      "keep a saved conversation up to date as it continues. Messages with a client_message_id " +
      "that is already stored are reported as duplicates and not stored again.",
    inputSchema: appendInput,
    outputSchema: appendedOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true },
  }, (input, extra) =>
    userTool(deps, extra, TOOL_SCOPES.append_to_conversation, async (userId) => {
      const result = await conversations.append(userId, input.conversation_id, input.messages);
      const added = result.messages.filter((m) => !m.duplicate).length;
      return dataResult(
        `Added ${count(added, "message")} to "${result.conversation.title}"; it now has ${
          count(result.conversation.messageCount, "message")
        }.`,
        {
          conversation: conversationOut(deps, result.conversation),
          messages: result.messages.map(appendedMessageView),
        },
      );
    }));

  server.registerTool("list_conversations", {
    title: "List conversations",
    description: "List the user's saved conversations, most recently updated first, with ids, " +
      "titles, tags and message counts. Filter by tag or source; page with next_cursor.",
    inputSchema: listInput,
    outputSchema: listedOutput,
    annotations: { readOnlyHint: true, openWorldHint: false },
  }, (input, extra) =>
    userTool(deps, extra, TOOL_SCOPES.list_conversations, async (userId) => {
      const page = await conversations.list(userId, {
        limit: input.limit ?? LIMITS.listPageDefault,
        cursor: input.cursor,
        tag: input.tag,
        source: input.source,
      });
      return dataResult(
        `${count(page.items.length, "conversation")}${
          page.nextCursor ? "; more with next_cursor" : ""
        }.`,
        {
          conversations: page.items.map((c) => conversationOut(deps, c)),
          next_cursor: page.nextCursor,
        },
      );
    }));

  server.registerTool("search_conversations", {
    title: "Search conversations",
    description: "Full-text search across the user's saved conversations (titles and every " +
      "message). Returns the best-matching conversations with a snippet of the matching " +
      "message; load_conversation reads one in full.",
    inputSchema: searchInput,
    outputSchema: searchedOutput,
    annotations: { readOnlyHint: true, openWorldHint: false },
  }, (input, extra) =>
    userTool(deps, extra, TOOL_SCOPES.search_conversations, async (userId) => {
      const page = await conversations.search(userId, {
        q: input.query,
        limit: input.limit ?? LIMITS.searchPageDefault,
        cursor: input.cursor,
      });
      return dataResult(
        `${count(page.items.length, "result")} for ${JSON.stringify(input.query)}.`,
        {
          results: page.items.map((r) => ({
            ...searchResultView(r),
            conversation: conversationOut(deps, r.conversation),
          })),
          next_cursor: page.nextCursor,
        },
      );
    }));

  server.registerTool("delete_conversation", {
    title: "Delete conversation",
    description: "Permanently delete a saved conversation and all its messages. Only when the " +
      "user asks for it; this cannot be undone.",
    inputSchema: deleteInput,
    outputSchema: deletedOutput,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false },
  }, (input, extra) =>
    userTool(deps, extra, TOOL_SCOPES.delete_conversation, async (userId) => {
      await conversations.delete(userId, input.conversation_id);
      return dataResult("Deleted.", { deleted: input.conversation_id });
    }));
}
