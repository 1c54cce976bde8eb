import { z } from "zod";
import type { Clock } from "../clock.ts";
import { OAuthError } from "../errors.ts";
import { randomSecret, sha256Hex } from "../secrets.ts";
import type { ClientAuthMethod, OAuthClient } from "../types.ts";
import type { Store } from "../../db/store.ts";
import type { RateLimiter } from "../rate_limiter.ts";
import { fetchClientMetadataDocument, type MetadataFetcher } from "./client_metadata_document.ts";
import { isAllowedRedirectUri } from "./redirect_uris.ts";

/** A fetched metadata document is trusted this long before it is fetched again. */
const DOCUMENT_TTL_MS = 60 * 60 * 1000;
const DOCUMENT_FETCHES_PER_HOST = 20;

const registrationSchema = z.object({
  redirect_uris: z.array(z.string().max(2000)).min(1).max(20),
  client_name: z.string().trim().min(1).max(200).optional(),
  client_uri: z.url().max(2000).optional(),
  token_endpoint_auth_method: z.enum(["none", "client_secret_post", "client_secret_basic"])
    .optional(),
  grant_types: z.array(z.string()).optional(),
  response_types: z.array(z.string()).optional(),
  scope: z.string().max(1000).optional(),
}).loose();

/** What registration answers (RFC 7591 §3.2.1): absent fields are left out, never null. */
export interface Registration {
  client: OAuthClient;
  /** Only for a confidential client, and only now. */
  secret: string | null;
}

/** OAuth clients: dynamic registration, metadata documents, and client authentication. */
export class OAuthClients {
  /** client_id URLs whose documents failed recently, and until when that stands. */
  readonly #failures = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly fetcher: MetadataFetcher,
    private readonly limiter: RateLimiter,
    private readonly registrationLimit: { perAddress: number; windowMs: number },
  ) {}

  /** RFC 7591 registration, open to anyone, so bounded per client address. */
  async register(metadata: unknown, clientAddress: string): Promise<Registration> {
    await this.limiter.hit(
      `oauth-register:${clientAddress}`,
      this.registrationLimit.perAddress,
      this.registrationLimit.windowMs,
      "Too many client registrations from this address.",
    );
    const parsed = registrationSchema.safeParse(metadata);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new OAuthError(
        "invalid_client_metadata",
        `${issue.path.join(".") || "metadata"}: ${issue.message}`,
      );
    }
    const input = parsed.data;
    const refused = input.redirect_uris.find((uri) => !isAllowedRedirectUri(uri));
    if (refused !== undefined) {
      throw new OAuthError(
        "invalid_redirect_uri",
        "Redirect URIs must be https, or http on localhost / 127.0.0.1 / [::1], without fragment.",
      );
    }
    const grants = input.grant_types ?? ["authorization_code"];
    if (grants.some((g) => g !== "authorization_code" && g !== "refresh_token")) {
      throw new OAuthError(
        "invalid_client_metadata",
        "Only the authorization_code and refresh_token grants are supported.",
      );
    }
    if (input.response_types && input.response_types.some((r) => r !== "code")) {
      throw new OAuthError("invalid_client_metadata", "Only the code response type is supported.");
    }
    // RFC 7591's default is client_secret_basic; MCP clients ask for none.
    const authMethod: ClientAuthMethod = input.token_endpoint_auth_method ?? "client_secret_basic";
    const secret = authMethod === "none" ? null : randomSecret();
    const client: OAuthClient = {
      id: `pcl_${randomSecret().slice(0, 32)}`,
      kind: "registered",
      name: input.client_name ?? new URL(input.redirect_uris[0]).host,
      redirectUris: input.redirect_uris,
      authMethod,
      secretHash: secret ? await sha256Hex(secret) : null,
      clientUri: input.client_uri ?? null,
      createdAt: this.clock.now(),
      refreshAt: null,
    };
    await this.store.saveOAuthClient(client);
    return { client, secret };
  }

  /** The client with this id: registered, or fetched from its metadata document URL. */
  async find(clientId: string): Promise<OAuthClient> {
    if (!clientId || clientId.length > 2000) {
      throw new OAuthError("invalid_client", "Unknown client_id.");
    }
    const now = this.clock.now();
    const known = await this.store.getOAuthClient(clientId);
    if (known && (known.kind === "registered" || (known.refreshAt ?? 0) > now)) return known;
    if (!clientId.startsWith("https://")) {
      throw new OAuthError("invalid_client", "Unknown client_id.");
    }
    const document = await this.#fetchDocument(clientId, now);
    const client: OAuthClient = {
      id: clientId,
      kind: "metadata_document",
      name: document.clientName,
      redirectUris: document.redirectUris,
      authMethod: "none",
      secretHash: null,
      clientUri: document.clientUri,
      createdAt: known?.createdAt ?? now,
      refreshAt: now + DOCUMENT_TTL_MS,
    };
    await this.store.saveOAuthClient(client);
    return client;
  }

  /**
   * Fetches a metadata document, but not for anyone who asks as often as they like: a failure is
   * remembered for a minute, and each host gets at most 20 fetches a minute.
   */
  async #fetchDocument(clientId: string, now: number) {
    const failedUntil = this.#failures.get(clientId);
    if (failedUntil !== undefined && failedUntil > now) {
      throw new OAuthError("invalid_client", "The client metadata document could not be used.");
    }
    const host = new URL(clientId).host;
    try {
      await this.limiter.hit(
        `metadata-document:${host}`,
        DOCUMENT_FETCHES_PER_HOST,
        60_000,
        "Too many metadata document requests for this host.",
      );
    } catch {
      throw new OAuthError("invalid_client", "The client metadata document could not be used.");
    }
    try {
      return await fetchClientMetadataDocument(clientId, this.fetcher);
    } catch (error) {
      if (this.#failures.size >= 1000) this.#failures.clear();
      this.#failures.set(clientId, now + 60_000);
      throw error;
    }
  }

  /**
   * Authenticates a client at the token or revocation endpoint: a public client by its id, a
   * confidential one by its secret, sent the way it registered.
   */
  async authenticate(credentials: {
    clientId: string | null;
    secret: string | null;
    method: "none" | "client_secret_post" | "client_secret_basic";
  }): Promise<OAuthClient> {
    if (!credentials.clientId) throw new OAuthError("invalid_client", "client_id is missing.");
    let client: OAuthClient;
    try {
      client = await this.find(credentials.clientId);
    } catch (error) {
      if (error instanceof OAuthError) {
        throw new OAuthError("invalid_client", "Unknown client_id.");
      }
      throw error;
    }
    if (client.authMethod === "none") return client;
    const ok = credentials.secret !== null && client.secretHash !== null &&
      (await sha256Hex(credentials.secret)) === client.secretHash;
    if (!ok) throw new OAuthError("invalid_client", "Client authentication failed.");
    return client;
  }
}

/** The registration response body. */
export function registrationView(registration: Registration): Record<string, unknown> {
  const { client, secret } = registration;
  return {
    client_id: client.id,
    client_id_issued_at: Math.floor(client.createdAt / 1000),
    client_name: client.name,
    redirect_uris: client.redirectUris,
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: client.authMethod,
    ...(client.clientUri ? { client_uri: client.clientUri } : {}),
    ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
  };
}
