import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import type { Clock } from "./core/clock.ts";
import { Invalid, PensieveError, TooLarge } from "./core/errors.ts";
import { createServices, type Services } from "./core/services.ts";
import type { Config } from "./config.ts";
import type { MetadataFetcher } from "./core/oauth/client_metadata_document.ts";
import type { Store } from "./db/store.ts";
import { conversationRoutes } from "./routes/api/conversations.ts";
import { searchRoutes } from "./routes/api/search.ts";
import { tokenRoutes } from "./routes/api/tokens.ts";
import { authRoutes } from "./routes/auth.ts";
import type { AppEnv } from "./routes/env.ts";
import { errorBody, errorResponse } from "./routes/errors.ts";
import { healthRoutes } from "./routes/health.ts";
import { requireUser } from "./routes/middleware/require_user.ts";
import { openApiDocument } from "./routes/openapi.ts";
import { mcpRoutes } from "./routes/mcp.ts";
import { oauthRoutes, PUBLIC_OAUTH_PATHS } from "./routes/oauth.ts";
import { connectedAppRoutes } from "./routes/api/connected_apps.ts";
import { importRoutes } from "./routes/api/import.ts";
import { streamLimit } from "./routes/middleware/stream_limit.ts";
import { exportRoutes } from "./routes/api/export.ts";
import { pageRoutes } from "./routes/pages.ts";
import { staticAsset } from "./routes/static_asset.ts";
import { WebSessions } from "./routes/web_session.ts";
import { McpSessions } from "./core/mcp_sessions.ts";
import { RateLimiter } from "./core/rate_limiter.ts";
import { lazy } from "./core/lazy.ts";
import type { McpDeps } from "./mcp/tool_context.ts";
import { errorFields, Logger, type LogSink, stdoutSink } from "./core/logger.ts";
import { type Metrics, UNREAD_METRICS } from "./core/metrics.ts";
import { UserTags } from "./core/user_tag.ts";
import { SERVER_INFO } from "./mcp/server_info.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { requestLog } from "./routes/middleware/request_log.ts";
import { admission } from "./routes/middleware/admission.ts";

/** A built application: its HTTP handler, its services, and a switch for shutdown. */
export interface App {
  hono: Hono<AppEnv>;
  services: Services;
  /** The logger requests are logged with, for what runs beside them. */
  logger: Logger;
  metrics: Metrics;
  /** /readyz answers 503 from now on; new SSE streams are refused. */
  startDraining(): void;
  /** Ends long-lived MCP streams, so a stopping server is not held open by them. */
  closeStreams(): Promise<void>;
}

