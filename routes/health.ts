import { Hono } from "hono";
import type { Store } from "../db/store.ts";
import type { AppEnv } from "./env.ts";
import { errorBody } from "./errors.ts";
import { errorFields } from "../core/logger.ts";

/** /healthz (the process answers) and /readyz (it can reach its store and is not draining). */
export function healthRoutes(store: Store, isDraining: () => boolean): Hono<AppEnv> {
  return new Hono<AppEnv>()
    .get("/healthz", (c) => c.json({ status: "ok" }))
    .get("/readyz", async (c) => {
      if (isDraining()) {
        return c.json(errorBody("unavailable", "The server is shutting down."), 503);
      }
      try {
        await store.ping();
      } catch (error) {
        c.var.log.warn("readyz: store ping failed", errorFields(error));
        return c.json(errorBody("unavailable", "The database cannot be reached."), 503);
      }
      return c.json({
        status: "ready",
        store: store.kind,
        ...(store.searchMode ? { search: store.searchMode } : {}),
      });
    });
}
