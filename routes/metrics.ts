import { Hono } from "hono";
import { Unauthorized } from "../core/errors.ts";
import type { PrometheusMetrics } from "../core/prometheus_metrics.ts";
import { sha256Hex, timingSafeEqual } from "../core/secrets.ts";
import type { AppEnv } from "./env.ts";

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * `GET /metrics` in the Prometheus text format, for a scraper holding `token`
 * (`Authorization: Bearer <token>`). Mounted only when a token is configured.
 */
export function metricsRoutes(metrics: PrometheusMetrics, token: string): Hono<AppEnv> {
  // Digests compare in constant time whatever the length of what was sent.
  const expected = sha256Hex(token);
  return new Hono<AppEnv>().get("/metrics", async (c) => {
    const match = BEARER.exec(c.req.header("Authorization") ?? "");
    if (!match || !timingSafeEqual(await sha256Hex(match[1]), await expected)) {
      throw new Unauthorized("Send 'Authorization: Bearer <PENSIEVE_METRICS_TOKEN>'.");
    }
    c.header("Cache-Control", "no-store");
    c.header("Content-Type", metrics.contentType);
    return c.body(await metrics.render());
  });
}
