/** Domain records shared by every surface and store. Times are epoch milliseconds. */

export type Role = "user" | "assistant" | "system" | "tool";

/** Free-form JSON attached to a conversation or message. */
export type Metadata = Record<string, unknown>;

/** An account. */
export interface User {
  id: string;
  email: string;
  passwordHash: string;
  createdAt: number;
  /** Credentials issued before this instant are no longer accepted. */
  tokensValidAfter: number;
}

/** A conversation head: everything but its messages. */
export interface Conversation {
  id: string;
  userId: string;
  title: string;
  tags: string[];
  source: string;
  metadata: Metadata;
  messageCount: number;
  /** Bumped on every change to the head or its messages. */
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** One stored message. `seq` is 0,1,2… contiguous within its conversation. */
export interface Message {
  conversationId: string;
  seq: number;
  role: Role;
  content: string;
  createdAt: number;
  clientMessageId: string | null;
  metadata: Metadata | null;
}

/** A message as a caller supplies it, before it has a place. */
export interface NewMessage {
  role: Role;
  content: string;
  /** When the message was said, if the caller knows; otherwise the time it is stored. */
  createdAt?: number;
  clientMessageId?: string;
  metadata?: Metadata;
}

/** The outcome of an append for one supplied message. */
export interface AppendedMessage extends Message {
  /** True when a message with this client_message_id was already stored; nothing new was written. */
  duplicate: boolean;
}

/** A personal access token as listed (never its secret). */
export interface PersonalToken {
  id: string;
  userId: string;
  name: string;
  /** The first characters of the token, so a person can tell tokens apart. */
  prefix: string;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
}

/** Filters shared by listing and search. */
export interface ConversationFilter {
  tag?: string;
  source?: string;
  /** Inclusive lower bound on updatedAt. */
  updatedFrom?: number;
  /** Exclusive upper bound on updatedAt. */
  updatedTo?: number;
}

/** Where a listing page resumes: after this (updatedAt, id) in newest-first order. */
export interface ListCursor {
  updatedAt: number;
  id: string;
}

/**
 * A parsed search query, independent of any index syntax: words match as whole words or word
 * prefixes; phrases match as consecutive words. Every term is already NFC-normalised.
 */
export interface SearchQuery {
  terms: SearchTerm[];
}

export interface SearchTerm {
  /** The words of the term; more than one makes a phrase. */
  words: string[];
  /** Whether the last word may match as a prefix. */
  prefix: boolean;
}

/** One conversation that matched a search, with the message that matched best. */
export interface SearchHit {
  conversation: Conversation;
  /** The best-matching message, or null when only the title matched. */
  message: Message | null;
  /** Lower is better; comparable only within one result list. */
  score: number;
}

/** How an OAuth client proves itself at the token endpoint. */
export type ClientAuthMethod = "none" | "client_secret_post" | "client_secret_basic";

/** An OAuth client: registered with us (RFC 7591), or known by its metadata document URL. */
export interface OAuthClient {
  /** The client_id: random for a registered client, the document's https URL otherwise. */
  id: string;
  kind: "registered" | "metadata_document";
  name: string;
  redirectUris: string[];
  authMethod: ClientAuthMethod;
  /** SHA-256 of the secret of a confidential registered client. */
  secretHash: string | null;
  clientUri: string | null;
  createdAt: number;
  /** When a fetched metadata document must be fetched again; null for registered clients. */
  refreshAt: number | null;
}

/** A one-time authorization code, as stored (only its hash). */
export interface OAuthCode {
  codeHash: string;
  clientId: string;
  userId: string;
  redirectUri: string;
  codeChallenge: string;
  resource: string;
  scopes: string[];
  createdAt: number;
  expiresAt: number;
  /** Set on the first redemption: the grant it created. */
  grantId: string | null;
}

/** One user's consent to one client: the family every refresh and access token hangs from. */
export interface OAuthGrant {
  id: string;
  userId: string;
  clientId: string;
  scopes: string[];
  resource: string;
  createdAt: number;
  lastUsedAt: number;
  /** Refresh tokens stop working at this instant, whatever their rotation. */
  expiresAt: number;
  revokedAt: number | null;
}

/** A refresh token as stored: only its hash, and what replaced it when it was used. */
export interface OAuthRefreshToken {
  tokenHash: string;
  grantId: string;
  createdAt: number;
  usedAt: number | null;
  replacedBy: string | null;
}

/** An import of an export file, as its progress is reported. */
export interface ImportJob {
  id: string;
  status: "waiting" | "running" | "done" | "failed";
  /** The import summary so far (counts and skipped conversations). */
  summary: Record<string, unknown>;
  error: string | null;
  createdAt: number;
  updatedAt: number;
}
