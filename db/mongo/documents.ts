import type { ObjectId } from "mongodb";
import type {
  Conversation,
  ImportJob,
  Message,
  OAuthClient,
  OAuthCode,
  OAuthGrant,
  OAuthRefreshToken,
  PersonalToken,
  Role,
  User,
} from "../../core/types.ts";
import type { McpSessionRecord } from "../store.ts";

/**
 * The documents the MongoDB store keeps, one collection each, and how they map to records.
 *
 * Free-form JSON (conversation and message metadata, import summaries) is stored as a JSON
 * string, as the SQLite store stores it: user-supplied keys may start with "$" or hold dots,
 * which MongoDB and Cosmos DB treat specially, and the string round-trips exactly.
 */

/** Fields that let the database itself drop a record once it has expired (see expiry.ts). */
export interface ExpiryFields {
  /** MongoDB, Atlas, Cosmos DB vCore: a TTL index on this date. */
  expire_at?: Date;
  /** Cosmos DB RU: seconds after the last write, read by its `_ts` TTL index. */
  ttl?: number;
}

export interface UserDoc {
  _id: string;
  email: string;
  password_hash: string;
  created_at: number;
  tokens_valid_after: number;
}

export interface PersonalTokenDoc {
  _id: string;
  user_id: string;
  name: string;
  prefix: string;
  secret_hash: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
}

export interface RevokedTokenDoc extends ExpiryFields {
  _id: string;
  user_id: string;
  expires_at: number;
}

export interface RateLimitDoc extends ExpiryFields {
  _id: string;
  count: number;
  reset_at: number;
}

export interface McpSessionDoc extends ExpiryFields {
  _id: string;
  endpoint: McpSessionRecord["endpoint"];
  transport: McpSessionRecord["transport"];
  user_id: string | null;
  bound_at: number | null;
  bound_credential: string | null;
  created_at: number;
  expires_at: number;
}

export interface OAuthClientDoc {
  _id: string;
  kind: OAuthClient["kind"];
  name: string;
  redirect_uris: string[];
  auth_method: OAuthClient["authMethod"];
  secret_hash: string | null;
  client_uri: string | null;
  created_at: number;
  refresh_at: number | null;
}

export interface OAuthCodeDoc extends ExpiryFields {
  _id: string;
  client_id: string;
  user_id: string;
  redirect_uri: string;
  code_challenge: string;
  resource: string;
  scopes: string[];
  created_at: number;
  expires_at: number;
  grant_id: string | null;
}

export interface OAuthGrantDoc extends ExpiryFields {
  _id: string;
  /** Stored, but its code not yet claimed (see redeemOAuthCode): not a grant yet. */
  pending?: true;
  user_id: string;
  client_id: string;
  scopes: string[];
  resource: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  revoked_at: number | null;
}

export interface RefreshTokenDoc extends ExpiryFields {
  _id: string;
  grant_id: string;
  /** The grant's user, so an account's tokens go with it without a join. */
  user_id: string;
  created_at: number;
  used_at: number | null;
  replaced_by: string | null;
  /** The grant's expiry: the token is purged with its grant. */
  grant_expires_at: number;
}

export interface ImportJobDoc {
  _id: string;
  user_id: string;
  status: ImportJob["status"];
  summary_json: string;
  error: string | null;
  created_at: number;
  updated_at: number;
}

export interface ConversationDoc {
  _id: string;
  user_id: string;
  title: string;
  tags: string[];
  source: string;
  metadata_json: string;
  /** The messages committed: seqs 0 … message_count - 1, the only ones readers see. */
  message_count: number;
  /** The seqs handed out: message_count, or past it while an allocation writes (append.ts). */
  next_seq: number;
  /** The allocation writing seqs message_count … next_seq - 1, or null when none is. */
  append_id: string | null;
  /** Wall-clock ms until which that allocation may still be writing its messages. */
  append_lease_until: number;
  /** The updated time the outstanding allocation will set when it commits. */
  append_updated_at?: number;
  /** Set while the conversation is being created: invisible to every read until it is done. */
  creating?: true;
  /** This head's own id: messages of an earlier conversation under the same id are not its. */
  incarnation: string;
  version: number;
  created_at: number;
  updated_at: number;
  /** The title's search tokens (search_tokens.ts). */
  search_text: string;
  search_chars: string;
}

