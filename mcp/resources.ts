import { type McpServer, ResourceTemplate } from "@modelcontextprotocol/server";
import { LIMITS } from "../core/limits.ts";
import { conversationView, messageView } from "../core/views.ts";
import { type McpDeps, userRead } from "./tool_context.ts";

/** `pensieve://conversations/{id}`: each saved conversation as a JSON resource. */
export function registerConversationResources(server: McpServer, deps: McpDeps): void {
  const { conversations } = deps.services;
  const template = new ResourceTemplate("pensieve://conversations/{id}", {
    list: (extra) =>
      userRead(deps, extra, async (userId) => {
        const page = await conversations.list(userId, { limit: LIMITS.listPageMax });
        return {
          resources: page.items.map((c) => ({
            uri: `pensieve://conversations/${c.id}`,
            name: c.title,
            description: `${c.messageCount} messages from ${c.source}, updated ${
              new Date(c.updatedAt).toISOString()
            }`,
            mimeType: "application/json",
          })),
        };
      }),
  });
  server.registerResource("conversation", template, {
    title: "Saved conversation",
    description: "A saved conversation with its messages (the first 1000), as JSON. The list " +
      "holds the 100 most recently updated; use list_conversations or search to find older ones.",
    mimeType: "application/json",
  }, (uri, variables, extra) =>
    userRead(deps, extra, async (userId) => {
      const id = String(variables.id ?? "");
      const loaded = await conversations.load(userId, id, { limit: LIMITS.messagePageMax });
      const body = {
        conversation: conversationView(loaded.conversation),
        messages: loaded.messages.map(messageView),
      };
      return {
        contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(body) }],
      };
    }, uri.href));
}
