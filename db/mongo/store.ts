import { type Collection, type Db, MongoClient, type OptionalUnlessRequiredId } from "mongodb";
import { Conflict, Unavailable } from "../../core/errors.ts";
import type {
  AppendedMessage,
  Conversation,
  ConversationFilter,
  ImportJob,
  ListCursor,
  Message,
  NewMessage,
  OAuthClient,
  OAuthCode,
  OAuthGrant,
  OAuthRefreshToken,
  PersonalToken,
  SearchHit,
  SearchQuery,
  User,
} from "../../core/types.ts";
import type {
  ConversationPatch,
  McpSessionRecord,
  MessageRange,
  NewConversation,
  NewPersonalToken,
  RateCount,
  Store,
} from "../store.ts";
import {
  type AppendContext,
  appendMessages,
  createConversation,
  readBackOnFailure,
} from "./append.ts";
import {
  clientOptions,
  DEFAULT_DATABASE,
  type MongoFlavor,
  parseMongoUrl,
  redactMongoUrl,
} from "./connection.ts";
import {
  type ConversationDoc,
  type ExpiryFields,
  type ImportJobDoc,
  type McpSessionDoc,
  type MessageDoc,
  type OAuthClientDoc,
  type OAuthCodeDoc,
  type OAuthGrantDoc,
  type PersonalTokenDoc,
  type RateLimitDoc,
  type RefreshTokenDoc,
  type RevokedTokenDoc,
  toConversation,
  toImportJob,
  toMcpSession,
  toMessage,
  toOAuthClient,
  toOAuthCode,
  toOAuthGrant,
  toOAuthRefreshToken,
  toPersonalToken,
  toUser,
  type UserDoc,
  VISIBLE,
  WITHOUT_SEARCH_FIELDS,
} from "./documents.ts";
import {
  DEFAULT_EXPIRY_GRACE_SECONDS,
  expiredQuery,
  expiryFields,
  type ExpiryStyle,
  expiryStyle,
  restatedExpiry,
} from "./expiry.ts";
import { conversationQuery, NEWEST_FIRST } from "./filters.ts";
import { atlasIndexSpecs, createIndexes, EXPIRING, indexSpecs, textIndexSpecs } from "./indexes.ts";
import { withRetry } from "./retry.ts";
import { type Run, searchConversations, SearchIndexMissing, type SearchMode } from "./search.ts";
import { indexedText } from "./search_tokens.ts";
import { driverError, isDuplicateKey, isTransient } from "./server_errors.ts";

/** How the store should find search candidates; see search.ts. */
export type MongoSearchSetting = SearchMode;

export interface MongoStoreOptions {
  /** A `mongodb://` or `mongodb+srv://` connection string. */
  url: string;
  /** The database; by default the one the URL names, else "pensieve". */
  database?: string;
  /** `text` (the default) falls back to `scan` where the server has no text index. */
  search?: MongoSearchSetting;
  /** How long after expiry the database's own TTL removes a record (purgeExpired is first). */
  expiryGraceSeconds?: number;
  /** Wall-clock ms for append leases and Cosmos DB TTLs, shared by every instance. */
  wallClock?: () => number;
  /** Where warnings go (a missing text index, a kept index). */
  warn?: (message: string) => void;
}

interface Collections {
  users: Collection<UserDoc>;
  personalTokens: Collection<PersonalTokenDoc>;
  revokedTokens: Collection<RevokedTokenDoc>;
  rateLimits: Collection<RateLimitDoc>;
  mcpSessions: Collection<McpSessionDoc>;
  oauthClients: Collection<OAuthClientDoc>;
  oauthCodes: Collection<OAuthCodeDoc>;
  oauthGrants: Collection<OAuthGrantDoc>;
  refreshTokens: Collection<RefreshTokenDoc>;
  importJobs: Collection<ImportJobDoc>;
  conversations: Collection<ConversationDoc>;
  messages: Collection<MessageDoc>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The largest document Cosmos DB for MongoDB (RU) stores; MongoDB and vCore take 16 MB. */
const COSMOS_RU_MAX_DOCUMENT_BYTES = 2 * 1024 * 1024;
const MONGODB_MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/**
 * The store on MongoDB ≥ 6, MongoDB Atlas or Azure Cosmos DB for MongoDB (RU or vCore), for any
 * number of server instances sharing one database.
 *
 * Every document a user owns carries `user_id`, and every query of a user's data has it inside
 * the query. Each method is built from single-document atomic operations (no multi-document
 * transactions: Cosmos DB RU has none across collections), ordered so that repeating a method
 * after a failure is safe; see append.ts for how seqs stay contiguous. Writes are acknowledged by
 * a majority and journaled; throttled requests are retried with back-off (retry.ts). Indexes are
 * created on first use, and `ping` (so /readyz) fails until they exist.
 */
export class MongoStore implements Store {
  readonly kind = "mongodb" as const;
  /** Which kind of server the connection string names. */
  readonly flavor: MongoFlavor;
  readonly #client: MongoClient;
  readonly #db: Db;
  readonly #c: Collections;
  readonly #style: ExpiryStyle;
  readonly #grace: number;
  readonly #setting: SearchMode;
  readonly #wallClock: () => number;
  readonly #warn: (message: string) => void;
  /** Every database call: throttling waited out, then driver errors mapped (server_errors.ts). */
  readonly #run: Run = (attempt) =>
    withRetry(attempt).catch((error) => {
      throw this.#mapped(error);
    });
  #lastOutageWarning = -Infinity;

