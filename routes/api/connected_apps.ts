import { Hono } from "hono";
import type { Services } from "../../core/services.ts";
import type { AppEnv } from "../env.ts";

/** /api/connected-apps: the OAuth clients a user has approved, and disconnecting them. */
export function connectedAppRoutes(services: Services): Hono<AppEnv> {
  const server = services.authorizationServer;
  return new Hono<AppEnv>()
    .get("/", async (c) => {
      const apps = await server.connectedApps(c.var.principal.userId);
      return c.json({
        connected_apps: apps.map(({ grant, clientName }) => ({
          id: grant.id,
          client_id: grant.clientId,
          client_name: clientName,
          scopes: grant.scopes,
          connected_at: new Date(grant.createdAt).toISOString(),
          last_used_at: new Date(grant.lastUsedAt).toISOString(),
          expires_at: new Date(grant.expiresAt).toISOString(),
        })),
      });
    })
    .delete("/:id", async (c) => {
      await server.disconnect(c.var.principal.userId, c.req.param("id"));
      return c.body(null, 204);
    });
}
