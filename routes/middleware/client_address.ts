import type { Context } from "hono";
import type { AppEnv } from "../env.ts";

/**
 * The address a request came from, for rate limits. Behind a proxy we run, the last
 * X-Forwarded-For entry is the one that proxy saw; earlier entries are the client's own say-so.
 */
export function clientAddress(c: Context<AppEnv>, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = c.req.header("X-Forwarded-For")?.split(",").map((s) => s.trim())
      .filter(Boolean);
    if (forwarded?.length) return forwarded[forwarded.length - 1];
  }
  return c.env?.remoteAddr?.hostname ?? "unknown";
}