  /**
   * A driver error as the caller should see it. An outage (or throttling that outlasted the
   * retries) becomes a 503, which the routes log only at debug level, so the store says so itself:
   * once a minute at most, naming the error (hosts, never credentials: the driver's messages hold
   * none).
   */
  #mapped(error: unknown): unknown {
    const mapped = driverError(error);
    if (mapped instanceof Unavailable) {
      const now = Date.now();
      if (now - this.#lastOutageWarning >= 60_000) {
        this.#lastOutageWarning = now;
        const name = error instanceof Error ? error.name : "error";
        this.#warn(`database unavailable (${name}: ${message(error)}); answering 503`);
      }
    }
    return mapped;
  }
  readonly #append: AppendContext;
  #searchMode: SearchMode;
  #ready: Promise<void> | null = null;

  constructor(options: MongoStoreOptions) {
    const target = parseMongoUrl(options.url);
    this.flavor = target.flavor;
    this.#client = new MongoClient(options.url, clientOptions(target));
    this.#db = this.#client.db(options.database ?? target.database ?? DEFAULT_DATABASE);
    this.#style = expiryStyle(target.flavor);
    this.#grace = options.expiryGraceSeconds ?? DEFAULT_EXPIRY_GRACE_SECONDS;
    this.#setting = options.search ?? "text";
    this.#searchMode = this.#setting;
    this.#wallClock = options.wallClock ?? Date.now;
    const where = redactMongoUrl(options.url);
    const warn = options.warn ?? ((message: string) => console.warn(message));
    this.#warn = (message) => warn(`pensieve: mongodb (${where}): ${message}`);
    const db = this.#db;
    this.#c = {
      users: db.collection("users"),
      personalTokens: db.collection("personal_tokens"),
      revokedTokens: db.collection("revoked_access_tokens"),
      rateLimits: db.collection("rate_limits"),
      mcpSessions: db.collection("mcp_sessions"),
      oauthClients: db.collection("oauth_clients"),
      oauthCodes: db.collection("oauth_codes"),
      oauthGrants: db.collection("oauth_grants"),
      refreshTokens: db.collection("oauth_refresh_tokens"),
      importJobs: db.collection("import_jobs"),
      conversations: db.collection("conversations"),
      messages: db.collection("messages"),
    };
    this.#append = {
      conversations: this.#c.conversations,
      messages: this.#c.messages,
      run: this.#run,
      wallClock: this.#wallClock,
      sleep,
      maxDocumentBytes: target.flavor === "cosmos-ru"
        ? COSMOS_RU_MAX_DOCUMENT_BYTES
        : MONGODB_MAX_DOCUMENT_BYTES,
    };
  }

  /**
   * How search finds candidates now: `text`, `atlas` or `scan` (see search.ts). It can only move
   * down that list, when the server turns out not to have what a mode needs.
   */
  get searchMode(): SearchMode {
    return this.#searchMode;
  }

  /**
   * Connects and creates what is missing (indexes, search indexes) once; after a failure the next
   * call tries again. The connection is made here, not by the driver on first use: a client
   * whose automatic first connection failed stays closed ("Topology is closed") for good.
   */
  #setUp(): Promise<void> {
    this.#ready ??= (async () => {
      await this.#client.connect();
      await createIndexes(this.#db, indexSpecs(this.#style, this.#grace), this.#warn);
      this.#searchMode = await this.#prepareSearch();
    })().catch((error) => {
      this.#ready = null;
      throw this.#mapped(error);
    });
    return this.#ready;
  }

  async #prepareSearch(): Promise<SearchMode> {
    if (this.#setting === "scan") return "scan";
    if (this.#setting === "atlas") {
      try {
        for (const spec of atlasIndexSpecs()) {
          const collection = this.#db.collection(spec.collection);
          const existing = await collection.listSearchIndexes(spec.name).toArray();
          if (!existing.length) {
            await collection.createSearchIndex({ name: spec.name, definition: spec.definition });
          }
        }
        return "atlas";
      } catch (error) {
        if (isTransient(error)) throw error;
        this.#warn(`Atlas Search is not available (${message(error)}); trying a text index`);
      }
    }
    if (this.flavor === "cosmos-ru") {
      this.#warn("Cosmos DB (RU) has no text indexes; search scans each user's messages");
      return "scan";
    }
    for (const withUserPrefix of [true, false]) {
      try {
        await createIndexes(this.#db, textIndexSpecs(withUserPrefix), this.#warn);
        return "text";
      } catch (error) {
        // A server that could not be reached says nothing about text indexes: try again later.
        if (isTransient(error)) throw error;
        if (!withUserPrefix) {
          this.#warn(`no text index (${message(error)}); search scans each user's messages`);
        }
      }
    }
    return "scan";
  }

  /** The expiry fields of a record that expires at `expiresAt`. */
  #expiry(expiresAt: number): ExpiryFields {
    return expiryFields(this.#style, this.#grace, expiresAt, this.#wallClock());
  }

  /** The expiry fields an update restates when it leaves the expiry alone (expiry.ts). */
  #restated(expiresAt: number): ExpiryFields {
    return restatedExpiry(this.#style, this.#grace, expiresAt, this.#wallClock());
  }

  async ping(): Promise<void> {
    await this.#setUp();
    await this.#run(() => this.#db.command({ ping: 1 }));
  }

  async close(): Promise<void> {
    await this.#client.close();
  }

  // Accounts

  async createUser(user: User): Promise<void> {
    await this.#setUp();
    try {
      // Without retryable writes (Cosmos DB) an answer lost after the insert took effect is read
      // back, rather than reported as a failure the caller would retry into a Conflict.
      await readBackOnFailure(
        { run: this.#run },
        async () => {
          await this.#c.users.insertOne({
            _id: user.id,
            email: user.email,
            password_hash: user.passwordHash,
            created_at: user.createdAt,
            tokens_valid_after: user.tokensValidAfter,
          });
          return true;
        },
        async () =>
          (await this.#c.users.findOne({ _id: user.id }, { projection: { _id: 1 } })) ? true : null,
      );
    } catch (error) {
      if (isDuplicateKey(error)) throw new Conflict("An account with this email already exists.");
      throw error;
    }
  }

  async findUserByEmail(email: string): Promise<User | null> {
    await this.#setUp();
    const doc = await this.#run(() => this.#c.users.findOne({ email }));
    return doc ? toUser(doc) : null;
  }

  async getUser(userId: string): Promise<User | null> {
    await this.#setUp();
    const doc = await this.#run(() => this.#c.users.findOne({ _id: userId }));
    return doc ? toUser(doc) : null;
  }

  async setPasswordHash(
    userId: string,
    passwordHash: string,
    tokensValidAfter?: number,
  ): Promise<void> {
    await this.#setUp();
    await this.#run(() =>
      this.#c.users.updateOne(
        { _id: userId },
        tokensValidAfter === undefined ? { $set: { password_hash: passwordHash } } : {
          $set: { password_hash: passwordHash },
          $max: { tokens_valid_after: tokensValidAfter },
        },
      )
    );
  }

  async deleteUser(userId: string): Promise<void> {
    await this.#setUp();
    const owned = { user_id: userId };
    const c = this.#c;
    // Heads first, so the conversations vanish at once; the account last, so a failure half-way
    // leaves an account whose owner can delete it again, never an orphan nobody can reach.
    await this.#run(() => c.conversations.deleteMany(owned));
    await this.#run(() => c.messages.deleteMany(owned));
    await this.#run(() => c.personalTokens.deleteMany(owned));
    await this.#run(() => c.revokedTokens.deleteMany(owned));
    await this.#run(() => c.mcpSessions.deleteMany(owned));
    await this.#run(() => c.oauthCodes.deleteMany(owned));
    await this.#run(() => c.oauthGrants.deleteMany(owned));
    await this.#run(() => c.refreshTokens.deleteMany(owned));
    await this.#run(() => c.importJobs.deleteMany(owned));
    await this.#run(() => c.users.deleteOne({ _id: userId }));
    // A request that was past its credential check when the sweep began may have written since;
    // with the account gone no new one can, so a second sweep leaves nothing behind.
    await this.#run(() => c.conversations.deleteMany(owned));
    await this.#run(() => c.messages.deleteMany(owned));
    await this.#run(() => c.personalTokens.deleteMany(owned));
    await this.#run(() => c.mcpSessions.deleteMany(owned));
    await this.#run(() => c.oauthGrants.deleteMany(owned));
    await this.#run(() => c.refreshTokens.deleteMany(owned));
  }

  // Personal access tokens

  async createPersonalToken(userId: string, token: NewPersonalToken): Promise<PersonalToken> {
    await this.#setUp();
    const doc: PersonalTokenDoc = {
      _id: token.id,
      user_id: userId,
      name: token.name,
      prefix: token.prefix,
      secret_hash: token.secretHash,
      created_at: token.createdAt,
      expires_at: token.expiresAt,
      last_used_at: null,
    };
    await readBackOnFailure(
      { run: this.#run },
      async () => {
        await this.#c.personalTokens.insertOne(doc);
        return true;
      },
      async () =>
        (await this.#c.personalTokens.findOne({ _id: doc._id, user_id: userId }, {
            projection: { _id: 1 },
          }))
          ? true
          : null,
    );
    return toPersonalToken(doc);
  }

  async listPersonalTokens(userId: string): Promise<PersonalToken[]> {
    await this.#setUp();
    const docs = await this.#run(() =>
      this.#c.personalTokens.find({ user_id: userId }, {
        sort: { user_id: 1, created_at: -1, _id: 1 },
      })
        .toArray()
    );
    return docs.map(toPersonalToken);
  }

  async renamePersonalToken(
    userId: string,
    tokenId: string,
    name: string,
  ): Promise<PersonalToken | null> {
    await this.#setUp();
    const doc = await this.#run(() =>
      this.#c.personalTokens.findOneAndUpdate(
        { _id: tokenId, user_id: userId },
        { $set: { name } },
        { returnDocument: "after" },
      )
    );
    return doc ? toPersonalToken(doc) : null;
  }

  async deletePersonalToken(userId: string, tokenId: string): Promise<boolean> {
    await this.#setUp();
    const result = await this.#run(() =>
      this.#c.personalTokens.deleteOne({ _id: tokenId, user_id: userId })
    );
    return result.deletedCount > 0;
  }

  async findPersonalTokenBySecretHash(secretHash: string): Promise<PersonalToken | null> {
    await this.#setUp();
    const doc = await this.#run(() => this.#c.personalTokens.findOne({ secret_hash: secretHash }));
    return doc ? toPersonalToken(doc) : null;
  }

  async touchPersonalToken(userId: string, tokenId: string, now: number): Promise<void> {
    await this.#setUp();
    await this.#run(() =>
      this.#c.personalTokens.updateOne(
        { _id: tokenId, user_id: userId },
        { $set: { last_used_at: now } },
      )
    );
  }

  // Revoked access tokens

  async revokeAccessToken(userId: string, jti: string, expiresAt: number): Promise<void> {
    await this.#setUp();
    try {
      await this.#run(() =>
        this.#c.revokedTokens.updateOne(
          { _id: jti },
          { $setOnInsert: { user_id: userId, expires_at: expiresAt, ...this.#expiry(expiresAt) } },
          { upsert: true },
        )
      );
    } catch (error) {
      // Two instances revoking the same token at once: the other one's insert won; same result.
      if (!isDuplicateKey(error)) throw error;
    }
  }

  async isAccessTokenRevoked(jti: string): Promise<boolean> {
    await this.#setUp();
    const doc = await this.#run(() =>
      this.#c.revokedTokens.findOne({ _id: jti }, { projection: { _id: 1 } })
    );
    return doc !== null;
  }

  // MCP sessions

  async createMcpSession(session: McpSessionRecord): Promise<void> {
    await this.#setUp();
    await this.#run(() =>
      this.#c.mcpSessions.insertOne({
        _id: session.idHash,
        endpoint: session.endpoint,
        transport: session.transport,
        user_id: session.userId,
        bound_at: session.boundAt,
        bound_credential: session.boundCredential,
        created_at: session.createdAt,
        expires_at: session.expiresAt,
        ...this.#expiry(session.expiresAt),
      })
    );
  }

  async getMcpSession(idHash: string, now: number): Promise<McpSessionRecord | null> {
    await this.#setUp();
    const doc = await this.#run(() =>
      this.#c.mcpSessions.findOne({ _id: idHash, expires_at: { $gt: now } })
    );
    return doc ? toMcpSession(doc) : null;
  }

  async extendMcpSession(idHash: string, expiresAt: number): Promise<boolean> {
    await this.#setUp();
    const result = await this.#run(() =>
      this.#c.mcpSessions.updateOne(
        { _id: idHash },
        { $set: { expires_at: expiresAt, ...this.#expiry(expiresAt) } },
      )
    );
    return result.matchedCount > 0;
  }

  async bindMcpSession(
    idHash: string,
    binding: { userId: string; credential: string; now: number; expiresAt: number },
  ): Promise<boolean> {
    await this.#setUp();
    const result = await this.#run(() =>
      this.#c.mcpSessions.updateOne(
        { _id: idHash, expires_at: { $gt: binding.now } },
        {
          $set: {
            user_id: binding.userId,
            bound_at: binding.now,
            bound_credential: binding.credential,
            expires_at: binding.expiresAt,
            ...this.#expiry(binding.expiresAt),
          },
        },
      )
    );
    return result.matchedCount > 0;
  }

  async deleteMcpSession(idHash: string): Promise<void> {
    await this.#setUp();
    await this.#run(() => this.#c.mcpSessions.deleteOne({ _id: idHash }));
  }

  // OAuth

  async saveOAuthClient(client: OAuthClient): Promise<void> {
    await this.#setUp();
    const save = () =>
      this.#run(() =>
        this.#c.oauthClients.updateOne(
          { _id: client.id },
          {
            $set: {
              kind: client.kind,
              name: client.name,
              redirect_uris: client.redirectUris,
              auth_method: client.authMethod,
              secret_hash: client.secretHash,
              client_uri: client.clientUri,
              refresh_at: client.refreshAt,
            },
            $setOnInsert: { created_at: client.createdAt },
          },
          { upsert: true },
        )
      );
    try {
      await save();
    } catch (error) {
      // Two instances caching the same client at once: the other inserted; now this one updates.
      if (!isDuplicateKey(error)) throw error;
      await save();
    }
  }

  async getOAuthClient(clientId: string): Promise<OAuthClient | null> {
    await this.#setUp();
    const doc = await this.#run(() => this.#c.oauthClients.findOne({ _id: clientId }));
    return doc ? toOAuthClient(doc) : null;
  }

  async createOAuthCode(userId: string, code: OAuthCode): Promise<void> {
    await this.#setUp();
    await this.#run(() =>
      this.#c.oauthCodes.insertOne({
        _id: code.codeHash,
        client_id: code.clientId,
        user_id: userId,
        redirect_uri: code.redirectUri,
        code_challenge: code.codeChallenge,
        resource: code.resource,
        scopes: code.scopes,
        created_at: code.createdAt,
        expires_at: code.expiresAt,
        grant_id: null,
        ...this.#expiry(code.expiresAt),
      })
    );
  }

  async getOAuthCode(codeHash: string): Promise<OAuthCode | null> {
    await this.#setUp();
    const doc = await this.#run(() => this.#c.oauthCodes.findOne({ _id: codeHash }));
    return doc ? toOAuthCode(doc) : null;
  }

  /** Inserts a document unless the same key is stored already (a repeat of this very write). */
  async #insertOnce<T extends { _id: string }>(collection: Collection<T>, doc: T): Promise<void> {
    try {
      await this.#run(() => collection.insertOne(doc as OptionalUnlessRequiredId<T>));
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
  }

  async #storeGrant(grant: OAuthGrant, refresh: OAuthRefreshToken): Promise<void> {
    await this.#insertOnce(this.#c.oauthGrants, {
      _id: grant.id,
      pending: true,
      user_id: grant.userId,
      client_id: grant.clientId,
      scopes: grant.scopes,
      resource: grant.resource,
      created_at: grant.createdAt,
      last_used_at: grant.lastUsedAt,
      expires_at: grant.expiresAt,
      revoked_at: null,
      ...this.#expiry(grant.expiresAt),
    });
    await this.#insertOnce(this.#c.refreshTokens, {
      _id: refresh.tokenHash,
      grant_id: grant.id,
      user_id: grant.userId,
      created_at: refresh.createdAt,
      used_at: null,
      replaced_by: null,
      grant_expires_at: grant.expiresAt,
      ...this.#expiry(grant.expiresAt),
    });
  }

  async redeemOAuthCode(
    codeHash: string,
    grant: OAuthGrant,
    refresh: OAuthRefreshToken,
  ): Promise<string | null> {
    await this.#setUp();
    const code = await this.#run(() => this.#c.oauthCodes.findOne({ _id: codeHash }));
    if (!code) throw new Error("redeemOAuthCode: unknown code");
    if (code.grant_id !== null && code.grant_id !== grant.id) return code.grant_id;
    // The grant is stored before the code names it, so a second redemption that finds the code
    // taken always finds the grant to revoke. Until the code is claimed the grant is pending:
    // invisible to reads, so one left by a redemption that lost or died never shows.
    await this.#storeGrant(grant, refresh);
    const claimed = await readBackOnFailure(
      { run: this.#run },
      () =>
        this.#c.oauthCodes.updateOne(
          { _id: codeHash, grant_id: { $in: [null, grant.id] } },
          { $set: { grant_id: grant.id } },
        ),
      // A lost answer: the claim stands if the code now names this grant.
      async () =>
        (await this.#c.oauthCodes.findOne({ _id: codeHash }))?.grant_id === grant.id
          ? { matchedCount: 1 }
          : null,
    );
    if (claimed.matchedCount === 0) {
      // Another redemption claimed the code first: withdraw this one's grant.
      await this.#run(() =>
        this.#c.refreshTokens.deleteOne({ _id: refresh.tokenHash, grant_id: grant.id })
      );
      await this.#run(() =>
        this.#c.oauthGrants.deleteOne({ _id: grant.id, user_id: grant.userId, pending: true })
      );
      const winner = await this.#run(() => this.#c.oauthCodes.findOne({ _id: codeHash }));
      // Purged (expired) between the read and the claim: as unknown as a code never issued.
      if (!winner?.grant_id) throw new Error("redeemOAuthCode: unknown code");
      return winner.grant_id;
    }
    await this.#run(() =>
      this.#c.oauthGrants.updateOne({ _id: grant.id, user_id: grant.userId }, {
        $unset: { pending: "" },
      })
    );
    return null;
  }

  async getOAuthGrant(grantId: string): Promise<OAuthGrant | null> {
    await this.#setUp();
    const doc = await this.#run(() =>
      this.#c.oauthGrants.findOne({ _id: grantId, pending: { $ne: true } })
    );
    return doc ? toOAuthGrant(doc) : null;
  }

  async touchOAuthGrant(userId: string, grantId: string, now: number): Promise<void> {
    await this.#setUp();
    let restated: ExpiryFields = {};
    if (this.#style === "cosmos-ttl") {
      const grant = await this.#run(() =>
        this.#c.oauthGrants.findOne({ _id: grantId, user_id: userId }, {
          projection: { expires_at: 1 },
        })
      );
      if (!grant) return;
      restated = this.#restated(grant.expires_at);
    }
    await this.#run(() =>
      this.#c.oauthGrants.updateOne(
        { _id: grantId, user_id: userId },
        { $set: { last_used_at: now, ...restated } },
      )
    );
  }

  async listOAuthGrants(userId: string, now: number): Promise<OAuthGrant[]> {
    await this.#setUp();
    const docs = await this.#run(() =>
      this.#c.oauthGrants.find(
        { user_id: userId, revoked_at: null, expires_at: { $gt: now }, pending: { $ne: true } },
        { sort: { user_id: 1, created_at: -1, _id: 1 } },
      ).toArray()
    );
    return docs.map(toOAuthGrant);
  }

  async revokeOAuthGrant(userId: string, grantId: string, now: number): Promise<boolean> {
    await this.#setUp();
    const grant = await this.#run(() =>
      this.#c.oauthGrants.findOne({ _id: grantId, user_id: userId }, {
        projection: { expires_at: 1 },
      })
    );
    if (!grant) return false;
    // Keeps the first revocation time, as a repeated revoke must.
    await this.#run(() =>
      this.#c.oauthGrants.updateOne(
        { _id: grantId, user_id: userId, revoked_at: null },
        { $set: { revoked_at: now, ...this.#restated(grant.expires_at) } },
      )
    );
    await this.#run(() => this.#c.refreshTokens.deleteMany({ grant_id: grantId, user_id: userId }));
    return true;
  }

  async getOAuthRefreshToken(tokenHash: string): Promise<OAuthRefreshToken | null> {
    await this.#setUp();
    const doc = await this.#run(() => this.#c.refreshTokens.findOne({ _id: tokenHash }));
    return doc ? toOAuthRefreshToken(doc) : null;
  }

  async rotateOAuthRefreshToken(
    oldHash: string,
    next: OAuthRefreshToken,
    now: number,
    graceMs: number,
  ): Promise<"rotated" | "retried" | "reused"> {
    await this.#setUp();
    const old = await this.#run(() => this.#c.refreshTokens.findOne({ _id: oldHash }));
    if (!old) return "reused";
    const successor = (): RefreshTokenDoc => ({
      _id: next.tokenHash,
      grant_id: next.grantId,
      user_id: old.user_id,
      created_at: next.createdAt,
      used_at: null,
      replaced_by: null,
      grant_expires_at: old.grant_expires_at,
      ...this.#expiry(old.grant_expires_at),
    });
    if (old.used_at === null) {
      // Mark the old token used first: of two racing rotations exactly one wins. The successor
      // is stored after; should that fail, the client's retry (same old token, same successor,
      // within the grace period) stores it below.
      const marked = await this.#run(() =>
        this.#c.refreshTokens.updateOne(
          { _id: oldHash, used_at: null },
          {
            $set: {
              used_at: now,
              replaced_by: next.tokenHash,
              ...this.#restated(old.grant_expires_at),
            },
          },
        )
      );
      if (marked.matchedCount > 0) {
        await this.#insertOnce(this.#c.refreshTokens, successor());
        return "rotated";
      }
      return this.rotateOAuthRefreshToken(oldHash, next, now, graceMs);
    }
    if (old.replaced_by !== next.tokenHash || now - old.used_at > graceMs) return "reused";
    const stored = await this.#run(() =>
      this.#c.refreshTokens.findOne({ _id: next.tokenHash }, { projection: { used_at: 1 } })
    );
    if (!stored) {
      // The rotation marked the old token but did not live to store its successor.
      await this.#insertOnce(this.#c.refreshTokens, successor());
      return "retried";
    }
    return stored.used_at === null ? "retried" : "reused";
  }

  // Import jobs

  async createImportJob(userId: string, job: ImportJob): Promise<void> {
    await this.#setUp();
    await this.#run(() =>
      this.#c.importJobs.insertOne({
        _id: job.id,
        user_id: userId,
        status: job.status,
        summary_json: JSON.stringify(job.summary),
        error: job.error,
        created_at: job.createdAt,
        updated_at: job.updatedAt,
      })
    );
  }

  async updateImportJob(userId: string, job: ImportJob): Promise<boolean> {
    await this.#setUp();
    const result = await this.#run(() =>
      this.#c.importJobs.updateOne(
        { _id: job.id, user_id: userId },
        {
          $set: {
            status: job.status,
            summary_json: JSON.stringify(job.summary),
            error: job.error,
            updated_at: job.updatedAt,
          },
        },
      )
    );
    return result.matchedCount > 0;
  }

  async getImportJob(userId: string, jobId: string): Promise<ImportJob | null> {
    await this.#setUp();
    const doc = await this.#run(() => this.#c.importJobs.findOne({ _id: jobId, user_id: userId }));
    return doc ? toImportJob(doc) : null;
  }

  // Rate limits

  async hitRateLimit(key: string, windowMs: number, now: number): Promise<RateCount> {
    await this.#setUp();
    for (let attempt = 0;; attempt++) {
      // A live window: count the hit. It ends by now + windowMs at the latest, a bound good
      // enough for Cosmos DB's TTL, which each write restates.
      const restated = this.#restated(now + windowMs);
      const live = await this.#run(() =>
        this.#c.rateLimits.findOneAndUpdate(
          { _id: key, reset_at: { $gt: now } },
          Object.keys(restated).length
            ? { $inc: { count: 1 }, $set: restated }
            : { $inc: { count: 1 } },
          { returnDocument: "after" },
        )
      );
      if (live) return { count: live.count, resetAt: live.reset_at };
      // No window or an ended one: start a new window. If another instance started it between
      // the two steps, the upsert collides on the key and the loop counts in that window.
      const resetAt = now + windowMs;
      try {
        const fresh = await this.#run(() =>
          this.#c.rateLimits.findOneAndUpdate(
            { _id: key, reset_at: { $lte: now } },
            { $set: { count: 1, reset_at: resetAt, ...this.#expiry(resetAt) } },
            { upsert: true, returnDocument: "after" },
          )
        );
        if (fresh) return { count: fresh.count, resetAt: fresh.reset_at };
      } catch (error) {
        if (!isDuplicateKey(error) || attempt >= 5) throw error;
      }
    }
  }

  async peekRateLimit(key: string, now: number): Promise<RateCount | null> {
    await this.#setUp();
    const doc = await this.#run(() =>
      this.#c.rateLimits.findOne({ _id: key, reset_at: { $gt: now } })
    );
    return doc ? { count: doc.count, resetAt: doc.reset_at } : null;
  }

  async clearRateLimit(key: string): Promise<void> {
    await this.#setUp();
    await this.#run(() => this.#c.rateLimits.deleteOne({ _id: key }));
  }

  async purgeExpired(now: number): Promise<void> {
    await this.#setUp();
    for (const [name, field] of Object.entries(EXPIRING)) {
      await this.#run(() =>
        this.#db.collection(name).deleteMany(expiredQuery(this.#style, field as string, now))
      );
    }
  }

  // Conversations

  async createConversation(userId: string, input: NewConversation): Promise<Conversation> {
    await this.#setUp();
    return toConversation(await createConversation(this.#append, userId, input));
  }

  async getConversation(userId: string, conversationId: string): Promise<Conversation | null> {
    await this.#setUp();
    const doc = await this.#run(() =>
      this.#c.conversations.findOne({ _id: conversationId, user_id: userId, ...VISIBLE }, {
        projection: WITHOUT_SEARCH_FIELDS,
      })
    );
    return doc ? toConversation(doc) : null;
  }

  async listMessages(
    userId: string,
    conversationId: string,
    range: MessageRange,
  ): Promise<Message[]> {
    await this.#setUp();
    // The head first: only its committed messages are read, so a batch being appended is seen
    // whole or not at all, and messages a failed delete left behind are never shown.
    const head = await this.#run(() =>
      this.#c.conversations.findOne({ _id: conversationId, user_id: userId, ...VISIBLE }, {
        projection: { message_count: 1, incarnation: 1 },
      })
    );
    if (!head) return [];
    const after = range.afterSeq ?? -1;
    if (range.limit <= 0 || after + 1 >= head.message_count) return [];
    const docs = await this.#run(() =>
      this.#c.messages.find({
        user_id: userId,
        conversation_id: conversationId,
        seq: { $gt: after, $lt: head.message_count },
      }, {
        projection: WITHOUT_SEARCH_FIELDS,
        sort: range.last ? { conversation_id: -1, seq: -1 } : { conversation_id: 1, seq: 1 },
        limit: range.limit,
      }).toArray()
    );
    if (range.last) docs.reverse();
    return docs.map(toMessage);
  }

  appendMessages(
    userId: string,
    conversationId: string,
    messages: NewMessage[],
    now: number,
  ): Promise<{ conversation: Conversation; messages: AppendedMessage[] } | null> {
    return this.#setUp().then(() =>
      appendMessages(this.#append, userId, conversationId, messages, now)
    );
  }

  async updateConversation(
    userId: string,
    conversationId: string,
    patch: ConversationPatch,
    now: number,
  ): Promise<Conversation | null> {
    await this.#setUp();
    const set: Partial<ConversationDoc> = {};
    if (patch.title !== undefined) {
      const title = indexedText(patch.title);
      Object.assign(set, {
        title: patch.title,
        search_text: title.stream,
        search_chars: title.chars,
      });
    }
    if (patch.tags !== undefined) set.tags = patch.tags;
    if (patch.metadata !== undefined) set.metadata_json = JSON.stringify(patch.metadata);
    const doc = await this.#run(() =>
      this.#c.conversations.findOneAndUpdate(
        { _id: conversationId, user_id: userId, ...VISIBLE },
        Object.keys(set).length
          ? { $set: set, $inc: { version: 1 }, $max: { updated_at: now } }
          : { $inc: { version: 1 }, $max: { updated_at: now } },
        { returnDocument: "after", projection: WITHOUT_SEARCH_FIELDS },
      )
    );
    return doc ? toConversation(doc) : null;
  }

  async deleteConversation(userId: string, conversationId: string): Promise<boolean> {
    await this.#setUp();
    const head = await this.#run(() =>
      this.#c.conversations.findOneAndDelete(
        { _id: conversationId, user_id: userId, ...VISIBLE },
        { projection: { incarnation: 1 } },
      )
    );
    if (!head) {
      // Gone already, or still being created (then its messages are its creator's to handle):
      // leftovers under this id are removed by the next conversation created with it.
      return false;
    }
    // Only this conversation's messages: a new one under the same id may be being created.
    await this.#run(() =>
      this.#c.messages.deleteMany({
        user_id: userId,
        conversation_id: conversationId,
        incarnation: head.incarnation,
      })
    );
    return true;
  }

  async listConversations(
    userId: string,
    options: { filter: ConversationFilter; after?: ListCursor; limit: number },
  ): Promise<Conversation[]> {
    await this.#setUp();
    // A limit of 0 means "no limit" to MongoDB.
    if (options.limit <= 0) return [];
    const docs = await this.#run(() =>
      this.#c.conversations.find({
        ...conversationQuery(userId, options.filter, options.after),
        ...VISIBLE,
      }, {
        projection: WITHOUT_SEARCH_FIELDS,
        sort: NEWEST_FIRST,
        limit: options.limit,
      }).toArray()
    );
    return docs.map(toConversation);
  }

  async searchConversations(
    userId: string,
    options: { query: SearchQuery; filter: ConversationFilter; offset: number; limit: number },
  ): Promise<SearchHit[]> {
    await this.#setUp();
    for (;;) {
      const mode = this.#searchMode;
      try {
        return await searchConversations(this.#c, mode, userId, options, this.#run);
      } catch (error) {
        if (!(error instanceof SearchIndexMissing)) throw error;
        const next: SearchMode = mode === "atlas" ? "text" : "scan";
        this.#warn(`search mode ${mode} failed (${error.message}); using ${next}`);
        if (this.#searchMode === mode) this.#searchMode = next;
      }
    }
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
