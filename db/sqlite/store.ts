// node:sqlite is synchronous; the methods are async so that every failure reaches the caller as
// a rejected promise, as the Store contract promises, rather than as a synchronous throw.
// deno-lint-ignore-file require-await
import { refreshStatistics } from "./statistics.ts";
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import { mkdirSync } from "node:fs";
import { Conflict } from "../../core/errors.ts";
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
import { migrate } from "./migrations.ts";
import {
  MESSAGE_COLUMNS,
  type Row,
  toConversation,
  toMessage,
  toOAuthClient,
  toOAuthCode,
  toOAuthGrant,
  toOAuthRefreshToken,
  toPersonalToken,
  toUser,
} from "./rows.ts";
import { indexText, matchExpression, ownerToken } from "./search_text.ts";

/** How hard SQLite works to make a commit durable before it returns. */
export type SqliteSynchronous = "FULL" | "NORMAL";

export interface SqliteOptions {
  /** A file path, or ":memory:". */
  path: string;
  synchronous?: SqliteSynchronous;
  /** How long a writer waits for another process's lock, in milliseconds. */
  busyTimeoutMs?: number;
}

/** Title hits count for more than a single message hit (bm25 scores are negative). */
const TITLE_WEIGHT = 2.0;

/**
 * The embedded store: one SQLite file in WAL mode. node:sqlite is synchronous, so each method
 * runs start to end without interleaving with other requests in this process; across processes
 * `BEGIN IMMEDIATE` and busy_timeout serialise writers.
 */
export class SqliteStore implements Store {
  readonly kind = "sqlite" as const;
  readonly #db: DatabaseSync;
  /**
   * A second connection for writes whose loss on power failure is harmless (rate-limit counters,
   * new and extended MCP sessions): synchronous=NORMAL, so they do not wait for a disk flush on
   * the hot path of every MCP call. In WAL mode they stay atomic and crash-safe for the process.
   */
  readonly #light: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  readonly #lightStatements = new Map<string, StatementSync>();

  constructor(options: SqliteOptions) {
    if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
    this.#db = new DatabaseSync(options.path);
    const db = this.#db;
    db.exec(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(`PRAGMA synchronous = ${options.synchronous ?? "FULL"}`);
    db.exec("PRAGMA foreign_keys = ON");
    db.function(
      "pensieve_index_text",
      { deterministic: true },
      (userId, text) => indexText(ownerToken(String(userId)), String(text)),
    );
    migrate(db);
    // Statistics from when the store was tiny make the search plan scan instead of look up.
    // On a short side connection: run on this long-lived one, the refresh slowed all its later
    // inserts (about 6,000 instead of 17,000 messages/s by 50,000 messages in bench:import), even
    // with every statistic deleted after it; the cause inside SQLite was not pinned down.
    if (options.path !== ":memory:") {
      const side = new DatabaseSync(options.path);
      side.exec(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
      refreshStatistics(side, { all: true });
      side.close();
      // This connection read the statistics before they were refreshed: read them again.
      db.exec("ANALYZE sqlite_schema");
    }
    if (options.path === ":memory:") {
      this.#light = db;
    } else {
      this.#light = new DatabaseSync(options.path);
      this.#light.exec(`PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
      this.#light.exec("PRAGMA synchronous = NORMAL");
      this.#light.exec("PRAGMA foreign_keys = ON");
    }
  }

  #lightGet(sql: string, ...params: SQLInputValue[]): Row | undefined {
    let statement = this.#lightStatements.get(sql);
    if (!statement) {
      statement = this.#light.prepare(sql);
      this.#lightStatements.set(sql, statement);
    }
    return statement.get(...params) as Row | undefined;
  }

  #lightRun(sql: string, ...params: SQLInputValue[]): number {
    let statement = this.#lightStatements.get(sql);
    if (!statement) {
      statement = this.#light.prepare(sql);
      this.#lightStatements.set(sql, statement);
    }
    return Number(statement.run(...params).changes);
  }

