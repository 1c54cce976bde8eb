import { addressKey } from "../core/address_key.ts";
import type { McpSession } from "../core/mcp_sessions.ts";
import type { McpTransportKind } from "../db/store.ts";
import type { McpRequestIdentity } from "./streamable_http.ts";
import type { McpDeps } from "./tool_context.ts";

/** Who a per-minute MCP limit counts against: the credential's user, or the client's network. */
export function quotaKey(identity: McpRequestIdentity): string {
  return identity.credentialUserId ?? `address:${addressKey(identity.clientAddress)}`;
}

/**
 * Starts an MCP session, at most `sessionsPerMinute` a minute per user (per address on `/open`),
 * so a client that initializes in a loop cannot fill the sessions table.
 */
export async function startSession(
  deps: McpDeps,
  identity: McpRequestIdentity,
  transport: McpTransportKind,
): Promise<McpSession> {
  const limit = deps.config.mcp.sessionsPerMinute;
  await deps.limiter.hit(
    `mcp-sessions:${quotaKey(identity)}`,
    limit,
    60_000,
    `Too many new MCP sessions: at most ${limit} a minute.`,
  );
  const session = await deps.sessions.start(
    identity.endpoint,
    transport,
    identity.credentialUserId,
  );
  deps.observer?.sessionStarted(transport);
  return session;
}

/** Every request to `/open` counts against its address, signed in or not. */
export async function countOpenRequest(
  deps: McpDeps,
  identity: McpRequestIdentity,
): Promise<void> {
  if (identity.endpoint !== "open") return;
  const limit = deps.config.mcp.callsPerMinute;
  await deps.limiter.hit(
    `mcp-open:${addressKey(identity.clientAddress)}`,
    limit,
    60_000,
    `Too many requests to /open from this address: at most ${limit} a minute.`,
  );
}
