import type { McpServer } from "@modelcontextprotocol/server";
import { LIMITS } from "../../core/limits.ts";
import { conversationUrl } from "../../core/views.ts";
import { transcript } from "../conversation_text.ts";
import {
  connectorFetchInput,
  connectorFetchOutput,
  connectorSearchInput,
  connectorSearchOutput,
} from "../schemas.ts";
import { TOOL_SCOPES } from "../scopes.ts";
import { type McpDeps, userTool } from "../tool_context.ts";

/**
 * `search` and `fetch` in the exact shape ChatGPT connectors and deep research require: one text
 * item holding the same JSON as structuredContent, and a non-empty url for citations.
 */
export function registerConnectorTools(server: McpServer, deps: McpDeps): void {
  const { conversations } = deps.services;
  const url = (id: string) => conversationUrl(deps.config.publicUrl, id);

  server.registerTool("search", {
    title: "Search saved conversations",
    description: "Search the user's saved AI conversations in Pensieve. Returns ids, titles " +
      "and links; use fetch with an id to read a conversation.",
    inputSchema: connectorSearchInput,
    outputSchema: connectorSearchOutput,
    annotations: { readOnlyHint: true, openWorldHint: false },
  }, ({ query }, extra) =>
    userTool(deps, extra, TOOL_SCOPES.search, async (userId) => {
      const page = query.trim()
        ? await conversations.search(userId, { q: query, limit: LIMITS.searchPageDefault })
        : { items: [] };
      const results = page.items.map((r) => ({
        id: r.conversation.id,
        title: r.conversation.title,
        url: url(r.conversation.id),
      }));
      return {
        content: [{ type: "text", text: JSON.stringify({ results }) }],
        structuredContent: { results },
      };
    }));

  server.registerTool("fetch", {
    title: "Fetch a saved conversation",
    description: "Read one saved conversation in full by the id a search result gave.",
    inputSchema: connectorFetchInput,
    outputSchema: connectorFetchOutput,
    annotations: { readOnlyHint: true, openWorldHint: false },
  }, ({ id }, extra) =>
    userTool(deps, extra, TOOL_SCOPES.fetch, async (userId) => {
      const loaded = await conversations.load(userId, id, { limit: LIMITS.messagePageMax });
      const c = loaded.conversation;
      const document = {
        id: c.id,
        title: c.title,
        text: transcript(c, loaded.messages),
        url: url(c.id),
        metadata: {
          source: c.source,
          tags: c.tags,
          message_count: c.messageCount,
          created_at: new Date(c.createdAt).toISOString(),
          updated_at: new Date(c.updatedAt).toISOString(),
        },
      };
      return {
        content: [{ type: "text", text: JSON.stringify(document) }],
        structuredContent: document,
      };
    }));
}
