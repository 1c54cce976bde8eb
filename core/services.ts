import { AccessTokens } from "./access_tokens.ts";
import { Accounts } from "./accounts.ts";
import { Authenticator } from "./authenticator.ts";
import type { Clock } from "./clock.ts";
import { Conversations } from "./conversations.ts";
import { PasswordHasher } from "./passwords.ts";
import { PersonalTokens } from "./personal_tokens.ts";
import { RateLimiter } from "./rate_limiter.ts";
import { AuthorizationServer } from "./oauth/authorization_server.ts";
import { type MetadataFetcher, systemMetadataFetcher } from "./oauth/client_metadata_document.ts";
import { OAuthClients } from "./oauth/clients.ts";
import { Importer } from "./import/importer.ts";
import { type ImportJobEvents, ImportJobs } from "./import/import_jobs.ts";
import { Exporter } from "./exporter.ts";
import { WorkLimiter } from "./work_limiter.ts";
import type { Config } from "../config.ts";
import type { Store } from "../db/store.ts";

/** Every domain service, built once per app from its dependencies. */
export interface Services {
  accounts: Accounts;
  authenticator: Authenticator;
  personalTokens: PersonalTokens;
  conversations: Conversations;
  oauthClients: OAuthClients;
  authorizationServer: AuthorizationServer;
  importer: Importer;
  importJobs: ImportJobs;
  exporter: Exporter;
}

/** The MCP endpoint's URL: the OAuth resource and the audience of tokens issued for it. */
export function mcpResource(publicUrl: string): string {
  return `${publicUrl}/mcp`;
}

/** Wires the domain services together. The config must carry a resolved JWT secret. */
export function createServices(deps: {
  config: Config;
  store: Store;
  clock: Clock;
  /** How client metadata documents are fetched; the real network unless a test says otherwise. */
  metadataFetcher?: MetadataFetcher;
  /** Told when import jobs start and end, for metrics and logs. */
  importJobEvents?: ImportJobEvents;
}): Services {
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
  const mcpTokens = new AccessTokens(
    config.jwtSecret,
    config.publicUrl,
    mcpResource(config.publicUrl),
    config.accessTokenTtlSeconds,
  );
  const personalTokens = new PersonalTokens(store, clock);
  const limiter = new RateLimiter(store, clock);
  const oauthClients = new OAuthClients(
    store,
    clock,
    deps.metadataFetcher ?? systemMetadataFetcher,
    limiter,
    {
      perAddress: config.rateLimits.registerPerAddress,
      windowMs: config.rateLimits.windowSeconds * 1000,
    },
  );
  const hasher = new PasswordHasher(config.hashing);
  const conversations = new Conversations(
    store,
    clock,
    new WorkLimiter(config.search.concurrency, config.search.queue),
  );
  const importer = new Importer(store, clock);
  return {
    accounts: new Accounts(store, clock, hasher, accessTokens, limiter, config.rateLimits),
    authenticator: new Authenticator(store, clock, accessTokens, personalTokens, mcpTokens),
    personalTokens,
    conversations,
    exporter: new Exporter(conversations, clock),
    oauthClients,
    importer,
    importJobs: new ImportJobs(store, clock, importer, deps.importJobEvents),
    authorizationServer: new AuthorizationServer(store, clock, oauthClients, mcpTokens, {
      issuer: config.publicUrl,
      resource: mcpResource(config.publicUrl),
      acceptedResources: [
        mcpResource(config.publicUrl),
        `${config.publicUrl}/sse`,
        config.publicUrl,
        `${config.publicUrl}/`,
      ],
      codeTtlMs: 10 * 60_000,
      refreshTtlMs: config.oauthRefreshTtlSeconds * 1000,
      refreshGraceMs: 30_000,
      refreshKey: config.jwtSecret,
    }),
  };
}
