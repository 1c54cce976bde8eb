import type { CallToolResult } from "@modelcontextprotocol/server";
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

/** One server instance's view: the shared dependencies and who is calling. */
export interface ToolContext extends McpDeps {
  caller: McpCaller;
}

/**
 * Resolves the user, checks the credential has `scope`, counts the call against the per-minute
 * limit, and runs `fn` for them.
 */
export async function asUser<T>(
  ctx: ToolContext,
  scope: Scope,
  fn: (userId: string) => Promise<T>,
): Promise<T> {
  const userId = await callerUserId(ctx.caller, ctx.sessions);
  if (!ctx.caller.scopes.includes(scope)) throw new InsufficientScope(scope);
  await ctx.limiter.hit(
    `mcp-calls:${userId}`,
    ctx.config.mcp.callsPerMinute,
    60_000,
    `Too many MCP calls: at most ${ctx.config.mcp.callsPerMinute} a minute.`,
  );
  return fn(userId);
}

/** A tool body that acts for the calling user; any error becomes an `isError` result. */
export async function userTool(
  ctx: ToolContext,
  scope: Scope,
  fn: (userId: string) => Promise<CallToolResult>,
): Promise<CallToolResult> {
  try {
    return await asUser(ctx, scope, fn);
  } catch (error) {
    return errorResult(error, ctx.onUnexpected);
  }
}

/** For resources (`uri` given) and prompts, whose errors are JSON-RPC errors, not results. */
export async function userRead<T>(
  ctx: ToolContext,
  fn: (userId: string) => Promise<T>,
  uri?: string,
): Promise<T> {
  try {
    return await asUser(ctx, "conversations:read", fn);
  } catch (error) {
    throw protocolError(error, ctx.onUnexpected, uri);
  }
}
