import type { AccessTokens } from "../access_tokens.ts";
import type { Clock } from "../clock.ts";
import { NotFound, OAuthError } from "../errors.ts";
import { Hmac, randomSecret, sha256Hex } from "../secrets.ts";
import type { OAuthClient, OAuthGrant, OAuthRefreshToken } from "../types.ts";
import type { Store } from "../../db/store.ts";
import type { OAuthClients } from "./clients.ts";
import { S256_CHALLENGE, verifyS256 } from "./pkce.ts";
import { matchesRegisteredRedirect } from "./redirect_uris.ts";
import { parseScopes, type Scope } from "./scopes.ts";

/** Refresh tokens start with this, so people and secret scanners can tell them apart. */
const REFRESH_PREFIX = "psr_";

/** Lifetimes and the resource this server issues tokens for. */
export interface AuthorizationSettings {
  issuer: string;
  /** The protected resource (the public `/mcp` URL): the `aud` of every token issued here. */
  resource: string;
  /** Resource indicators a client may ask for: the MCP endpoints (and the origin) of one server. */
  acceptedResources: string[];
  codeTtlMs: number;
  /** A grant's refresh tokens stop working this long after consent, however often rotated. */
  refreshTtlMs: number;
  /** A refresh token used again this soon after rotation counts as a retry, not a theft. */
  refreshGraceMs: number;
  /** Derives each refresh token's successor, so a retried refresh gets the same one. */
  refreshKey: Uint8Array;
}

/** A checked authorization request, ready for the consent page. */
export interface AuthorizationRequest {
  client: OAuthClient;
  redirectUri: string;
  scopes: Scope[];
  resource: string;
  state: string | null;
  codeChallenge: string;
}

/** The token endpoint's successful answer (RFC 6749 §5.1). */
export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_token: string;
  scope: string;
}

/**
 * The authorization server: checks authorization requests, issues single-use codes, exchanges
 * them for access and refresh tokens, rotates refresh tokens and revokes grants. Every piece of
 * state is in the store, so each step may be served by a different instance.
 */
