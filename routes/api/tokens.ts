import { Hono } from "hono";
import { createTokenSchema, renameTokenSchema } from "../../core/schemas.ts";
import type { Services } from "../../core/services.ts";
import { personalTokenView } from "../../core/views.ts";
import type { AppEnv } from "../env.ts";
import { readJson } from "../validate.ts";

/** /api/tokens: personal access tokens. */
export function tokenRoutes(services: Services): Hono<AppEnv> {
  const { personalTokens } = services;
  return new Hono<AppEnv>()
    .get("/", async (c) => {
      const tokens = await personalTokens.list(c.var.principal.userId);
      return c.json({ tokens: tokens.map(personalTokenView) });
    })
    .post("/", async (c) => {
      const input = await readJson(c, createTokenSchema);
      const created = await personalTokens.create(c.var.principal.userId, {
        name: input.name,
        expiresInDays: input.expires_in_days,
      });
      return c.json({ token: personalTokenView(created.token), secret: created.secret }, 201);
    })
    .patch("/:id", async (c) => {
      const input = await readJson(c, renameTokenSchema);
      const token = await personalTokens.rename(
        c.var.principal.userId,
        c.req.param("id"),
        input.name,
      );
      return c.json({ token: personalTokenView(token) });
    })
    .delete("/:id", async (c) => {
      await personalTokens.revoke(c.var.principal.userId, c.req.param("id"));
      return c.body(null, 204);
    });
}
