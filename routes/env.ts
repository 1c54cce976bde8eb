import type { Principal } from "../core/principal.ts";

/** What Hono carries per request: the connection's address and, once verified, the principal. */
export type AppEnv = {
  Bindings: { remoteAddr?: { hostname: string } };
  Variables: { principal: Principal };
};
