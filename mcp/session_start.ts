import type { McpSession } from "../core/mcp_sessions.ts";
import type { McpRequestIdentity } from "./streamable_http.ts";
import type { McpDeps } from "./tool_context.ts";

/**
 * Starts an MCP session, at most `callsPerMinute` a minute per user (per address on `/open`), so
 * a client that initializes in a loop cannot fill the sessions table.
 */
export async function startSession(
  deps: McpDeps,
  identity: McpRequestIdentity,
): Promise<McpSession> {
  const who = identity.credentialUserId ?? `address:${identity.clientAddress}`;
  const limit = deps.config.mcp.callsPerMinute;
  await deps.limiter.hit(
    `mcp-sessions:${who}`,
    limit,
    60_000,
    `Too many new MCP sessions: at most ${limit} a minute.`,
  );
  return deps.sessions.start(identity.endpoint, identity.credentialUserId);
}
