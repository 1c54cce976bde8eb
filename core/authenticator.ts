import type { AccessTokens } from "./access_tokens.ts";
import { Unauthorized } from "./errors.ts";
import { PERSONAL_TOKEN_PREFIX, type PersonalTokens } from "./personal_tokens.ts";
import type { Principal } from "./principal.ts";
import type { Clock } from "./clock.ts";
import type { Store } from "../db/store.ts";
import { SCOPES } from "./oauth/scopes.ts";

/** A grant's last use is written at most this often. */
const TOUCH_INTERVAL_MS = 60_000;

/** Turns a bearer credential into a Principal, or throws Unauthorized. The only source of user ids. */
export class Authenticator {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly accessTokens: AccessTokens,
    private readonly personalTokens: PersonalTokens,
    private readonly mcpTokens: AccessTokens,
  ) {}

  /**
   * For `/mcp` and `/sse`: a personal access token, or an OAuth access token issued for the MCP
   * resource whose grant still stands. Tokens issued to the dashboard and API are refused here.
   */
  async authenticateForMcp(credential: string): Promise<Principal> {
    if (credential.startsWith(PERSONAL_TOKEN_PREFIX)) return this.authenticate(credential);
    const now = this.clock.now();
    const claims = await this.mcpTokens.verify(credential, now);
    const grant = claims.grant && await this.store.getOAuthGrant(claims.grant.id);
    const user = await this.store.getUser(claims.userId);
    if (
      !claims.grant || !grant || !user || grant.userId !== user.id || grant.revokedAt !== null ||
      grant.expiresAt <= now || grant.createdAt < user.tokensValidAfter ||
      claims.issuedAt * 1000 < user.tokensValidAfter
    ) {
      throw new Unauthorized("The access token has been revoked.");
    }
    if (now - grant.lastUsedAt > TOUCH_INTERVAL_MS) {
      await this.store.touchOAuthGrant(user.id, grant.id, now);
    }
    return {
      userId: user.id,
      credential: { kind: "oauth", grantId: grant.id, clientId: grant.clientId },
      scopes: claims.grant.scopes.filter((s) => grant.scopes.includes(s)),
    };
  }

  /** For the REST API and the dashboard: an access token issued by sign-in, or a personal token. */
  async authenticate(credential: string): Promise<Principal> {
    if (credential.startsWith(PERSONAL_TOKEN_PREFIX)) {
      const token = await this.personalTokens.verify(credential);
      if (!token) throw new Unauthorized("The personal access token is not valid.");
      const user = await this.store.getUser(token.userId);
      if (!user || token.createdAt < user.tokensValidAfter) {
        throw new Unauthorized("The personal access token has been revoked.");
      }
      return {
        userId: user.id,
        credential: { kind: "personal_token", tokenId: token.id },
        scopes: SCOPES,
      };
    }
    const claims = await this.accessTokens.verify(credential, this.clock.now());
    const user = await this.store.getUser(claims.userId);
    if (
      !user || claims.issuedAt * 1000 < user.tokensValidAfter ||
      await this.store.isAccessTokenRevoked(claims.jti)
    ) {
      throw new Unauthorized("The access token has been revoked.");
    }
    return {
      userId: user.id,
      credential: { kind: "access_token", jti: claims.jti, expiresAt: claims.expiresAt },
      scopes: SCOPES,
    };
  }
}
