import type { AuthInfo, CallToolResult, ServerContext } from "@modelcontextprotocol/server";
import type { Config } from "../config.ts";
import { InsufficientScope } from "../core/errors.ts";
import type { Scope } from "../core/oauth/scopes.ts";
import type { McpSessions } from "../core/mcp_sessions.ts";
import type { RateLimiter } from "../core/rate_limiter.ts";
import type { Services } from "../core/services.ts";
import type { ToolOutcome } from "../core/metrics.ts";
import type { McpTransportKind } from "../db/store.ts";
import { callerUserId, type McpCaller } from "./caller.ts";
import { errorResult, protocolError } from "./tool_result.ts";

/** What every tool, resource and prompt is built from. */
export interface McpDeps {
  config: Config;
  services: Services;
  sessions: McpSessions;
  limiter: RateLimiter;
  /** Reports an error that is not a domain error (a bug or an outage). */
  onUnexpected: (error: unknown) => void;
  /** Told of every session started and tool call, for metrics. */
  observer?: McpObserver;
}

/** What the MCP layer reports as it works. */
export interface McpObserver {
  sessionStarted(transport: McpTransportKind): void;
  toolCalled(tool: string, outcome: ToolOutcome): void;
}

/** The SDK hands authInfo through to every handler untouched; it carries our caller. */
export function authInfoFor(caller: McpCaller): AuthInfo {
  return { token: "", clientId: caller.endpoint, scopes: [], extra: { caller } };
}

/** The caller a transport put in a request's authInfo. */
export function callerOf(authInfo: AuthInfo | undefined): McpCaller {
  const caller = authInfo?.extra?.caller as McpCaller | undefined;
  if (!caller) throw new Error("MCP request without a caller");
  return caller;
}

/**
 * Who sent the request a tool, resource or prompt is serving. Always read from the request,
 * never kept by the server instance: one instance serves many requests, of any user.
 */
export function requestCaller(extra: ServerContext | undefined): McpCaller {
  return callerOf(extra?.http?.authInfo);
}

/**
 * Resolves the user, checks the credential has `scope`, counts the call against the per-minute
 * limit, and runs `fn` for them.
 */
async function asUser<T>(
  deps: McpDeps,
  extra: ServerContext | undefined,
  scope: Scope,
  fn: (userId: string) => Promise<T>,
): Promise<T> {
  const caller = requestCaller(extra);
  const userId = await callerUserId(caller, deps.sessions);
  if (!caller.scopes.includes(scope)) throw new InsufficientScope(scope);
  await deps.limiter.hit(
    `mcp-calls:${userId}`,
    deps.config.mcp.callsPerMinute,
    60_000,
    `Too many MCP calls: at most ${deps.config.mcp.callsPerMinute} a minute.`,
  );
  return fn(userId);
}

/** A tool body that acts for the calling user; any error becomes an `isError` result. */
export async function userTool(
  deps: McpDeps,
  extra: ServerContext | undefined,
  scope: Scope,
  fn: (userId: string) => Promise<CallToolResult>,
): Promise<CallToolResult> {
  try {
    return await asUser(deps, extra, scope, fn);
  } catch (error) {
    return errorResult(error, deps.onUnexpected);
  }
}

/** For resources (`uri` given) and prompts, whose errors are JSON-RPC errors, not results. */
export async function userRead<T>(
  deps: McpDeps,
  extra: ServerContext | undefined,
  fn: (userId: string) => Promise<T>,
  uri?: string,
): Promise<T> {
  try {
    return await asUser(deps, extra, "conversations:read", fn);
  } catch (error) {
    throw protocolError(error, deps.onUnexpected, uri);
  }
}
