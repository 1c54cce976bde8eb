import { Unauthorized } from "../core/errors.ts";
import type { McpSessions } from "../core/mcp_sessions.ts";
import type { McpEndpoint, McpTransportKind } from "../db/store.ts";

/** Who is calling one MCP server instance, as established by the transport before any tool runs. */
export interface McpCaller {
  endpoint: McpEndpoint;
  transport: McpTransportKind;
  /** The user of the request's verified credential; null on `/open` (see `sessionId`). */
  credentialUserId: string | null;
  /** The MCP session this request belongs to, when the client holds one. */
  sessionId: string | null;
  /** What the credential allows. */
  scopes: readonly string[];
  clientAddress: string;
}

const LOG_IN_FIRST = "Log in first: call mcp_login (or mcp_register, or set_api_token). " +
  "Safer still, connect with OAuth or a personal access token so no password passes through the chat.";

/**
 * The user every tool acts for: the credential's, or on `/open` the one bound to the session by
 * an in-band login. Read from the store on each call, so a login served by another instance
 * counts here too.
 */
export async function callerUserId(caller: McpCaller, sessions: McpSessions): Promise<string> {
  if (caller.credentialUserId) return caller.credentialUserId;
  if (caller.sessionId) {
    const session = await sessions.find(caller.sessionId, caller.endpoint, caller.transport);
    if (session?.userId) return session.userId;
  }
  throw new Unauthorized(LOG_IN_FIRST);
}
