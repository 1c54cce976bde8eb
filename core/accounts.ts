import type { AccessTokens } from "./access_tokens.ts";
import type { Clock } from "./clock.ts";
import { Forbidden, Invalid, NotFound, Unauthorized } from "./errors.ts";
import type { PasswordHasher } from "./passwords.ts";
import type { Principal } from "./principal.ts";
import type { RateLimiter } from "./rate_limiter.ts";
import type { User } from "./types.ts";
import type { Store } from "../db/store.ts";
import type { RateLimitConfig } from "../config.ts";

/** A signed-in session: the bearer token to send and when it lapses. */
export interface Session {
  user: User;
  accessToken: string;
  expiresIn: number;
}

const BAD_LOGIN = "The email or password is incorrect.";

/** Registration, sign-in, sign-out, password change and account deletion. */
export class Accounts {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly hasher: PasswordHasher,
    private readonly accessTokens: AccessTokens,
    private readonly limiter: RateLimiter,
    private readonly limits: RateLimitConfig,
  ) {}

  get #windowMs(): number {
    return this.limits.windowSeconds * 1000;
  }

  /** Creates an account and signs it in. `email` must already be normalised. */
  /** `lifetimeSeconds` overrides the access token's lifetime (a browser session lasts longer). */
  async register(
    email: string,
    password: string,
    clientAddress: string,
    lifetimeSeconds?: number,
  ): Promise<Session> {
    await this.limiter.hit(
      `register:address:${clientAddress}`,
      this.limits.registerPerAddress,
      this.#windowMs,
      "Too many accounts created from this address; try again later.",
    );
    const now = this.clock.now();
    const user: User = {
      id: crypto.randomUUID(),
      email,
      passwordHash: await this.hasher.hash(password),
      createdAt: now,
      tokensValidAfter: 0,
    };
    await this.store.createUser(user);
    return this.#session(user, lifetimeSeconds);
  }

  /**
   * Signs in. An unknown email and a wrong password take the same time and give the same error;
   * failures count against the account and every attempt against the client address.
   */
  async login(
    email: string,
    password: string,
    clientAddress: string,
    lifetimeSeconds?: number,
  ): Promise<Session> {
    const accountKey = `login:account:${email}`;
    await this.limiter.check(
      accountKey,
      this.limits.loginPerAccount,
      "Too many failed sign-ins for this account; try again later.",
    );
    await this.limiter.hit(
      `login:address:${clientAddress}`,
      this.limits.loginPerAddress,
      this.#windowMs,
      "Too many sign-in attempts from this address; try again later.",
    );
    const user = await this.store.findUserByEmail(email);
    if (!user) {
      await this.hasher.verifyDummy(password);
      await this.limiter.record(accountKey, this.#windowMs);
      throw new Unauthorized(BAD_LOGIN);
    }
    const check = await this.hasher.verify(user.passwordHash, password);
    if (!check.ok) {
      await this.limiter.record(accountKey, this.#windowMs);
      throw new Unauthorized(BAD_LOGIN);
    }
    await this.limiter.clear(accountKey);
    if (check.needsRehash) {
      // Upgrade a legacy bcrypt (or weaker argon2) hash now that we hold the password.
      user.passwordHash = await this.hasher.hash(password);
      await this.store.setPasswordHash(user.id, user.passwordHash);
    }
    return this.#session(user, lifetimeSeconds);
  }

  /** Revokes the access token the request came with. */
  async logout(principal: Principal): Promise<void> {
    const credential = principal.credential;
    if (credential.kind !== "access_token") {
      throw new Invalid(
        "Sign-out ends an access token; revoke a personal access token with DELETE /api/tokens/{id}.",
      );
    }
    await this.store.revokeAccessToken(
      principal.userId,
      credential.jti,
      credential.expiresAt * 1000,
    );
  }

  async me(userId: string): Promise<User> {
    const user = await this.store.getUser(userId);
    if (!user) throw new NotFound("No such account.");
    return user;
  }

  /**
   * Replaces the password after checking the current one, and revokes every credential issued
   * before now. Returns a fresh session so the caller stays signed in.
   */
  async changePassword(
    userId: string,
    current: string,
    next: string,
    lifetimeSeconds?: number,
  ): Promise<Session> {
    const user = await this.#confirmPassword(userId, current);
    // The exact instant, not rounded up to the second: personal tokens carry millisecond
    // creation times, and one made just after the change must not be born revoked. Access
    // tokens still work, since #session lifts their whole-second iat past this instant.
    const revokedBefore = this.clock.now();
    const passwordHash = await this.hasher.hash(next);
    await this.store.setPasswordHash(userId, passwordHash, revokedBefore);
    return this.#session(
      { ...user, passwordHash, tokensValidAfter: revokedBefore },
      lifetimeSeconds,
    );
  }

  /** Deletes the account and everything it owns, after checking its password. */
  async deleteAccount(userId: string, password: string): Promise<void> {
    await this.#confirmPassword(userId, password);
    await this.store.deleteUser(userId);
  }

  async #confirmPassword(userId: string, password: string): Promise<User> {
    const user = await this.me(userId);
    const accountKey = `login:account:${user.email}`;
    await this.limiter.check(
      accountKey,
      this.limits.loginPerAccount,
      "Too many wrong passwords for this account; try again later.",
    );
    const check = await this.hasher.verify(user.passwordHash, password);
    if (!check.ok) {
      await this.limiter.record(accountKey, this.#windowMs);
      throw new Forbidden("The current password is incorrect.");
    }
    return user;
  }

  async #session(user: User, lifetimeSeconds?: number): Promise<Session> {
    const issued = await this.accessTokens.issue(
      user.id,
      this.clock.now(),
      user.tokensValidAfter,
      undefined,
      lifetimeSeconds,
    );
    return { user, accessToken: issued.token, expiresIn: issued.expiresIn };
  }
}
