import type {
  AppendedMessage,
  Conversation,
  ConversationFilter,
  ImportJob,
  ListCursor,
  Message,
  Metadata,
  NewMessage,
  OAuthClient,
  OAuthCode,
  OAuthGrant,
  OAuthRefreshToken,
  PersonalToken,
  SearchHit,
  SearchQuery,
  User,
} from "../core/types.ts";

/** A new conversation with its first messages, stored in one step. */
export interface NewConversation {
  id: string;
  title: string;
  tags: string[];
  source: string;
  metadata: Metadata;
  messages: NewMessage[];
  /** Updated time, and created time unless `createdAt` says otherwise (an import keeps both). */
  now: number;
  createdAt?: number;
}

/** The fields of a conversation head that can change after it is saved. */
export interface ConversationPatch {
  title?: string;
  tags?: string[];
  metadata?: Metadata;
}

/** Which messages of a conversation to read. */
export interface MessageRange {
  /** Only messages with seq greater than this. */
  afterSeq?: number;
  /** At most this many. */
  limit: number;
  /** Take the last `limit` messages (still returned in seq order). */
  last?: boolean;
}

/** A personal access token to store; only the SHA-256 of its secret is kept. */
export interface NewPersonalToken {
  id: string;
  name: string;
  prefix: string;
  secretHash: string;
  createdAt: number;
  expiresAt: number | null;
}

/** Which MCP endpoint family a session belongs to: `/mcp` (credential) or `/open/…` (in-band). */
export type McpEndpoint = "mcp" | "open";

/** Which MCP transport a session belongs to; an id of one is never accepted by the other. */
export type McpTransportKind = "streamable" | "sse";

/** An MCP session as stored: only the SHA-256 of its id is kept. */
export interface McpSessionRecord {
  idHash: string;
  endpoint: McpEndpoint;
  transport: McpTransportKind;
  /** Null until a user is bound (only ever null on `/open`). */
  userId: string | null;
  /** When the user was bound: a password change after it ends the binding. */
  boundAt: number | null;
  /**
   * What an in-band sign-in used, so the binding ends with it: `password`, `pat:<sha256>` or
   * `jwt:<jti>:<expires ms>`. Null when the user comes from each request's own credential.
   */
  boundCredential: string | null;
  createdAt: number;
  expiresAt: number;
}

/** A fixed-window counter after one hit. */
export interface RateCount {
  count: number;
  resetAt: number;
}

/**
 * Everything Pensieve keeps. Every method that reads or writes a user's data takes that user's
 * id as its first argument, and never returns another user's records.
 */
export interface Store {
  /** Which adapter this is, for logs and /readyz. */
  readonly kind: "sqlite" | "mongodb";
  /**
   * How search finds its candidates, where an adapter has more than one way (MongoDB: `text`,
   * `atlas` or `scan`), for /readyz.
   */
  readonly searchMode?: string;

  /** Throws when the database cannot be reached. */
  ping(): Promise<void>;
  /** Flushes and closes; the store is unusable afterwards. */
  close(): Promise<void>;

  // Accounts
  /** Throws Conflict when the email is taken. */
  createUser(user: User): Promise<void>;
  findUserByEmail(email: string): Promise<User | null>;
  getUser(userId: string): Promise<User | null>;
  /** Replaces the password hash; with `tokensValidAfter`, also revokes older credentials. */
  setPasswordHash(userId: string, passwordHash: string, tokensValidAfter?: number): Promise<void>;
  /** Removes the account and everything it owns. */
  deleteUser(userId: string): Promise<void>;

  // Personal access tokens
  createPersonalToken(userId: string, token: NewPersonalToken): Promise<PersonalToken>;
  listPersonalTokens(userId: string): Promise<PersonalToken[]>;
  renamePersonalToken(userId: string, tokenId: string, name: string): Promise<PersonalToken | null>;
  /** Returns false when the token does not exist for this user. */
  deletePersonalToken(userId: string, tokenId: string): Promise<boolean>;
  /** The verification path: the secret's hash is the credential, so no user id is known yet. */
  findPersonalTokenBySecretHash(secretHash: string): Promise<PersonalToken | null>;
  touchPersonalToken(userId: string, tokenId: string, now: number): Promise<void>;

  // Revoked access tokens (logout)
  revokeAccessToken(userId: string, jti: string, expiresAt: number): Promise<void>;
  isAccessTokenRevoked(jti: string): Promise<boolean>;