export class AuthorizationServer {
  readonly #refreshMac: Hmac;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly clients: OAuthClients,
    private readonly tokens: AccessTokens,
    readonly settings: AuthorizationSettings,
  ) {
    this.#refreshMac = new Hmac(settings.refreshKey);
  }

  /**
   * The client and redirect URI of a request. Failures here are shown to the person, never sent
   * to the redirect URI: it is not known to belong to the client.
   */
  async resolveClient(
    clientId: string | null,
    redirectUri: string | null,
  ): Promise<{ client: OAuthClient; redirectUri: string }> {
    const client = await this.clients.find(clientId ?? "");
    const uri = redirectUri ?? (client.redirectUris.length === 1 ? client.redirectUris[0] : null);
    if (!uri || !matchesRegisteredRedirect(uri, client.redirectUris)) {
      throw new OAuthError(
        "invalid_redirect_uri",
        "The redirect_uri is not one this client registered.",
      );
    }
    return { client, redirectUri: uri };
  }

  /** The rest of the request; failures here may be reported to the redirect URI. */
  checkRequest(
    resolved: { client: OAuthClient; redirectUri: string },
    params: URLSearchParams,
  ): AuthorizationRequest {
    if (params.get("response_type") !== "code") {
      throw new OAuthError("unsupported_response_type", "response_type must be code.");
    }
    const challenge = params.get("code_challenge");
    if (params.get("code_challenge_method") !== "S256" || !challenge) {
      throw new OAuthError("invalid_request", "PKCE is required: code_challenge with method S256.");
    }
    if (!S256_CHALLENGE.test(challenge)) {
      throw new OAuthError("invalid_request", "code_challenge is not an S256 challenge.");
    }
    const resource = params.get("resource") ?? this.settings.resource;
    if (!this.settings.acceptedResources.includes(resource)) {
      throw new OAuthError(
        "invalid_target",
        `Tokens are only issued for ${this.settings.resource}.`,
      );
    }
    const state = params.get("state");
    if (state !== null && state.length > 2000) {
      throw new OAuthError("invalid_request", "state is too long.");
    }
    return {
      ...resolved,
      scopes: parseScopes(params.get("scope")),
      resource,
      state,
      codeChallenge: challenge,
    };
  }

  /** After consent: a code for the redirect, good once, for ten minutes. */
  async issueCode(userId: string, request: AuthorizationRequest): Promise<string> {
    const code = randomSecret();
    const now = this.clock.now();
    await this.store.createOAuthCode(userId, {
      codeHash: await sha256Hex(code),
      clientId: request.client.id,
      userId,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      resource: request.resource,
      scopes: request.scopes,
      createdAt: now,
      expiresAt: now + this.settings.codeTtlMs,
      grantId: null,
    });
    return code;
  }

  /** authorization_code grant. A code redeemed twice revokes what its first redemption issued. */
  async exchangeCode(input: {
    client: OAuthClient;
    code: string | null;
    redirectUri: string | null;
    verifier: string | null;
    resource: string | null;
  }): Promise<TokenResponse> {
    if (!input.code || !input.verifier) {
      throw new OAuthError("invalid_request", "code and code_verifier are required.");
    }
    const codeHash = await sha256Hex(input.code);
    const code = await this.store.getOAuthCode(codeHash);
    if (!code) throw new OAuthError("invalid_grant", "The code is not valid.");
    const reused = async (grantId: string) => {
      await this.store.revokeOAuthGrant(code.userId, grantId, this.clock.now());
      return new OAuthError(
        "invalid_grant",
        "The code was already used; the tokens issued for it are revoked.",
      );
    };
    if (code.grantId !== null) throw await reused(code.grantId);
    const now = this.clock.now();
    // A token request may leave redirect_uri out when the authorization request did (OAuth 2.1
    // §4.1.3); a client with one registered redirect URI can only have used that one.
    const redirectMatches = input.redirectUri === null
      ? input.client.redirectUris.length === 1 && input.client.redirectUris[0] === code.redirectUri
      : input.redirectUri === code.redirectUri;
    const problem = code.clientId !== input.client.id
      ? "The code was issued to another client."
      : code.expiresAt <= now
      ? "The code has expired."
      : !redirectMatches
      ? "redirect_uri does not match the authorization request."
      : !(await verifyS256(input.verifier, code.codeChallenge))
      ? "code_verifier does not match the code_challenge."
      : null;
    if (problem) throw new OAuthError("invalid_grant", problem);
    if (input.resource !== null && input.resource !== code.resource) {
      throw new OAuthError("invalid_target", "resource does not match the authorization request.");
    }
    const user = await this.store.getUser(code.userId);
    if (!user) throw new OAuthError("invalid_grant", "The account no longer exists.");
    if (code.createdAt < user.tokensValidAfter) {
      throw new OAuthError("invalid_grant", "The password changed after this code was issued.");
    }
    const grant: OAuthGrant = {
      id: crypto.randomUUID(),
      userId: user.id,
      clientId: input.client.id,
      scopes: code.scopes,
      resource: code.resource,
      createdAt: now,
      lastUsedAt: now,
      expiresAt: now + this.settings.refreshTtlMs,
      revokedAt: null,
    };
    const refresh = await this.#newRefreshToken(grant.id, now);
    // Redeemed and granted in one step, so two racing redemptions cannot both keep tokens.
    const earlier = await this.store.redeemOAuthCode(codeHash, grant, refresh.record);
    if (earlier !== null) throw await reused(earlier);
    return this.#tokenResponse(grant, code.scopes, refresh.secret, user.tokensValidAfter);
  }

  /** refresh_token grant: rotates on every use; a stolen, reused token revokes the family. */
  async refresh(input: {
    client: OAuthClient;
    refreshToken: string | null;
    scope: string | null;
    resource: string | null;
  }): Promise<TokenResponse> {
    if (!input.refreshToken) throw new OAuthError("invalid_request", "refresh_token is required.");
    const hash = await sha256Hex(input.refreshToken);
    const stored = await this.store.getOAuthRefreshToken(hash);
    const grant = stored && await this.store.getOAuthGrant(stored.grantId);
    const now = this.clock.now();
    if (!stored || !grant || grant.revokedAt !== null || grant.expiresAt <= now) {
      throw new OAuthError("invalid_grant", "The refresh token is not valid.");
    }
    if (grant.clientId !== input.client.id) {
      throw new OAuthError("invalid_grant", "The refresh token was issued to another client.");
    }
    if (input.resource !== null && input.resource !== grant.resource) {
      throw new OAuthError("invalid_target", "resource does not match the grant.");
    }
    const scopes = (input.scope ?? "").trim() === "" ? grant.scopes : parseScopes(input.scope);
    if (scopes.some((s) => !grant.scopes.includes(s))) {
      throw new OAuthError("invalid_scope", "A refresh cannot add scopes to the grant.");
    }
    const user = await this.store.getUser(grant.userId);
    if (!user || grant.createdAt < user.tokensValidAfter) {
      await this.store.revokeOAuthGrant(grant.userId, grant.id, now);
      throw new OAuthError("invalid_grant", "The grant was revoked by a password change.");
    }
    const next = await this.#successorOf(hash, grant.id, now);
    const outcome = await this.store.rotateOAuthRefreshToken(
      hash,
      next.record,
      now,
      this.settings.refreshGraceMs,
    );
    if (outcome === "reused") {
      await this.store.revokeOAuthGrant(grant.userId, grant.id, now);
      throw new OAuthError(
        "invalid_grant",
        "The refresh token was already used; this connection is revoked. Connect again.",
      );
    }
    await this.store.touchOAuthGrant(grant.userId, grant.id, now);
    return this.#tokenResponse(grant, scopes, next.secret, user.tokensValidAfter);
  }

  /** RFC 7009: revokes the grant behind a refresh or access token of this client. */
  async revoke(input: { client: OAuthClient; token: string | null }): Promise<void> {
    if (!input.token) throw new OAuthError("invalid_request", "token is required.");
    const now = this.clock.now();
    let grantId: string | null = null;
    if (input.token.startsWith(REFRESH_PREFIX)) {
      grantId = (await this.store.getOAuthRefreshToken(await sha256Hex(input.token)))?.grantId ??
        null;
    } else {
      grantId = await this.tokens.verify(input.token, now).then((c) => c.grant?.id ?? null)
        .catch(() => null);
    }
    const grant = grantId ? await this.store.getOAuthGrant(grantId) : null;
    // Unknown tokens and other clients' tokens are answered the same: 200, nothing done.
    if (grant && grant.clientId === input.client.id) {
      await this.store.revokeOAuthGrant(grant.userId, grant.id, now);
    }
  }

  /** The user's live connections, with the name each client gave itself. */
  async connectedApps(userId: string): Promise<{ grant: OAuthGrant; clientName: string }[]> {
    const grants = await this.store.listOAuthGrants(userId, this.clock.now());
    return Promise.all(grants.map(async (grant) => ({
      grant,
      clientName: (await this.store.getOAuthClient(grant.clientId))?.name ?? grant.clientId,
    })));
  }

  /** Disconnects an app: its refresh tokens die now, its access tokens at their next use. */
  async disconnect(userId: string, grantId: string): Promise<void> {
    if (!(await this.store.revokeOAuthGrant(userId, grantId, this.clock.now()))) {
      throw new NotFound("No connected app with this id.");
    }
  }

  /**
   * The successor of a refresh token is derived from it with a server key: a retried or
   * concurrent refresh gets the same successor instead of one that would be dead on arrival.
   */
  async #successorOf(
    tokenHash: string,
    grantId: string,
    now: number,
  ): Promise<{ secret: string; record: OAuthRefreshToken }> {
    const secret = REFRESH_PREFIX + await this.#refreshMac.sign(`refresh-successor\n${tokenHash}`);
    return {
      secret,
      record: {
        tokenHash: await sha256Hex(secret),
        grantId,
        createdAt: now,
        usedAt: null,
        replacedBy: null,
      },
    };
  }

  async #newRefreshToken(
    grantId: string,
    now: number,
  ): Promise<{ secret: string; record: OAuthRefreshToken }> {
    const secret = REFRESH_PREFIX + randomSecret();
    return {
      secret,
      record: {
        tokenHash: await sha256Hex(secret),
        grantId,
        createdAt: now,
        usedAt: null,
        replacedBy: null,
      },
    };
  }

  async #tokenResponse(
    grant: OAuthGrant,
    scopes: string[],
    refreshToken: string,
    tokensValidAfter: number,
  ): Promise<TokenResponse> {
    const issued = await this.tokens.issue(grant.userId, this.clock.now(), tokensValidAfter, {
      id: grant.id,
      clientId: grant.clientId,
      scopes,
    });
    return {
      access_token: issued.token,
      token_type: "Bearer",
      expires_in: issued.expiresIn,
      refresh_token: refreshToken,
      scope: scopes.join(" "),
    };
  }
}
