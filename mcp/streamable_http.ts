import {
  createMcpHandler,
  isInitializeRequest,
  isLegacyRequest,
  type McpRequestContext,
  WebStandardStreamableHTTPServerTransport,
} from "@modelcontextprotocol/server";
import type { McpEndpoint } from "../db/store.ts";
import type { McpCaller } from "./caller.ts";
import { jsonRpcError } from "./json_rpc_error.ts";
import type { McpRequestBody } from "./request_body.ts";
import { buildMcpServer } from "./server.ts";
import { McpServerPool } from "./server_pool.ts";
import { countOpenRequest, startSession } from "./session_start.ts";
import { authInfoFor, callerOf, type McpDeps } from "./tool_context.ts";

/** What the HTTP layer established about a request before it reaches MCP. */
export interface McpRequestIdentity {
  endpoint: McpEndpoint;
  credentialUserId: string | null;
  /** What the credential allows; everything on `/open`, where sign-in is in-band. */
  scopes: readonly string[];
  clientAddress: string;
}

/** The Streamable HTTP endpoint: one handler for both protocol eras. */
export interface StreamableHttp {
  /** Serves one request, whose body (if any) the route has read once for every step. */
  handle(body: McpRequestBody, identity: McpRequestIdentity): Promise<Response>;
  close(): Promise<void>;
}

/** The transport answers 406 unless a client accepts both; no session is started for those. */
function acceptsBoth(request: Request): boolean {
  const accept = request.headers.get("accept") ?? "";
  return accept.includes("application/json") && accept.includes("text/event-stream");
}

/** The id of a `subscriptions/listen` request, or undefined when it is something else. */
function listenRequestId(body: unknown): string | number | null | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const { method, id } = body as { method?: unknown; id?: string | number | null };
  return method === "subscriptions/listen" ? (id ?? null) : undefined;
}

/**
 * Whether a body is one request other than `initialize`, which a pooled server may serve: the
 * hot path. Batches, notifications and handshakes get a server of their own, used once.
 */
function isLoneRequest(body: unknown): boolean {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return false;
  const { id, method } = body as { id?: unknown; method?: unknown };
  return (typeof id === "string" || typeof id === "number") && typeof method === "string" &&
    method !== "initialize";
}

/** Idle servers kept per endpoint; more than the requests usually in flight at once. */
const IDLE_SERVERS = 16;

/**
 * Serves `/mcp` and `/open/mcp`. 2026-07-28 requests go to the SDK's `createMcpHandler`
 * (sessionless by design). 2025-era requests are served statelessly per request too, but an
 * `initialize` starts a session kept in the store, whose `Mcp-Session-Id` any instance can
 * honour: `/open` needs it to remember an in-band login, and `/mcp` checks it belongs to the
 * same user.
 */
