import type { AccessTokens } from "./access_tokens.ts";
import { Unauthorized } from "./errors.ts";
import { PERSONAL_TOKEN_PREFIX, type PersonalTokens } from "./personal_tokens.ts";
import type { Principal } from "./principal.ts";
import type { Clock } from "./clock.ts";
import type { Store } from "../db/store.ts";

/** Turns a bearer credential into a Principal, or throws Unauthorized. The only source of user ids. */
export class Authenticator {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly accessTokens: AccessTokens,
    private readonly personalTokens: PersonalTokens,
  ) {}

  async authenticate(credential: string): Promise<Principal> {
    if (credential.startsWith(PERSONAL_TOKEN_PREFIX)) {
      const token = await this.personalTokens.verify(credential);
      if (!token) throw new Unauthorized("The personal access token is not valid.");
      const user = await this.store.getUser(token.userId);
      if (!user || token.createdAt < user.tokensValidAfter) {
        throw new Unauthorized("The personal access token has been revoked.");
      }
      return { userId: user.id, credential: { kind: "personal_token", tokenId: token.id } };
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
    };
  }
}
