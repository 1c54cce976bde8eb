import { Hono } from "hono";
import { Invalid } from "../../core/errors.ts";
import type { Services } from "../../core/services.ts";
import type { AppEnv } from "../env.ts";

/**
 * /api/import: the body is a ChatGPT or Claude export (`.zip` or `conversations*.json`), sent as
 * is (any content type but multipart). It is read as it arrives; the answer is the summary.
 */
export function importRoutes(services: Services): Hono<AppEnv> {
  return new Hono<AppEnv>().post("/", async (c) => {
    if ((c.req.header("Content-Type") ?? "").startsWith("multipart/")) {
      throw new Invalid("Send the export file itself as the body, not a multipart form.");
    }
    const body = c.req.raw.body;
    if (!body) throw new Invalid("The body is empty: send the export file.");
    const summary = await services.importer.import(c.var.principal.userId, body, {
      name: c.req.query("name") ?? "upload",
    });
    return c.json({ summary });
  });
}
