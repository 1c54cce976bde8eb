import type { DatabaseSync } from "node:sqlite";

/**
 * Schema versions, applied in order and recorded in `PRAGMA user_version`. Never edit a shipped
 * step: add a new one.
 */
export const migrations: readonly string[] = [
  // 1: accounts, tokens, conversations, messages, full-text indexes
  `
  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    tokens_valid_after INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE personal_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    last_used_at INTEGER
  ) STRICT;
  CREATE INDEX personal_tokens_by_user ON personal_tokens(user_id, created_at);

  CREATE TABLE revoked_access_tokens (
    jti TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    reset_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE conversations (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    tags TEXT NOT NULL,
    source TEXT NOT NULL,
    metadata TEXT NOT NULL,
    message_count INTEGER NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX conversations_by_user_updated ON conversations(user_id, updated_at DESC, id DESC);

  CREATE TABLE messages (
    rowid INTEGER PRIMARY KEY,
    conversation_rowid INTEGER NOT NULL REFERENCES conversations(rowid) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    client_message_id TEXT,
    metadata TEXT,
    UNIQUE (conversation_rowid, seq)
  ) STRICT;
  CREATE UNIQUE INDEX messages_by_client_id ON messages(conversation_rowid, client_message_id)
    WHERE client_message_id IS NOT NULL;

  CREATE VIRTUAL TABLE messages_fts USING fts5(
    body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
  );
  CREATE VIRTUAL TABLE titles_fts USING fts5(
    body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
  );

  CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, body) VALUES (new.rowid, pensieve_index_text(new.user_id, new.content));
  END;
  CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    DELETE FROM messages_fts WHERE rowid = old.rowid;
  END;
  CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
    DELETE FROM messages_fts WHERE rowid = old.rowid;
    INSERT INTO messages_fts(rowid, body) VALUES (new.rowid, pensieve_index_text(new.user_id, new.content));
  END;
  CREATE TRIGGER titles_fts_insert AFTER INSERT ON conversations BEGIN
    INSERT INTO titles_fts(rowid, body) VALUES (new.rowid, pensieve_index_text(new.user_id, new.title));
  END;
  CREATE TRIGGER titles_fts_delete AFTER DELETE ON conversations BEGIN
    DELETE FROM titles_fts WHERE rowid = old.rowid;
  END;
  CREATE TRIGGER titles_fts_update AFTER UPDATE OF title ON conversations BEGIN
    DELETE FROM titles_fts WHERE rowid = old.rowid;
    INSERT INTO titles_fts(rowid, body) VALUES (new.rowid, pensieve_index_text(new.user_id, new.title));
  END;
  `,
  // 2: MCP sessions (Streamable HTTP and SSE), each possibly bound to a user by in-band login
  `
  CREATE TABLE mcp_sessions (
    id_hash TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL,
    transport TEXT NOT NULL,
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    bound_at INTEGER,
    bound_credential TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX mcp_sessions_by_expiry ON mcp_sessions(expires_at);
  CREATE INDEX mcp_sessions_by_user ON mcp_sessions(user_id);
  `,
  // 3: OAuth clients, codes, grants (consents) and refresh tokens
  `
  CREATE TABLE oauth_clients (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    auth_method TEXT NOT NULL,
    secret_hash TEXT,
    client_uri TEXT,
    created_at INTEGER NOT NULL,
    refresh_at INTEGER
  ) STRICT;

  CREATE TABLE oauth_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    resource TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    grant_id TEXT
  ) STRICT;
  CREATE INDEX oauth_codes_by_expiry ON oauth_codes(expires_at);

  CREATE TABLE oauth_grants (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    resource TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
  ) STRICT;
  CREATE INDEX oauth_grants_by_user ON oauth_grants(user_id, created_at);

  CREATE TABLE oauth_refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    used_at INTEGER,
    replaced_by TEXT
  ) STRICT;
  CREATE INDEX oauth_refresh_tokens_by_grant ON oauth_refresh_tokens(grant_id);
  `,
  // 4: import jobs, so any instance can report on an import another one is running
  `
  CREATE TABLE import_jobs (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    summary TEXT NOT NULL,
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX import_jobs_by_user ON import_jobs(user_id, created_at);
  `,
];

function schemaVersion(db: DatabaseSync): number {
  return (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
}

/**
 * Brings the schema up to the newest version. The version is read again inside each write
 * transaction, so two processes opening one new file do not both apply a step.
 */
export function migrate(db: DatabaseSync): void {
  for (;;) {
    db.exec("BEGIN IMMEDIATE");
    try {
      const current = schemaVersion(db);
      if (current > migrations.length) {
        throw new Error(
          `The database schema (version ${current}) is newer than this Pensieve understands ` +
            `(version ${migrations.length}). Upgrade Pensieve.`,
        );
      }
      if (current === migrations.length) {
        db.exec("COMMIT");
        return;
      }
      db.exec(migrations[current]);
      db.exec(`PRAGMA user_version = ${current + 1}`);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }
}
