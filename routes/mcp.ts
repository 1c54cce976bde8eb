import { type Context, Hono, type MiddlewareHandler } from "hono";
import type { Config } from "../config.ts";
import { InsufficientScope, Unauthorized, Unavailable } from "../core/errors.ts";
import { SCOPES } from "../core/oauth/scopes.ts";
import { missingScope } from "../mcp/scopes.ts";
import type { Services } from "../core/services.ts";
import type { McpEndpoint } from "../db/store.ts";
import type { Lazy } from "../core/lazy.ts";
import type { McpRuntime } from "../mcp/runtime.ts";
import { parsedOrUndefined, readMcpBody } from "../mcp/request_body.ts";
import type { McpRequestIdentity } from "../mcp/streamable_http.ts";
import type { AppEnv } from "./env.ts";
import { errorBody } from "./errors.ts";
import { clientAddress } from "./middleware/client_address.ts";

const BEARER = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i;

/** The protected resource a path belongs to, for its metadata document and 401 challenge. */
export function resourceMetadataUrl(config: Config, resourcePath: "/mcp" | "/sse"): string {
  return `${config.publicUrl}/.well-known/oauth-protected-resource${resourcePath}`;
}

/**
 * DNS-rebinding and cross-site defence for every MCP endpoint: a Host this server is not known
 * by, or an Origin that is not allowed, gets 403 before anything else happens.
 */
function guardOriginAndHost(mcp: Lazy<McpRuntime>): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const rejected = (await mcp.get()).refuseHostOrOrigin(c.req.raw);
    if (rejected) return rejected;
    await next();
  };
}

/** MCP over Streamable HTTP and legacy SSE, with and without a credential, and the PRM documents. */
export function mcpRoutes(deps: {
  config: Config;
  services: Services;
  /** Loaded on the first MCP request. */
  mcp: Lazy<McpRuntime>;
  isDraining: () => boolean;
}): Hono<AppEnv> {
  const { config, services, mcp } = deps;

  async function identify(
    c: Context<AppEnv>,
    endpoint: McpEndpoint,
    resourcePath: "/mcp" | "/sse",
  ): Promise<McpRequestIdentity | Response> {
    const address = clientAddress(c, config.trustProxy);
    if (endpoint === "open") {
      return { endpoint, credentialUserId: null, scopes: SCOPES, clientAddress: address };
    }
    const header = c.req.header("Authorization");
    const match = header ? BEARER.exec(header) : null;
    try {
      if (!match) {
        throw new Unauthorized("Connect with OAuth or send 'Authorization: Bearer <token>'.");
      }
      const principal = await services.authenticator.authenticateForMcp(match[1]);
      c.set("principal", principal); // for the request log
      return {
        endpoint,
        credentialUserId: principal.userId,
        scopes: principal.scopes,
        clientAddress: address,
      };
    } catch (error) {
      if (!(error instanceof Unauthorized)) throw error;
      // This challenge is what starts the OAuth flow in claude.ai and ChatGPT.
      const invalid = match ? 'error="invalid_token", ' : "";
      return c.json(errorBody(error.code, error.message), 401, {
        "WWW-Authenticate": `Bearer ${invalid}resource_metadata="${
          resourceMetadataUrl(config, resourcePath)
        }", scope="${SCOPES.join(" ")}"`,
      });
    }
  }

  /** 403 with a challenge naming the scope, so the client can ask the user for more. */
  function scopeRefusal(
    c: Context<AppEnv>,
    identity: McpRequestIdentity,
    resourcePath: "/mcp" | "/sse",
    body: unknown,
  ): Response | null {
    // A body that is not JSON is refused by the transport with a parse error.
    if (c.req.method !== "POST" || identity.endpoint === "open" || body === undefined) return null;
    const scope = missingScope(body, identity.scopes);
    if (!scope) return null;
    const error = new InsufficientScope(scope);
    return c.json(errorBody("insufficient_scope", error.message), 403, {
      "WWW-Authenticate": `Bearer error="insufficient_scope", scope="${scope}", ` +
        `resource_metadata="${resourceMetadataUrl(config, resourcePath)}", ` +
        `error_description="${error.message}"`,
    });
  }

  const streamableAt = (endpoint: McpEndpoint) => async (c: Context<AppEnv>) => {
    const identity = await identify(c, endpoint, "/mcp");
    if (identity instanceof Response) return identity;
    const body = await readMcpBody(c.req.raw);
    const refused = scopeRefusal(c, identity, "/mcp", body.parsed);
    if (refused) return refused;
    return (await mcp.get()).streamable.handle(body, identity);
  };
  const sseAt = (endpoint: McpEndpoint, messagesPath: string) => async (c: Context<AppEnv>) => {
    if (deps.isDraining()) throw new Unavailable("This server is shutting down; reconnect.", 1);
    const identity = await identify(c, endpoint, "/sse");
    if (identity instanceof Response) return identity;
    return (await mcp.get()).sse.open(identity, messagesPath);
  };
  const messagesAt = (endpoint: McpEndpoint) => async (c: Context<AppEnv>) => {
    const identity = await identify(c, endpoint, "/sse");
    if (identity instanceof Response) return identity;
    const body = parsedOrUndefined(await c.req.text());
    const refused = scopeRefusal(c, identity, "/sse", body);
    if (refused) return refused;
    const sessionId = c.req.query("sessionId") ?? "";
    return (await mcp.get()).sse.post(sessionId, identity, body);
  };

  const protectedResource = (path: "" | "/mcp" | "/sse") => (c: Context<AppEnv>) =>
    c.json({
      resource: `${config.publicUrl}${path}`,
      resource_name: "Pensieve",
      authorization_servers: [config.publicUrl],
      scopes_supported: SCOPES,
      bearer_methods_supported: ["header"],
      resource_documentation: `${config.publicUrl}/`,
    });

  const app = new Hono<AppEnv>();
  app.get("/.well-known/oauth-protected-resource", protectedResource(""));
  app.get("/.well-known/oauth-protected-resource/mcp", protectedResource("/mcp"));
  app.get("/.well-known/oauth-protected-resource/sse", protectedResource("/sse"));

  const guard = guardOriginAndHost(mcp);
  for (const path of ["/mcp", "/sse", "/messages", "/open/mcp", "/open/sse", "/open/messages"]) {
    app.use(path, guard);
  }
  app.on(["GET", "POST", "DELETE"], "/mcp", streamableAt("mcp"));
  app.on(["GET", "POST", "DELETE"], "/open/mcp", streamableAt("open"));
  app.get("/sse", sseAt("mcp", "/messages"));
  app.get("/open/sse", sseAt("open", "/open/messages"));
  app.post("/messages", messagesAt("mcp"));
  app.post("/open/messages", messagesAt("open"));
  return app;
}
