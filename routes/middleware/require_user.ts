import type { MiddlewareHandler } from "hono";
import { Unauthorized } from "../../core/errors.ts";
import type { Authenticator } from "../../core/authenticator.ts";
import type { AppEnv } from "../env.ts";

/** Reads `Authorization: Bearer …`, verifies it, and sets `principal`; 401 otherwise. */
export function requireUser(authenticator: Authenticator): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("Authorization") ?? "";
    const match = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
    if (!match) {
      throw new Unauthorized(
        header
          ? "The Authorization header must be 'Bearer <token>'."
          : "Sign in: send 'Authorization: Bearer <token>'.",
      );
    }
    c.set("principal", await authenticator.authenticate(match[1]));
    await next();
  };
}
