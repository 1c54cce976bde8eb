import { AccessTokens } from "./access_tokens.ts";
import { Accounts } from "./accounts.ts";
import { Authenticator } from "./authenticator.ts";
import type { Clock } from "./clock.ts";
import { Conversations } from "./conversations.ts";
import { PasswordHasher } from "./passwords.ts";
import { PersonalTokens } from "./personal_tokens.ts";
import { RateLimiter } from "./rate_limiter.ts";
import type { Config } from "../config.ts";
import type { Store } from "../db/store.ts";

/** Every domain service, built once per app from its dependencies. */
export interface Services {
  accounts: Accounts;
  authenticator: Authenticator;
  personalTokens: PersonalTokens;
  conversations: Conversations;
}

/** Wires the domain services together. The config must carry a resolved JWT secret. */
export function createServices(deps: { config: Config; store: Store; clock: Clock }): Services {
  const { config, store, clock } = deps;
  if (!config.jwtSecret || config.jwtSecret.length < 32) {
    throw new Error("createServices needs config.jwtSecret of at least 32 bytes");
  }
  const accessTokens = new AccessTokens(
    config.jwtSecret,
    config.publicUrl,
    config.publicUrl,
    config.accessTokenTtlSeconds,
  );
  const personalTokens = new PersonalTokens(store, clock);
  const limiter = new RateLimiter(store, clock);
  const hasher = new PasswordHasher(config.hashing);
  return {
    accounts: new Accounts(store, clock, hasher, accessTokens, limiter, config.rateLimits),
    authenticator: new Authenticator(store, clock, accessTokens, personalTokens),
    personalTokens,
    conversations: new Conversations(store, clock),
  };
}
