import { Hono } from "hono";
import { searchQuerySchema } from "../../core/schemas.ts";
import type { Services } from "../../core/services.ts";
import { searchResultView } from "../../core/views.ts";
import type { AppEnv } from "../env.ts";
import { readQuery } from "../validate.ts";

/** /api/search: ranked full-text search over the caller's conversations. */
export function searchRoutes(services: Services): Hono<AppEnv> {
  return new Hono<AppEnv>().get("/", async (c) => {
    const page = await services.conversations.search(
      c.var.principal.userId,
      readQuery(c, searchQuerySchema),
    );
    return c.json({ results: page.items.map(searchResultView), next_cursor: page.nextCursor });
  });
}
