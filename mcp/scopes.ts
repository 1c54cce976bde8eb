import type { Scope } from "../core/oauth/scopes.ts";

/** The scope each tool needs. Listing tools, resources and prompts needs none. */
export const TOOL_SCOPES: Record<string, Scope> = {
  save_conversation: "conversations:write",
  append_to_conversation: "conversations:write",
  delete_conversation: "conversations:delete",
  load_conversation: "conversations:read",
  list_conversations: "conversations:read",
  search_conversations: "conversations:read",
  search: "conversations:read",
  fetch: "conversations:read",
};

/** The scope one JSON-RPC request needs, if any. */
export function requiredScope(message: unknown): Scope | null {
  if (typeof message !== "object" || message === null) return null;
  const { method, params } = message as { method?: unknown; params?: { name?: unknown } };
  if (method === "tools/call") {
    const name = String(params?.name);
    return Object.hasOwn(TOOL_SCOPES, name) ? TOOL_SCOPES[name] : null;
  }
  if (method === "resources/read" || method === "prompts/get") return "conversations:read";
  if (method === "resources/list") return "conversations:read";
  return null;
}

/** The first scope a body (one message or a batch) needs that `granted` lacks. */
export function missingScope(body: unknown, granted: readonly string[]): Scope | null {
  const messages = Array.isArray(body) ? body : [body];
  for (const message of messages) {
    const needed = requiredScope(message);
    if (needed && !granted.includes(needed)) return needed;
  }
  return null;
}