  #stmt(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.#stmt(sql).get(...params) as Row | undefined;
  }

  #all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.#stmt(sql).all(...params) as Row[];
  }

  #run(sql: string, ...params: SQLInputValue[]): number {
    return Number(this.#stmt(sql).run(...params).changes);
  }

  #transaction<T>(work: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Runs a statement outside the Store contract; for benchmarks and integrity checks. */
  rawQuery(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.#db.prepare(sql).all(...params) as Row[];
  }

  async ping(): Promise<void> {
    this.#get("SELECT 1");
    return;
  }

  async close(): Promise<void> {
    if (this.#light !== this.#db && this.#light.isOpen) {
      this.#lightStatements.clear();
      this.#light.close();
    }
    if (this.#db.isOpen) {
      this.#statements.clear();
      refreshStatistics(this.#db, { all: false });
      this.#db.close();
    }
    return;
  }

  // Accounts

  async createUser(user: User): Promise<void> {
    try {
      this.#run(
        "INSERT INTO users (id, email, password_hash, created_at, tokens_valid_after) VALUES (?, ?, ?, ?, ?)",
        user.id,
        user.email,
        user.passwordHash,
        user.createdAt,
        user.tokensValidAfter,
      );
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new Conflict("An account with this email already exists.");
      }
      throw error;
    }
    return;
  }

  async findUserByEmail(email: string): Promise<User | null> {
    const row = this.#get("SELECT * FROM users WHERE email = ?", email);
    return row ? toUser(row) : null;
  }

  async getUser(userId: string): Promise<User | null> {
    const row = this.#get("SELECT * FROM users WHERE id = ?", userId);
    return row ? toUser(row) : null;
  }

  async setPasswordHash(
    userId: string,
    passwordHash: string,
    tokensValidAfter?: number,
  ): Promise<void> {
    if (tokensValidAfter === undefined) {
      this.#run("UPDATE users SET password_hash = ? WHERE id = ?", passwordHash, userId);
    } else {
      this.#run(
        "UPDATE users SET password_hash = ?, tokens_valid_after = max(tokens_valid_after, ?) WHERE id = ?",
        passwordHash,
        tokensValidAfter,
        userId,
      );
    }
    return;
  }

  async deleteUser(userId: string): Promise<void> {
    // Foreign keys cascade to tokens, conversations and messages; triggers clear the FTS rows.
    this.#transaction(() => this.#run("DELETE FROM users WHERE id = ?", userId));
    return;
  }

  // Personal access tokens

  async createPersonalToken(userId: string, token: NewPersonalToken): Promise<PersonalToken> {
    this.#run(
      "INSERT INTO personal_tokens (id, user_id, name, prefix, secret_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      token.id,
      userId,
      token.name,
      token.prefix,
      token.secretHash,
      token.createdAt,
      token.expiresAt,
    );
    return {
      id: token.id,
      userId,
      name: token.name,
      prefix: token.prefix,
      createdAt: token.createdAt,
      expiresAt: token.expiresAt,
      lastUsedAt: null,
    };
  }

  async listPersonalTokens(userId: string): Promise<PersonalToken[]> {
    const rows = this.#all(
      "SELECT * FROM personal_tokens WHERE user_id = ? ORDER BY created_at DESC, id",
      userId,
    );
    return rows.map(toPersonalToken);
  }

  async renamePersonalToken(
    userId: string,
    tokenId: string,
    name: string,
  ): Promise<PersonalToken | null> {
    const row = this.#get(
      "UPDATE personal_tokens SET name = ? WHERE id = ? AND user_id = ? RETURNING *",
      name,
      tokenId,
      userId,
    );
    return row ? toPersonalToken(row) : null;
  }

  async deletePersonalToken(userId: string, tokenId: string): Promise<boolean> {
    const changes = this.#run(
      "DELETE FROM personal_tokens WHERE id = ? AND user_id = ?",
      tokenId,
      userId,
    );
    return changes > 0;
  }

  async findPersonalTokenBySecretHash(secretHash: string): Promise<PersonalToken | null> {
    const row = this.#get("SELECT * FROM personal_tokens WHERE secret_hash = ?", secretHash);
    return row ? toPersonalToken(row) : null;
  }

  async touchPersonalToken(userId: string, tokenId: string, now: number): Promise<void> {
    this.#run(
      "UPDATE personal_tokens SET last_used_at = ? WHERE id = ? AND user_id = ?",
      now,
      tokenId,
      userId,
    );
    return;
  }

  // Revoked access tokens

  async revokeAccessToken(userId: string, jti: string, expiresAt: number): Promise<void> {
    this.#run(
      "INSERT INTO revoked_access_tokens (jti, user_id, expires_at) VALUES (?, ?, ?) ON CONFLICT (jti) DO NOTHING",
      jti,
      userId,
      expiresAt,
    );
    return;
  }

  async isAccessTokenRevoked(jti: string): Promise<boolean> {
    return !!this.#get("SELECT 1 FROM revoked_access_tokens WHERE jti = ?", jti);
  }

  // MCP sessions

  async createMcpSession(session: McpSessionRecord): Promise<void> {
    this.#lightRun(
      "INSERT INTO mcp_sessions (id_hash, endpoint, transport, user_id, bound_at, bound_credential, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      session.idHash,
      session.endpoint,
      session.transport,
      session.userId,
      session.boundAt,
      session.boundCredential,
      session.createdAt,
      session.expiresAt,
    );
    return;
  }

  async getMcpSession(idHash: string, now: number): Promise<McpSessionRecord | null> {
    const row = this.#get(
      "SELECT * FROM mcp_sessions WHERE id_hash = ? AND expires_at > ?",
      idHash,
      now,
    );
    return row
      ? {
        idHash: row.id_hash as string,
        endpoint: row.endpoint as McpSessionRecord["endpoint"],
        transport: row.transport as McpSessionRecord["transport"],
        userId: row.user_id as string | null,
        boundAt: row.bound_at as number | null,
        boundCredential: row.bound_credential as string | null,
        createdAt: row.created_at as number,
        expiresAt: row.expires_at as number,
      }
      : null;
  }

  async extendMcpSession(idHash: string, expiresAt: number): Promise<boolean> {
    return this.#lightRun(
      "UPDATE mcp_sessions SET expires_at = ? WHERE id_hash = ?",
      expiresAt,
      idHash,
    ) >
      0;
  }

  async bindMcpSession(
    idHash: string,
    binding: { userId: string; credential: string; now: number; expiresAt: number },
  ): Promise<boolean> {
    return this.#run(
      `UPDATE mcp_sessions SET user_id = ?, bound_at = ?, bound_credential = ?, expires_at = ?
       WHERE id_hash = ? AND expires_at > ?`,
      binding.userId,
      binding.now,
      binding.credential,
      binding.expiresAt,
      idHash,
      binding.now,
    ) > 0;
  }

  async deleteMcpSession(idHash: string): Promise<void> {
    this.#run("DELETE FROM mcp_sessions WHERE id_hash = ?", idHash);
    return;
  }

  // OAuth

  async saveOAuthClient(client: OAuthClient): Promise<void> {
    this.#run(
      `INSERT INTO oauth_clients (id, kind, name, redirect_uris, auth_method, secret_hash, client_uri, created_at, refresh_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name,
         redirect_uris = excluded.redirect_uris, auth_method = excluded.auth_method,
         secret_hash = excluded.secret_hash, client_uri = excluded.client_uri,
         refresh_at = excluded.refresh_at`,
      client.id,
      client.kind,
      client.name,
      JSON.stringify(client.redirectUris),
      client.authMethod,
      client.secretHash,
      client.clientUri,
      client.createdAt,
      client.refreshAt,
    );
    return;
  }

  async getOAuthClient(clientId: string): Promise<OAuthClient | null> {
    const row = this.#get("SELECT * FROM oauth_clients WHERE id = ?", clientId);
    return row ? toOAuthClient(row) : null;
  }

  async createOAuthCode(userId: string, code: OAuthCode): Promise<void> {
    this.#run(
      `INSERT INTO oauth_codes (code_hash, client_id, user_id, redirect_uri, code_challenge, resource, scopes, created_at, expires_at, grant_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
      code.codeHash,
      code.clientId,
      userId,
      code.redirectUri,
      code.codeChallenge,
      code.resource,
      JSON.stringify(code.scopes),
      code.createdAt,
      code.expiresAt,
    );
    return;
  }

  async getOAuthCode(codeHash: string): Promise<OAuthCode | null> {
    const row = this.#get("SELECT * FROM oauth_codes WHERE code_hash = ?", codeHash);
    return row ? toOAuthCode(row) : null;
  }

  async redeemOAuthCode(
    codeHash: string,
    grant: OAuthGrant,
    refresh: OAuthRefreshToken,
  ): Promise<string | null> {
    return this.#transaction(() => {
      const row = this.#get("SELECT grant_id FROM oauth_codes WHERE code_hash = ?", codeHash);
      if (!row) throw new Error("redeemOAuthCode: unknown code");
      if (row.grant_id !== null) return row.grant_id as string;
      this.#run(
        `INSERT INTO oauth_grants (id, user_id, client_id, scopes, resource, created_at, last_used_at, expires_at, revoked_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
        grant.id,
        grant.userId,
        grant.clientId,
        JSON.stringify(grant.scopes),
        grant.resource,
        grant.createdAt,
        grant.lastUsedAt,
        grant.expiresAt,
      );
      this.#insertRefreshToken(refresh);
      this.#run("UPDATE oauth_codes SET grant_id = ? WHERE code_hash = ?", grant.id, codeHash);
      return null;
    });
  }

  #insertRefreshToken(token: OAuthRefreshToken): void {
    this.#run(
      "INSERT INTO oauth_refresh_tokens (token_hash, grant_id, created_at, used_at, replaced_by) VALUES (?, ?, ?, NULL, NULL)",
      token.tokenHash,
      token.grantId,
      token.createdAt,
    );
  }

  async getOAuthGrant(grantId: string): Promise<OAuthGrant | null> {
    const row = this.#get("SELECT * FROM oauth_grants WHERE id = ?", grantId);
    return row ? toOAuthGrant(row) : null;
  }

  async touchOAuthGrant(userId: string, grantId: string, now: number): Promise<void> {
    this.#lightRun(
      "UPDATE oauth_grants SET last_used_at = ? WHERE id = ? AND user_id = ?",
      now,
      grantId,
      userId,
    );
    return;
  }

  async listOAuthGrants(userId: string, now: number): Promise<OAuthGrant[]> {
    return this.#all(
      `SELECT * FROM oauth_grants WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
       ORDER BY created_at DESC, id`,
      userId,
      now,
    ).map(toOAuthGrant);
  }

  async revokeOAuthGrant(userId: string, grantId: string, now: number): Promise<boolean> {
    return this.#transaction(() => {
      const changed = this.#run(
        "UPDATE oauth_grants SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND user_id = ?",
        now,
        grantId,
        userId,
      );
      if (changed > 0) this.#run("DELETE FROM oauth_refresh_tokens WHERE grant_id = ?", grantId);
      return changed > 0;
    });
  }

  async getOAuthRefreshToken(tokenHash: string): Promise<OAuthRefreshToken | null> {
    const row = this.#get("SELECT * FROM oauth_refresh_tokens WHERE token_hash = ?", tokenHash);
    return row ? toOAuthRefreshToken(row) : null;
  }

  async rotateOAuthRefreshToken(
    oldHash: string,
    next: OAuthRefreshToken,
    now: number,
    graceMs: number,
  ): Promise<"rotated" | "retried" | "reused"> {
    return this.#transaction(() => {
      const row = this.#get("SELECT * FROM oauth_refresh_tokens WHERE token_hash = ?", oldHash);
      if (!row) return "reused";
      const old = toOAuthRefreshToken(row);
      if (old.usedAt === null) {
        this.#insertRefreshToken(next);
        this.#run(
          "UPDATE oauth_refresh_tokens SET used_at = ?, replaced_by = ? WHERE token_hash = ?",
          now,
          next.tokenHash,
          oldHash,
        );
        return "rotated";
      }
      const successor = old.replacedBy === next.tokenHash
        ? this.#get("SELECT used_at FROM oauth_refresh_tokens WHERE token_hash = ?", next.tokenHash)
        : undefined;
      return now - old.usedAt <= graceMs && successor !== undefined && successor.used_at === null
        ? "retried"
        : "reused";
    });
  }

  // Import jobs

  async createImportJob(userId: string, job: ImportJob): Promise<void> {
    this.#run(
      "INSERT INTO import_jobs (id, user_id, status, summary, error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      job.id,
      userId,
      job.status,
      JSON.stringify(job.summary),
      job.error,
      job.createdAt,
      job.updatedAt,
    );
    return;
  }

  async updateImportJob(userId: string, job: ImportJob): Promise<boolean> {
    return this.#run(
      "UPDATE import_jobs SET status = ?, summary = ?, error = ?, updated_at = ? WHERE id = ? AND user_id = ?",
      job.status,
      JSON.stringify(job.summary),
      job.error,
      job.updatedAt,
      job.id,
      userId,
    ) > 0;
  }

  async getImportJob(userId: string, jobId: string): Promise<ImportJob | null> {
    const row = this.#get("SELECT * FROM import_jobs WHERE id = ? AND user_id = ?", jobId, userId);
    return row
      ? {
        id: row.id as string,
        status: row.status as ImportJob["status"],
        summary: JSON.parse(row.summary as string),
        error: row.error as string | null,
        createdAt: row.created_at as number,
        updatedAt: row.updated_at as number,
      }
      : null;
  }

  // Rate limits

  async hitRateLimit(key: string, windowMs: number, now: number): Promise<RateCount> {
    const row = this.#lightGet(
      `INSERT INTO rate_limits (key, count, reset_at) VALUES (?1, 1, ?2 + ?3)
       ON CONFLICT (key) DO UPDATE SET
         count = CASE WHEN reset_at <= ?2 THEN 1 ELSE count + 1 END,
         reset_at = CASE WHEN reset_at <= ?2 THEN ?2 + ?3 ELSE reset_at END
       RETURNING count, reset_at`,
      key,
      now,
      windowMs,
    )!;
    return { count: row.count as number, resetAt: row.reset_at as number };
  }

  async peekRateLimit(key: string, now: number): Promise<RateCount | null> {
    const row = this.#get(
      "SELECT count, reset_at FROM rate_limits WHERE key = ? AND reset_at > ?",
      key,
      now,
    );
    return row ? { count: row.count as number, resetAt: row.reset_at as number } : null;
  }

  async clearRateLimit(key: string): Promise<void> {
    this.#lightRun("DELETE FROM rate_limits WHERE key = ?", key);
    return;
  }

  async purgeExpired(now: number): Promise<void> {
    this.#transaction(() => {
      this.#run("DELETE FROM rate_limits WHERE reset_at <= ?", now);
      this.#run("DELETE FROM revoked_access_tokens WHERE expires_at <= ?", now);
      this.#run("DELETE FROM mcp_sessions WHERE expires_at <= ?", now);
      this.#run("DELETE FROM oauth_codes WHERE expires_at <= ?", now);
      this.#run("DELETE FROM oauth_grants WHERE expires_at <= ?", now);
    });
    return;
  }

  // Conversations

  #conversationRow(userId: string, conversationId: string): Row | undefined {
    return this.#get(
      "SELECT rowid, * FROM conversations WHERE id = ? AND user_id = ?",
      conversationId,
      userId,
    );
  }

  /** Inserts messages after `start`; a repeated client id is reported, not stored twice. */
  #insertMessages(
    userId: string,
    conversationRowid: number,
    conversationId: string,
    start: number,
    messages: NewMessage[],
    now: number,
  ): AppendedMessage[] {
    let seq = start;
    return messages.map((message) => {
      if (message.clientMessageId !== undefined) {
        const existing = this.#get(
          `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.conversation_rowid = ? AND m.client_message_id = ?`,
          conversationRowid,
          message.clientMessageId,
        );
        if (existing) {
          const stored = toMessage(existing, conversationId);
          if (stored.role !== message.role || stored.content !== message.content) {
            throw new Conflict(
              `client_message_id "${message.clientMessageId}" is already used by a different message in this conversation.`,
            );
          }
          return { ...stored, duplicate: true };
        }
      }
      const stored: Message = {
        conversationId,
        seq: seq++,
        role: message.role,
        content: message.content,
        createdAt: message.createdAt ?? now,
        clientMessageId: message.clientMessageId ?? null,
        metadata: message.metadata ?? null,
      };
      this.#run(
        "INSERT INTO messages (conversation_rowid, user_id, seq, role, content, created_at, client_message_id, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        conversationRowid,
        userId,
        stored.seq,
        stored.role,
        stored.content,
        stored.createdAt,
        stored.clientMessageId,
        stored.metadata === null ? null : JSON.stringify(stored.metadata),
      );
      return { ...stored, duplicate: false };
    });
  }

  async createConversation(userId: string, input: NewConversation): Promise<Conversation> {
    return this.#transaction(() => {
      let row: Row;
      try {
        row = this.#get(
          `INSERT INTO conversations (id, user_id, title, tags, source, metadata, message_count, version, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, 0, 1, ?, ?) RETURNING rowid`,
          input.id,
          userId,
          input.title,
          JSON.stringify(input.tags),
          input.source,
          JSON.stringify(input.metadata),
          input.createdAt ?? input.now,
          input.now,
        )!;
      } catch (error) {
        if (isUniqueViolation(error)) throw new Conflict("A conversation with this id exists.");
        throw error;
      }
      const rowid = row.rowid as number;
      const stored = this.#insertMessages(userId, rowid, input.id, 0, input.messages, input.now);
      const count = stored.filter((m) => !m.duplicate).length;
      this.#run("UPDATE conversations SET message_count = ? WHERE rowid = ?", count, rowid);
      return toConversation(this.#conversationRow(userId, input.id)!);
    });
  }

  async getConversation(userId: string, conversationId: string): Promise<Conversation | null> {
    const row = this.#conversationRow(userId, conversationId);
    return row ? toConversation(row) : null;
  }

  async listMessages(
    userId: string,
    conversationId: string,
    range: MessageRange,
  ): Promise<Message[]> {
    const head = this.#conversationRow(userId, conversationId);
    if (!head) return [];
    const after = range.afterSeq ?? -1;
    const rows = range.last
      ? this.#all(
        `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.conversation_rowid = ? AND m.seq > ? ORDER BY m.seq DESC LIMIT ?`,
        head.rowid as number,
        after,
        range.limit,
      ).reverse()
      : this.#all(
        `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.conversation_rowid = ? AND m.seq > ? ORDER BY m.seq LIMIT ?`,
        head.rowid as number,
        after,
        range.limit,
      );
    return rows.map((row) => toMessage(row, conversationId));
  }

  async appendMessages(
    userId: string,
    conversationId: string,
    messages: NewMessage[],
    now: number,
  ): Promise<{ conversation: Conversation; messages: AppendedMessage[] } | null> {
    return this.#transaction(() => {
      const head = this.#conversationRow(userId, conversationId);
      if (!head) return null;
      const rowid = head.rowid as number;
      const stored = this.#insertMessages(
        userId,
        rowid,
        conversationId,
        head.message_count as number,
        messages,
        now,
      );
      const added = stored.filter((m) => !m.duplicate).length;
      if (added > 0) {
        this.#run(
          "UPDATE conversations SET message_count = message_count + ?, version = version + 1, updated_at = max(updated_at, ?) WHERE rowid = ?",
          added,
          now,
          rowid,
        );
      }
      return {
        conversation: toConversation(this.#conversationRow(userId, conversationId)!),
        messages: stored,
      };
    });
  }

  async updateConversation(
    userId: string,
    conversationId: string,
    patch: ConversationPatch,
    now: number,
  ): Promise<Conversation | null> {
    return this.#transaction(() => {
      const changes = this.#run(
        `UPDATE conversations SET
           title = coalesce(?, title), tags = coalesce(?, tags), metadata = coalesce(?, metadata),
           version = version + 1, updated_at = max(updated_at, ?)
         WHERE id = ? AND user_id = ?`,
        patch.title ?? null,
        patch.tags === undefined ? null : JSON.stringify(patch.tags),
        patch.metadata === undefined ? null : JSON.stringify(patch.metadata),
        now,
        conversationId,
        userId,
      );
      if (changes === 0) return null;
      return toConversation(this.#conversationRow(userId, conversationId)!);
    });
  }

  async deleteConversation(userId: string, conversationId: string): Promise<boolean> {
    const deleted = this.#transaction(() =>
      this.#run("DELETE FROM conversations WHERE id = ? AND user_id = ?", conversationId, userId)
    );
    return deleted > 0;
  }

  async listConversations(
    userId: string,
    options: { filter: ConversationFilter; after?: ListCursor; limit: number },
  ): Promise<Conversation[]> {
    const where = ["c.user_id = ?"];
    const params: SQLInputValue[] = [userId];
    addFilter(options.filter, where, params);
    if (options.after) {
      // A row value, so the index is entered at the cursor: the equivalent OR made SQLite gather
      // every older conversation and sort them, page 2 of 100,000 as slow as reading them all.
      where.push("(c.updated_at, c.id) < (?, ?)");
      params.push(options.after.updatedAt, options.after.id);
    }
    const rows = this.#all(
      `SELECT c.* FROM conversations c WHERE ${
        where.join(" AND ")
      } ORDER BY c.updated_at DESC, c.id DESC LIMIT ?`,
      ...params,
      options.limit,
    );
    return rows.map(toConversation);
  }

  async searchConversations(
    userId: string,
    options: { query: SearchQuery; filter: ConversationFilter; offset: number; limit: number },
  ): Promise<SearchHit[]> {
    const match = matchExpression(ownerToken(userId), options.query);
    if (match === null) return [];
    const where = ["c.user_id = ?"];
    const params: SQLInputValue[] = [userId];
    addFilter(options.filter, where, params);
    // The bare column `mrow` takes its value from the row holding min(score): SQLite's rule for
    // a lone min() aggregate. That row is the conversation's best message (NULL: the title).
    // CROSS JOIN keeps `best` (the FTS hits, already only this user's) as the outer loop: with
    // statistics from when the table was small, the planner otherwise started from the user's
    // conversations and scanned every hit for each one (45 ms instead of 1.5 ms for 126 hits).
    // The page is chosen before the best messages are read: joined first, every matching
    // conversation's message text was read and sorted to keep twenty (a word in 1,000 of 100,000
    // messages: 5.9 ms, now 4.3 ms; raw ranking 1.7 ms).
    const rows = this.#all(
      `WITH hits AS (
         SELECT m.conversation_rowid AS crow, bm25(messages_fts) AS score, m.rowid AS mrow
         FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid
         WHERE messages_fts MATCH ?
         UNION ALL
         SELECT titles_fts.rowid, bm25(titles_fts) * ${TITLE_WEIGHT}, NULL
         FROM titles_fts WHERE titles_fts MATCH ?
       ), best AS (
         SELECT crow, min(score) AS score, mrow FROM hits GROUP BY crow
       ), page AS (
         SELECT best.crow, best.score, best.mrow, c.id AS cid
         FROM best CROSS JOIN conversations c ON c.rowid = best.crow
         WHERE ${where.join(" AND ")}
         ORDER BY best.score, c.id LIMIT ? OFFSET ?
       )
       SELECT c.*, page.score AS score, page.mrow AS mrow, ${MESSAGE_COLUMNS}
       FROM page CROSS JOIN conversations c ON c.rowid = page.crow
       LEFT JOIN messages m ON m.rowid = page.mrow
       ORDER BY page.score, page.cid`,
      match,
      match,
      ...params,
      options.limit,
      options.offset,
    );
    return rows.map((row) => {
      const conversation = toConversation(row);
      return {
        conversation,
        message: row.mrow == null ? null : toMessage(row, conversation.id),
        score: row.score as number,
      };
    });
  }
}

function addFilter(filter: ConversationFilter, where: string[], params: SQLInputValue[]): void {
  if (filter.source !== undefined) {
    where.push("c.source = ?");
    params.push(filter.source);
  }
  if (filter.tag !== undefined) {
    where.push("EXISTS (SELECT 1 FROM json_each(c.tags) WHERE json_each.value = ?)");
    params.push(filter.tag);
  }
  if (filter.updatedFrom !== undefined) {
    where.push("c.updated_at >= ?");
    params.push(filter.updatedFrom);
  }
  if (filter.updatedTo !== undefined) {
    where.push("c.updated_at < ?");
    params.push(filter.updatedTo);
  }
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error && /UNIQUE constraint failed/.test(error.message);
}
