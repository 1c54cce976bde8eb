import type { Logger } from "../core/logger.ts";
import type { Principal } from "../core/principal.ts";

/**
 * What Hono carries per request: the connection's address, the request's id and logger (set
 * first, for every request), and, once verified, the principal.
 */
export type AppEnv = {
  Bindings: { remoteAddr?: { hostname: string } };
  Variables: { principal: Principal; requestId: string; log: Logger };
};