/** Builds the whole service from its dependencies. The one place routes are mounted. */
export async function createApp(deps: {
  config: Config;
  store: Store;
  clock: Clock;
  /** How OAuth client metadata documents are fetched; the network unless a test says so. */
  metadataFetcher?: MetadataFetcher;
  /** Where log lines go: stdout unless a test collects them. */
  logSink?: LogSink;
}): Promise<App> {
  const { config, store, clock } = deps;
  const logger = new Logger({ ...config.log, sink: deps.logSink ?? stdoutSink, clock });
  const prometheus = config.metricsToken
    ? new (await import("./core/prometheus_metrics.ts")).PrometheusMetrics({
      storeKind: store.kind,
      version: SERVER_INFO.version,
      startedAt: clock.now(),
      openSseStreams: () => mcp.loaded()?.sse.openCount ?? 0,
    })
    : undefined;
  const metrics: Metrics = prometheus ?? UNREAD_METRICS;
  const services = createServices({
    ...deps,
    importJobEvents: {
      started: () => metrics.importStarted(),
      ended: (status, unexpected) => {
        metrics.importEnded(status);
        if (unexpected) logger.error("import job failed", errorFields(unexpected));
      },
    },
  });
  let draining = false;

  const app = new Hono<AppEnv>();
  // Before everything, so that what it refuses under overload costs as little as possible.
  app.use(admission({ config: config.admission, logger, metrics }));
  // First after that, so every response, however it ends, is logged and counted with its id.
  app.use(requestLog({ logger, metrics, userTags: new UserTags(config.jwtSecret!) }));
  app.onError((error, c) => errorResponse(c, error));
  app.notFound((c) => c.json(errorBody("not_found", "No such endpoint."), 404));

  app.use(secureHeaders({
    contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    strictTransportSecurity: config.publicUrl.startsWith("https:")
      ? "max-age=63072000; includeSubDomains"
      : false,
    referrerPolicy: "no-referrer",
    crossOriginResourcePolicy: "same-origin",
    xFrameOptions: "DENY",
    // A page that sets its own policy (the OAuth sign-in and consent pages) keeps it.
    overwrite: false,
  }));
  app.use(cors({
    origin: (origin, c) =>
      PUBLIC_OAUTH_PATHS.includes(c.req.path)
        ? "*"
        : config.corsOrigins.includes(origin)
        ? origin
        : null,
    allowMethods: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
    allowHeaders: [
      "Authorization",
      "Content-Type",
      "Idempotency-Key",
      "Mcp-Session-Id",
      "Mcp-Protocol-Version",
      "Mcp-Method",
      "Mcp-Name",
      "Last-Event-ID",
      "X-Request-Id",
    ],
    exposeHeaders: [
      "Retry-After",
      "Location",
      "Mcp-Session-Id",
      "WWW-Authenticate",
      "X-Request-Id",
    ],
    maxAge: 600,
  }));
  app.use("/api/*", async (c, next) => {
    await next();
    c.header("Cache-Control", "no-store");
  });
  app.use("/auth/*", async (c, next) => {
    await next();
    c.header("Cache-Control", "no-store");
  });
  // After no-store, so a refused oversize body is not cacheable either.
  const limitTo = (maxSize: number): MiddlewareHandler<AppEnv> => {
    const limit = bodyLimit({
      maxSize,
      onError: () => {
        throw new TooLarge(`The request body is larger than ${maxSize} bytes.`);
      },
    });
    return async (c, next) => {
      let reached = false;
      try {
        await limit(c, () => {
          reached = true;
          return next();
        });
      } catch (error) {
        // A body of unknown length is read here, before the handler: failing to read it means
        // the client went away mid-body (often after a 504), not a fault of the server.
        if (reached || error instanceof PensieveError) throw error;
        throw new Invalid("The request body ended before it was complete.");
      }
    };
  };
  const generalLimit = limitTo(config.maxBodyBytes);
  // An export upload is streamed into the importer, so it may be far larger than a request,
  // and is never buffered.
  const importLimit = streamLimit(config.maxImportBytes);
  const isImport = (path: string) => path === "/settings/import" || path.startsWith("/api/import");
  app.use((c, next) => isImport(c.req.path) ? importLimit(c, next) : generalLimit(c, next));

  app.route("/", healthRoutes(store, () => draining));
  if (prometheus) app.route("/", metricsRoutes(prometheus, config.metricsToken!));
  app.get("/openapi.json", (c) => c.json(openApiDocument(config.publicUrl)));
  app.route("/auth", authRoutes(services, config));
  const mcpDeps: McpDeps = {
    config,
    services,
    sessions: new McpSessions(store, clock, config.mcp.sessionIdleSeconds * 1000),
    limiter: new RateLimiter(store, clock),
    onUnexpected: (error) => logger.error("mcp: unexpected error", errorFields(error)),
    observer: {
      sessionStarted: (transport) => metrics.mcpSessionStarted(transport),
      toolCalled: (tool, outcome) => metrics.toolCalled(tool, outcome),
    },
  };
  const mcp = lazy(async () => (await import("./mcp/runtime.ts")).createMcpRuntime(mcpDeps));
  app.route("/", mcpRoutes({ config, services, mcp, isDraining: () => draining }));
  const webSessions = new WebSessions(config, services);
  app.route("/", oauthRoutes(services, config, webSessions));
  const stylesheet = staticAsset("app.css", "text/css; charset=utf-8")!;
  const islands = staticAsset("build/islands.js", "text/javascript; charset=utf-8");
  for (const asset of [stylesheet, islands]) {
    if (!asset) continue;
    app.get(asset.path, (c) => {
      c.header("Content-Type", asset.type);
      c.header("Cache-Control", "public, max-age=31536000, immutable");
      return c.body(asset.body);
    });
  }
  app.route(
    "/",
    pageRoutes({
      config,
      services,
      sessions: webSessions,
      stylesheet: stylesheet.path,
      script: islands?.path ?? null,
    }),
  );
  app.use("/api/*", requireUser(services.authenticator));
  app.route("/api/tokens", tokenRoutes(services));
  app.route("/api/conversations", conversationRoutes(services));
  app.route("/api/search", searchRoutes(services));
  app.route("/api/connected-apps", connectedAppRoutes(services));
  app.route("/api/import", importRoutes(services));
  app.route("/api/export", exportRoutes(services));

  return {
    hono: app,
    services,
    logger,
    metrics,
    startDraining: () => {
      draining = true;
    },
    closeStreams: async () => {
      const loaded = mcp.loaded();
      if (!loaded) return;
      await loaded.sse.closeAll();
      await loaded.streamable.close();
    },
  };
}