  // MCP sessions: stored so that any instance can serve a session's next request
  createMcpSession(session: McpSessionRecord): Promise<void>;
  /** The session, or null when unknown or expired at `now`. The hashed id is the credential. */
  getMcpSession(idHash: string, now: number): Promise<McpSessionRecord | null>;
  /** Moves the expiry; false when the session is gone. */
  extendMcpSession(idHash: string, expiresAt: number): Promise<boolean>;
  /** Binds a user at `now` with the credential used, and moves the expiry; false when gone. */
  bindMcpSession(
    idHash: string,
    binding: { userId: string; credential: string; now: number; expiresAt: number },
  ): Promise<boolean>;
  deleteMcpSession(idHash: string): Promise<void>;

  // OAuth: clients, codes, grants and refresh tokens, so any instance can serve any step
  /** Inserts or replaces (a re-fetched metadata document replaces its cached copy). */
  saveOAuthClient(client: OAuthClient): Promise<void>;
  getOAuthClient(clientId: string): Promise<OAuthClient | null>;
  createOAuthCode(userId: string, code: OAuthCode): Promise<void>;
  /** The code with this hash, redeemed or not; the code is the credential here. */
  getOAuthCode(codeHash: string): Promise<OAuthCode | null>;
  /**
   * Redeems a code in one step: unless it was redeemed already, stores the grant with its first
   * refresh token and records the grant on the code, returning null. If it was redeemed already,
   * changes nothing and returns the grant that redemption created.
   */
  redeemOAuthCode(
    codeHash: string,
    grant: OAuthGrant,
    refresh: OAuthRefreshToken,
  ): Promise<string | null>;
  /** The verification path: a token names its grant, so no user id is known yet. */
  getOAuthGrant(grantId: string): Promise<OAuthGrant | null>;
  touchOAuthGrant(userId: string, grantId: string, now: number): Promise<void>;
  /** The user's grants that are neither revoked nor expired at `now`, newest first. */
  listOAuthGrants(userId: string, now: number): Promise<OAuthGrant[]>;
  /** Revokes the grant and deletes its refresh tokens; false when there is no such grant. */
  revokeOAuthGrant(userId: string, grantId: string, now: number): Promise<boolean>;
  getOAuthRefreshToken(tokenHash: string): Promise<OAuthRefreshToken | null>;
  /**
   * Replaces a refresh token by `next` in one step: "rotated" when the old one was unused.
   * "retried" when it was used less than `graceMs` ago, `next` is the successor it was replaced
   * by, and that successor is still unused (the client lost the answer and asks again: it gets
   * the same successor, nothing changes). "reused" otherwise, and nothing changes.
   */
  rotateOAuthRefreshToken(
    oldHash: string,
    next: OAuthRefreshToken,
    now: number,
    graceMs: number,
  ): Promise<"rotated" | "retried" | "reused">;

  // Import jobs
  createImportJob(userId: string, job: ImportJob): Promise<void>;
  /** Replaces status, summary, error and updatedAt; false when there is no such job of the user. */
  updateImportJob(userId: string, job: ImportJob): Promise<boolean>;
  getImportJob(userId: string, jobId: string): Promise<ImportJob | null>;

  // Rate limits, shared by every instance on this store
  /** Counts one hit in the window that contains `now`. */
  hitRateLimit(key: string, windowMs: number, now: number): Promise<RateCount>;
  /** The current count without adding a hit. */
  peekRateLimit(key: string, now: number): Promise<RateCount | null>;
  clearRateLimit(key: string): Promise<void>;
  /** Drops expired counters, revocations, MCP sessions, codes and grants. */
  purgeExpired(now: number): Promise<void>;

  // Conversations
  createConversation(userId: string, conversation: NewConversation): Promise<Conversation>;
  getConversation(userId: string, conversationId: string): Promise<Conversation | null>;
  listMessages(userId: string, conversationId: string, range: MessageRange): Promise<Message[]>;
  /**
   * Appends atomically after the last message. A message whose clientMessageId is already stored
   * in this conversation is returned as a duplicate and not stored again. Returns null when the
   * conversation does not exist for this user.
   */
  appendMessages(
    userId: string,
    conversationId: string,
    messages: NewMessage[],
    now: number,
  ): Promise<{ conversation: Conversation; messages: AppendedMessage[] } | null>;
  updateConversation(
    userId: string,
    conversationId: string,
    patch: ConversationPatch,
    now: number,
  ): Promise<Conversation | null>;
  /** Returns false when the conversation does not exist for this user. */
  deleteConversation(userId: string, conversationId: string): Promise<boolean>;
  /** Newest first by updatedAt, then id. */
  listConversations(
    userId: string,
    options: { filter: ConversationFilter; after?: ListCursor; limit: number },
  ): Promise<Conversation[]>;
  /** Ranked: best first. `offset` pages through the ranking. */
  searchConversations(
    userId: string,
    options: { query: SearchQuery; filter: ConversationFilter; offset: number; limit: number },
  ): Promise<SearchHit[]>;
}