export function createStreamableHttp(deps: McpDeps): StreamableHttp {
  const { config, sessions } = deps;
  const keepAliveMs = config.mcp.sseKeepAliveSeconds * 1000;
  const modern = createMcpHandler(
    (ctx: McpRequestContext) => buildMcpServer(deps, callerOf(ctx.authInfo).endpoint),
    {
      legacy: "reject",
      responseMode: config.mcp.responseMode,
      keepAliveMs,
      maxRequestBodySize: config.maxBodyBytes,
      onerror: () => {},
    },
  );

  const pools = {
    mcp: new McpServerPool(() => buildMcpServer(deps, "mcp"), IDLE_SERVERS),
    open: new McpServerPool(() => buildMcpServer(deps, "open"), IDLE_SERVERS),
  };

  async function serveLegacy(
    request: Request,
    caller: McpCaller,
    parsedBody: unknown,
    newSessionId?: string,
  ): Promise<Response> {
    const pool = isLoneRequest(parsedBody) ? pools[caller.endpoint] : undefined;
    const server = pool ? pool.take() : buildMcpServer(deps, caller.endpoint);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: newSessionId === undefined ? undefined : () => newSessionId,
      enableJsonResponse: config.mcp.responseMode === "json",
      keepAliveMs,
      maxRequestBodySize: config.maxBodyBytes,
    });
    await server.connect(transport);
    let tornDown = false;
    /** Only a server whose exchange ran to its end goes back to the pool. */
    const teardown = (completed: boolean) => {
      if (tornDown) return;
      tornDown = true;
      transport.close().catch(() => {});
      if (pool && completed) pool.give(server);
      else server.close().catch(() => {});
    };
    const response = await transport.handleRequest(request, {
      authInfo: authInfoFor(caller),
      ...(parsedBody !== undefined && { parsedBody }),
    });
    if (!response.body || !response.headers.get("content-type")?.includes("text/event-stream")) {
      teardown(true);
      return response;
    }
    // A streamed answer ends when the stream does; only then is the instance released.
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            teardown(true);
            controller.close();
          } else controller.enqueue(value);
        } catch (error) {
          teardown(false);
          controller.error(error);
        }
      },
      cancel(reason) {
        teardown(false);
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  }

  async function handleLegacy(
    request: Request,
    identity: McpRequestIdentity,
    parsedBody: unknown,
  ): Promise<Response> {
    const { endpoint, credentialUserId } = identity;
    const method = request.method.toUpperCase();
    const headerId = request.headers.get("mcp-session-id");
    if (method === "GET") {
      // Stateless serving has no stream for server-initiated messages to go to.
      return jsonRpcError(
        405,
        -32000,
        "Method not allowed: this server sends no unsolicited messages.",
        {
          Allow: "POST, DELETE",
        },
      );
    }
    const session = headerId ? await sessions.find(headerId, endpoint, "streamable") : null;
    if (headerId && (!session || (endpoint === "mcp" && session.userId !== credentialUserId))) {
      return jsonRpcError(404, -32001, "Session not found: initialize a new session.");
    }
    if (method === "DELETE") {
      if (!session) return jsonRpcError(400, -32000, "DELETE needs the Mcp-Session-Id to end.");
      await sessions.end(session.id);
      return new Response(null, { status: 200 });
    }
    if (method !== "POST") {
      return jsonRpcError(405, -32000, "Method not allowed.", { Allow: "GET, POST, DELETE" });
    }
    if (Array.isArray(parsedBody) && parsedBody.length === 0) {
      return jsonRpcError(400, -32600, "Invalid Request: an empty batch.");
    }
    const caller: McpCaller = {
      ...identity,
      transport: "streamable",
      sessionId: session?.id ?? null,
    };
    if (
      !headerId && (parsedBody as { method?: unknown } | undefined)?.method === "initialize" &&
      isInitializeRequest(parsedBody) && acceptsBoth(request)
    ) {
      const started = await startSession(deps, identity, "streamable");
      return serveLegacy(request, { ...caller, sessionId: started.id }, parsedBody, started.id);
    }
    return serveLegacy(request, caller, parsedBody);
  }

  return {
    async handle({ request, parsed }, identity) {
      await countOpenRequest(deps, identity);
      // Sign-in state lives in a 2025-era session, so `/open` speaks only that era; a client
      // probing with server/discover is told the version is unsupported and falls back. A POST
      // without a JSON body is the SDK's legacy case, answered there with a parse error.
      const legacy = request.method.toUpperCase() === "POST" && parsed === undefined ||
        await isLegacyRequest(request, parsed, { maxRequestBodySize: config.maxBodyBytes });
      if (identity.endpoint === "mcp" && !legacy) {
        const listenId = listenRequestId(parsed);
        if (listenId !== undefined) {
          // Pensieve never changes its tools, resources or prompts while running: a listen
          // stream would only hold a connection open.
          return Response.json({
            jsonrpc: "2.0",
            id: listenId,
            error: { code: -32601, message: "Pensieve sends no change notifications." },
          });
        }
        const caller: McpCaller = { ...identity, transport: "streamable", sessionId: null };
        return modern.fetch(request, { authInfo: authInfoFor(caller), parsedBody: parsed });
      }
      return handleLegacy(request, identity, parsed);
    },
    close: () => modern.close(),
  };
}
