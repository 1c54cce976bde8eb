import { Hono } from "hono";
import type { Session } from "../core/accounts.ts";
import {
  changePasswordSchema,
  credentialsSchema,
  deleteAccountSchema,
  loginSchema,
} from "../core/schemas.ts";
import type { Services } from "../core/services.ts";
import { userView } from "../core/views.ts";
import type { Config } from "../config.ts";
import type { AppEnv } from "./env.ts";
import { clientAddress } from "./middleware/client_address.ts";
import { requireUser } from "./middleware/require_user.ts";
import { readJson } from "./validate.ts";

function sessionView(session: Session) {
  return {
    user: userView(session.user),
    access_token: session.accessToken,
    token_type: "Bearer",
    expires_in: session.expiresIn,
  };
}

/** /auth: accounts and sign-in. */
export function authRoutes(services: Services, config: Config): Hono<AppEnv> {
  const { accounts } = services;
  const signedIn = requireUser(services.authenticator);
  return new Hono<AppEnv>()
    .post("/register", async (c) => {
      const input = await readJson(c, credentialsSchema);
      const session = await accounts.register(
        input.email,
        input.password,
        clientAddress(c, config.trustProxy),
      );
      return c.json(sessionView(session), 201);
    })
    .post("/login", async (c) => {
      const input = await readJson(c, loginSchema);
      const session = await accounts.login(
        input.email,
        input.password,
        clientAddress(c, config.trustProxy),
      );
      return c.json(sessionView(session));
    })
    .post("/logout", signedIn, async (c) => {
      await accounts.logout(c.var.principal);
      return c.body(null, 204);
    })
    .get("/me", signedIn, async (c) => {
      return c.json({ user: userView(await accounts.me(c.var.principal.userId)) });
    })
    .post("/password", signedIn, async (c) => {
      const input = await readJson(c, changePasswordSchema);
      const session = await accounts.changePassword(
        c.var.principal.userId,
        input.current_password,
        input.new_password,
      );
      return c.json(sessionView(session));
    })
    .delete("/account", signedIn, async (c) => {
      const input = await readJson(c, deleteAccountSchema);
      await accounts.deleteAccount(c.var.principal.userId, input.password);
      return c.body(null, 204);
    });
}
