import { Hono } from "hono";
import type { Services } from "../../core/services.ts";
import type { AppEnv } from "../env.ts";

/** /api/export: every conversation with all its messages, as one streamed JSON document. */
export function exportRoutes(services: Services): Hono<AppEnv> {
  return new Hono<AppEnv>().get("/", (c) => {
    const day = new Date().toISOString().slice(0, 10);
    return new Response(services.exporter.all(c.var.principal.userId), {
      headers: {
        "Content-Type": "application/json; charset=utf-8",
        "Content-Disposition": `attachment; filename="pensieve-export-${day}.json"`,
        "Cache-Control": "no-store",
      },
    });
  });
}