export interface MessageDoc {
  _id?: ObjectId;
  conversation_id: string;
  user_id: string;
  seq: number;
  role: Role;
  content: string;
  created_at: number;
  client_message_id: string | null;
  /**
   * Unique per conversation: `c:` + the client message id, or `s:` + the seq when there is none.
   * Cosmos DB's RU API has neither sparse nor partial indexes, and a unique index counts a
   * missing field as null, so a unique index on the bare client id would allow one message
   * without a client id per conversation.
   */
  client_key: string;
  metadata_json: string | null;
  search_text: string;
  search_chars: string;
  /** The allocation that wrote this message, so a repeated insert can tell its own rows. */
  append_id: string;
  /** The incarnation of the conversation head it belongs to. */
  incarnation: string;
}

/** The unique key of a message's client id, or of its seq when it has none. */
export function clientKey(clientMessageId: string | null, seq: number): string {
  return clientMessageId === null ? `s:${seq}` : `c:${clientMessageId}`;
}

export function toUser(doc: UserDoc): User {
  return {
    id: doc._id,
    email: doc.email,
    passwordHash: doc.password_hash,
    createdAt: doc.created_at,
    tokensValidAfter: doc.tokens_valid_after,
  };
}

export function toPersonalToken(doc: PersonalTokenDoc): PersonalToken {
  return {
    id: doc._id,
    userId: doc.user_id,
    name: doc.name,
    prefix: doc.prefix,
    createdAt: doc.created_at,
    expiresAt: doc.expires_at ?? null,
    lastUsedAt: doc.last_used_at ?? null,
  };
}

export function toMcpSession(doc: McpSessionDoc): McpSessionRecord {
  return {
    idHash: doc._id,
    endpoint: doc.endpoint,
    transport: doc.transport,
    userId: doc.user_id ?? null,
    boundAt: doc.bound_at ?? null,
    boundCredential: doc.bound_credential ?? null,
    createdAt: doc.created_at,
    expiresAt: doc.expires_at,
  };
}

export function toOAuthClient(doc: OAuthClientDoc): OAuthClient {
  return {
    id: doc._id,
    kind: doc.kind,
    name: doc.name,
    redirectUris: [...doc.redirect_uris],
    authMethod: doc.auth_method,
    secretHash: doc.secret_hash ?? null,
    clientUri: doc.client_uri ?? null,
    createdAt: doc.created_at,
    refreshAt: doc.refresh_at ?? null,
  };
}

export function toOAuthCode(doc: OAuthCodeDoc): OAuthCode {
  return {
    codeHash: doc._id,
    clientId: doc.client_id,
    userId: doc.user_id,
    redirectUri: doc.redirect_uri,
    codeChallenge: doc.code_challenge,
    resource: doc.resource,
    scopes: [...doc.scopes],
    createdAt: doc.created_at,
    expiresAt: doc.expires_at,
    grantId: doc.grant_id ?? null,
  };
}

export function toOAuthGrant(doc: OAuthGrantDoc): OAuthGrant {
  return {
    id: doc._id,
    userId: doc.user_id,
    clientId: doc.client_id,
    scopes: [...doc.scopes],
    resource: doc.resource,
    createdAt: doc.created_at,
    lastUsedAt: doc.last_used_at,
    expiresAt: doc.expires_at,
    revokedAt: doc.revoked_at ?? null,
  };
}

export function toOAuthRefreshToken(doc: RefreshTokenDoc): OAuthRefreshToken {
  return {
    tokenHash: doc._id,
    grantId: doc.grant_id,
    createdAt: doc.created_at,
    usedAt: doc.used_at ?? null,
    replacedBy: doc.replaced_by ?? null,
  };
}

export function toImportJob(doc: ImportJobDoc): ImportJob {
  return {
    id: doc._id,
    status: doc.status,
    summary: JSON.parse(doc.summary_json),
    error: doc.error ?? null,
    createdAt: doc.created_at,
    updatedAt: doc.updated_at,
  };
}

export function toConversation(doc: ConversationDoc): Conversation {
  return {
    id: doc._id,
    userId: doc.user_id,
    title: doc.title,
    tags: [...doc.tags],
    source: doc.source,
    metadata: JSON.parse(doc.metadata_json),
    messageCount: doc.message_count,
    version: doc.version,
    createdAt: doc.created_at,
    updatedAt: doc.updated_at,
  };
}

export function toMessage(doc: MessageDoc): Message {
  return {
    conversationId: doc.conversation_id,
    seq: doc.seq,
    role: doc.role,
    content: doc.content,
    createdAt: doc.created_at,
    clientMessageId: doc.client_message_id ?? null,
    metadata: doc.metadata_json == null ? null : JSON.parse(doc.metadata_json),
  };
}

/** Fields a read of messages or heads leaves on the server: only search uses them. */
export const WITHOUT_SEARCH_FIELDS = { search_text: 0, search_chars: 0 } as const;

/** The part of a query that hides a conversation still being created (see append.ts). */
export const VISIBLE = { creating: { $ne: true } } as const;
