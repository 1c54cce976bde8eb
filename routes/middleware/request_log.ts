import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { Logger, LogLevel } from "../../core/logger.ts";
import { methodLabel, type Metrics } from "../../core/metrics.ts";
import type { Principal } from "../../core/principal.ts";
import type { UserTags } from "../../core/user_tag.ts";
import type { AppEnv } from "../env.ts";

/** An incoming `X-Request-Id` is kept only if it looks like an id, not a payload. */
const SANE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Probes and scrapes that succeed are logged at debug level only: they come every few seconds. */
const QUIET_ROUTES = new Set(["/healthz", "/readyz", "/metrics"]);

/** The label of a request no route took (404s, CORS preflights). */
export const UNMATCHED_ROUTE = "unmatched";

/**
 * The pattern of the route that served a request (`/api/conversations/:id`), never the raw path,
 * so ids do not reach logs or metric labels; middleware patterns (`/api/*`) do not count.
 */
export function routePattern(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    if (routes[i].method !== "ALL") return routes[i].path;
  }
  return UNMATCHED_ROUTE;
}

/**
 * The first middleware: gives every request an id (a sane incoming `X-Request-Id`, else a new
 * UUID) echoed in the response, a logger carrying it, and, when the response is ready, one log
 * line and its metrics. The line holds the method, route pattern, status, latency to response
 * headers and, when a credential named one, the user's keyed tag: never headers, query strings,
 * bodies or the client's address.
 */
export function requestLog(deps: {
  logger: Logger;
  metrics: Metrics;
  userTags: UserTags;
}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const incoming = c.req.header("X-Request-Id");
    const requestId = incoming && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    const log = deps.logger.child({ request_id: requestId });
    c.set("requestId", requestId);
    c.set("log", log);
    deps.metrics.requestStarted();
    let status = 500;
    try {
      await next();
      status = c.res.status;
      c.header("X-Request-Id", requestId);
    } finally {
      const ms = performance.now() - started;
      const route = routePattern(c);
      deps.metrics.requestEnded(route, c.req.method, status, ms / 1000);
      // 503 is said on purpose (draining, a full queue); other 5xx are faults.
      const level: LogLevel = status === 503
        ? "warn"
        : status >= 500
        ? "error"
        : QUIET_ROUTES.has(route) && status < 300
        ? "debug"
        : "info";
      if (log.isEnabled(level)) {
        const principal = c.get("principal") as Principal | undefined;
        log.log(level, "request", {
          method: methodLabel(c.req.method),
          route,
          status,
          latency_ms: Math.round(ms * 10) / 10,
          user: principal ? await deps.userTags.of(principal.userId) : undefined,
        });
      }
    }
  };
}
