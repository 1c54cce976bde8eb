import {
  hostHeaderValidationResponse,
  localhostAllowedHostnames,
  originValidationResponse,
} from "@modelcontextprotocol/server";
import type { Config } from "../config.ts";
import { SseStreams } from "./sse_streams.ts";
import { createStreamableHttp, type StreamableHttp } from "./streamable_http.ts";
import type { McpDeps } from "./tool_context.ts";

/**
 * Everything that speaks MCP. The app loads this module on the first MCP request: the SDK is the
 * largest part of the module graph, and an instance that only serves the dashboard or the REST
 * API should not pay for it at start-up.
 */
export interface McpRuntime {
  streamable: StreamableHttp;
  sse: SseStreams;
  /** 403 for a Host this server is not known by or an Origin not allowed; undefined to go on. */
  refuseHostOrOrigin(request: Request): Response | undefined;
}

function allowedHostnames(config: Config): string[] | null {
  if (config.mcp.allowedHosts.includes("*")) return null;
  return [
    new URL(config.publicUrl).hostname,
    ...localhostAllowedHostnames(),
    ...config.mcp.allowedHosts,
  ];
}

function allowedOrigins(config: Config): string[] {
  const publicHost = new URL(config.publicUrl).hostname;
  const local = localhostAllowedHostnames();
  return [
    publicHost,
    ...config.corsOrigins.map((origin) => new URL(origin).hostname),
    // A browser-based client on the same machine, only when the server itself is local.
    ...(local.includes(publicHost) ? local : []),
  ];
}

export function createMcpRuntime(deps: McpDeps): McpRuntime {
  const hosts = allowedHostnames(deps.config);
  const origins = allowedOrigins(deps.config);
  return {
    streamable: createStreamableHttp(deps),
    sse: new SseStreams(deps),
    refuseHostOrOrigin: (request) =>
      (hosts && hostHeaderValidationResponse(request, hosts)) ??
        originValidationResponse(request, origins),
  };
}
