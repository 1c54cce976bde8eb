import type {
  Conversation,
  Message,
  OAuthClient,
  OAuthCode,
  OAuthGrant,
  OAuthRefreshToken,
  PersonalToken,
  Role,
  User,
} from "../../core/types.ts";

/** A row as node:sqlite returns it. */
export type Row = Record<string, unknown>;

export function toUser(row: Row): User {
  return {
    id: row.id as string,
    email: row.email as string,
    passwordHash: row.password_hash as string,
    createdAt: row.created_at as number,
    tokensValidAfter: row.tokens_valid_after as number,
  };
}

export function toConversation(row: Row): Conversation {
  return {
    id: row.id as string,
    userId: row.user_id as string,
    title: row.title as string,
    tags: JSON.parse(row.tags as string),
    source: row.source as string,
    metadata: JSON.parse(row.metadata as string),
    messageCount: row.message_count as number,
    version: row.version as number,
    createdAt: row.created_at as number,
    updatedAt: row.updated_at as number,
  };
}

/** Messages are read with columns prefixed `m_` so they can share a row with a conversation. */
export function toMessage(row: Row, conversationId: string): Message {
  return {
    conversationId,
    seq: row.m_seq as number,
    role: row.m_role as Role,
    content: row.m_content as string,
    createdAt: row.m_created_at as number,
    clientMessageId: (row.m_client_message_id as string | null) ?? null,
    metadata: row.m_metadata == null ? null : JSON.parse(row.m_metadata as string),
  };
}

export const MESSAGE_COLUMNS = "m.seq AS m_seq, m.role AS m_role, m.content AS m_content, " +
  "m.created_at AS m_created_at, m.client_message_id AS m_client_message_id, " +
  "m.metadata AS m_metadata";

export function toPersonalToken(row: Row): PersonalToken {
  return {
    id: row.id as string,
    userId: row.user_id as string,
    name: row.name as string,
    prefix: row.prefix as string,
    createdAt: row.created_at as number,
    expiresAt: (row.expires_at as number | null) ?? null,
    lastUsedAt: (row.last_used_at as number | null) ?? null,
  };
}

export function toOAuthClient(row: Row): OAuthClient {
  return {
    id: row.id as string,
    kind: row.kind as OAuthClient["kind"],
    name: row.name as string,
    redirectUris: JSON.parse(row.redirect_uris as string),
    authMethod: row.auth_method as OAuthClient["authMethod"],
    secretHash: row.secret_hash as string | null,
    clientUri: row.client_uri as string | null,
    createdAt: row.created_at as number,
    refreshAt: row.refresh_at as number | null,
  };
}

export function toOAuthCode(row: Row): OAuthCode {
  return {
    codeHash: row.code_hash as string,
    clientId: row.client_id as string,
    userId: row.user_id as string,
    redirectUri: row.redirect_uri as string,
    codeChallenge: row.code_challenge as string,
    resource: row.resource as string,
    scopes: JSON.parse(row.scopes as string),
    createdAt: row.created_at as number,
    expiresAt: row.expires_at as number,
    grantId: row.grant_id as string | null,
  };
}

export function toOAuthGrant(row: Row): OAuthGrant {
  return {
    id: row.id as string,
    userId: row.user_id as string,
    clientId: row.client_id as string,
    scopes: JSON.parse(row.scopes as string),
    resource: row.resource as string,
    createdAt: row.created_at as number,
    lastUsedAt: row.last_used_at as number,
    expiresAt: row.expires_at as number,
    revokedAt: row.revoked_at as number | null,
  };
}

export function toOAuthRefreshToken(row: Row): OAuthRefreshToken {
  return {
    tokenHash: row.token_hash as string,
    grantId: row.grant_id as string,
    createdAt: row.created_at as number,
    usedAt: row.used_at as number | null,
    replacedBy: row.replaced_by as string | null,
  };
}
