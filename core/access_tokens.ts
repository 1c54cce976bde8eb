import { errors, jwtVerify, SignJWT } from "jose";
import { Unauthorized } from "./errors.ts";

/** The claims Pensieve reads from a verified access token. */
export interface AccessClaims {
  userId: string;
  jti: string;
  /** Seconds since the epoch. */
  issuedAt: number;
  /** Seconds since the epoch. */
  expiresAt: number;
  /** For an OAuth token: the grant it belongs to, its client, and its scopes. */
  grant?: { id: string; clientId: string; scopes: string[] };
}

/** RFC 9068's media type for JWT access tokens, checked so an ID token or other JWT can't pass. */
const TOKEN_TYPE = "at+jwt";

/** Signs and verifies short-lived HS256 access tokens for one issuer and audience. */
export class AccessTokens {
  constructor(
    private readonly secret: Uint8Array,
    private readonly issuer: string,
    private readonly audience: string,
    private readonly ttlSeconds: number,
  ) {}

  /**
   * Issues a token for `userId`. `notBeforeMs` lifts `iat` to the user's revocation instant, so a
   * token issued in the same second as a password change is not itself revoked.
   */
  async issue(
    userId: string,
    nowMs: number,
    notBeforeMs = 0,
    grant?: AccessClaims["grant"],
    ttlSeconds: number = this.ttlSeconds,
  ): Promise<{ token: string; expiresIn: number; claims: AccessClaims }> {
    const issuedAt = Math.max(Math.floor(nowMs / 1000), Math.ceil(notBeforeMs / 1000));
    const expiresAt = issuedAt + ttlSeconds;
    const jti = crypto.randomUUID();
    const token = await new SignJWT(
      grant ? { gid: grant.id, client_id: grant.clientId, scope: grant.scopes.join(" ") } : {},
    )
      .setProtectedHeader({ alg: "HS256", typ: TOKEN_TYPE })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setSubject(userId)
      .setJti(jti)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expiresAt)
      .sign(this.secret);
    return {
      token,
      expiresIn: expiresAt - Math.floor(nowMs / 1000),
      claims: { userId, jti, issuedAt, expiresAt, grant },
    };
  }

  /** Verifies signature, algorithm, type, issuer, audience and expiry; throws Unauthorized. */
  async verify(token: string, nowMs: number): Promise<AccessClaims> {
    try {
      const { payload } = await jwtVerify(token, this.secret, {
        algorithms: ["HS256"],
        typ: TOKEN_TYPE,
        issuer: this.issuer,
        audience: this.audience,
        requiredClaims: ["sub", "jti", "iat", "exp"],
        currentDate: new Date(nowMs),
      });
      const grant = typeof payload.gid === "string"
        ? {
          id: payload.gid,
          clientId: String(payload.client_id ?? ""),
          scopes: String(payload.scope ?? "").split(" ").filter(Boolean),
        }
        : undefined;
      return {
        userId: payload.sub!,
        jti: payload.jti!,
        issuedAt: payload.iat!,
        expiresAt: payload.exp!,
        grant,
      };
    } catch (error) {
      if (error instanceof errors.JWTExpired) {
        throw new Unauthorized("The access token has expired.");
      }
      if (error instanceof errors.JOSEError) {
        throw new Unauthorized("The access token is not valid.");
      }
      throw error;
    }
  }
}
