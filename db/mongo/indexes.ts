import type { Db, IndexDirection } from "mongodb";
import type { ExpiryStyle } from "./expiry.ts";

/** Every collection the store keeps. */
export const COLLECTIONS = [
  "users",
  "personal_tokens",
  "revoked_access_tokens",
  "rate_limits",
  "mcp_sessions",
  "oauth_clients",
  "oauth_codes",
  "oauth_grants",
  "oauth_refresh_tokens",
  "import_jobs",
  "conversations",
  "messages",
] as const;

export type CollectionName = typeof COLLECTIONS[number];

/** The collections whose records expire, and the epoch-ms field each expires by. */
export const EXPIRING: Readonly<Partial<Record<CollectionName, string>>> = {
  rate_limits: "reset_at",
  revoked_access_tokens: "expires_at",
  mcp_sessions: "expires_at",
  oauth_codes: "expires_at",
  oauth_grants: "expires_at",
  oauth_refresh_tokens: "grant_expires_at",
};

/** One index to create at start. */
export interface IndexSpec {
  collection: CollectionName;
  key: Record<string, IndexDirection>;
  options: {
    name: string;
    unique?: boolean;
    expireAfterSeconds?: number;
    default_language?: string;
  };
}

const INT32_MAX = 2_147_483_647;

/**
 * The indexes every query of the store relies on: uniqueness that the store's correctness rests
 * on (emails, token hashes, one message per seq and per client message id), the orders listings
 * read in (Cosmos DB refuses to sort on a field without an index), the user id of everything an
 * account owns (so deleting an account is a few indexed deletes), and expiry.
 *
 * @example
 * ```ts
 * indexSpecs("ttl-index", 3600).filter((spec) => spec.options.unique).length; // 4
 * ```
 */
export function indexSpecs(style: ExpiryStyle, graceSeconds: number): IndexSpec[] {
  const specs: IndexSpec[] = [
    { collection: "users", key: { email: 1 }, options: { name: "email_unique", unique: true } },
    {
      collection: "personal_tokens",
      key: { secret_hash: 1 },
      options: { name: "secret_hash_unique", unique: true },
    },
    {
      collection: "personal_tokens",
      key: { user_id: 1, created_at: -1, _id: 1 },
      options: { name: "user_newest" },
    },
    { collection: "revoked_access_tokens", key: { user_id: 1 }, options: { name: "user" } },
    { collection: "mcp_sessions", key: { user_id: 1 }, options: { name: "user" } },
    { collection: "oauth_codes", key: { user_id: 1 }, options: { name: "user" } },
    {
      collection: "oauth_grants",
      key: { user_id: 1, created_at: -1, _id: 1 },
      options: { name: "user_newest" },
    },
    { collection: "oauth_refresh_tokens", key: { grant_id: 1 }, options: { name: "grant" } },
    { collection: "oauth_refresh_tokens", key: { user_id: 1 }, options: { name: "user" } },
    { collection: "import_jobs", key: { user_id: 1 }, options: { name: "user" } },
    {
      collection: "conversations",
      key: { user_id: 1, updated_at: -1, _id: -1 },
      options: { name: "user_updated" },
    },
    {
      collection: "messages",
      key: { conversation_id: 1, seq: 1 },
      options: { name: "conversation_seq_unique", unique: true },
    },
    {
      collection: "messages",
      key: { conversation_id: 1, client_key: 1 },
      options: { name: "conversation_client_key_unique", unique: true },
    },
    { collection: "messages", key: { user_id: 1 }, options: { name: "user" } },
  ];
  for (const [collection, field] of Object.entries(EXPIRING) as [CollectionName, string][]) {
    if (style === "ttl-index") {
      specs.push({
        collection,
        key: { expire_at: 1 },
        options: { name: "expire_at_ttl", expireAfterSeconds: graceSeconds },
      });
    } else {
      // Every document carries its own `ttl`; the collection default only covers a document
      // written without one, which the store never does.
      specs.push({
        collection,
        key: { _ts: 1 },
        options: { name: "ts_ttl", expireAfterSeconds: INT32_MAX },
      });
      specs.push({ collection, key: { [field]: 1 }, options: { name: `${field}_purge` } });
    }
  }
  return specs;
}

/**
 * The `$text` indexes over the search tokens of messages and titles. `default_language: "none"`:
 * the tokens are already folded (search_tokens.ts), and neither stemming nor stop words apply,
 * as in the SQLite index. With the user id as a prefix, a `$text` query reads only the
 * searcher's own entries; a server that cannot build that compound index gets the plain one.
 */
export function textIndexSpecs(withUserPrefix: boolean): IndexSpec[] {
  const key: Record<string, IndexDirection> = withUserPrefix
    ? { user_id: 1, search_text: "text", search_chars: "text" }
    : { search_text: "text", search_chars: "text" };
  return (["messages", "conversations"] as const).map((collection) => ({
    collection,
    key,
    options: { name: "search_text", default_language: "none" },
  }));
}

/** An Atlas Search index: the name `$search` uses, and its mapping. */
export interface AtlasIndexSpec {
  collection: "messages" | "conversations";
  name: string;
  definition: Record<string, unknown>;
}

/**
 * Atlas Search indexes over the same tokens. The whitespace analyzer keeps each stored token as
 * it is (they are folded already); `token` fields allow the exact user and conversation filters.
 */
export function atlasIndexSpecs(): AtlasIndexSpec[] {
  const definition = {
    mappings: {
      dynamic: false,
      fields: {
        user_id: { type: "token" },
        conversation_id: { type: "token" },
        search_text: {
          type: "string",
          analyzer: "lucene.whitespace",
          searchAnalyzer: "lucene.whitespace",
        },
      },
    },
  };
  return [
    { collection: "messages", name: "pensieve_messages", definition },
    { collection: "conversations", name: "pensieve_titles", definition },
  ];
}

/** The server's "an index of this name exists with other options" codes. */
const INDEX_OPTIONS_CONFLICT = new Set([85, 86]);

/**
 * Creates the indexes that do not exist yet. Those that do (by name) are not created again: Cosmos
 * DB's RU API builds a unique index only on an empty collection, and whether it answers a repeated
 * request for an existing one with success is not something to stake every restart on. Where the
 * existing indexes cannot be listed, every spec is sent (creating an existing index is a no-op on
 * MongoDB). An existing expiry index with another grace period is kept (with a warning): changing
 * it needs a `collMod` an operator should choose to run.
 */
export async function createIndexes(
  db: Db,
  specs: IndexSpec[],
  warn: (message: string) => void,
): Promise<void> {
  const existing = new Map<string, Set<string> | null>();
  for (const spec of specs) {
    if (!existing.has(spec.collection)) {
      existing.set(spec.collection, await indexNames(db, spec.collection));
    }
    if (existing.get(spec.collection)?.has(spec.options.name)) continue;
    try {
      await db.collection(spec.collection).createIndex(spec.key, spec.options);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (
        spec.options.expireAfterSeconds !== undefined && typeof code === "number" &&
        INDEX_OPTIONS_CONFLICT.has(code)
      ) {
        warn(`index ${spec.collection}.${spec.options.name} exists with other options; kept`);
        continue;
      }
      throw error;
    }
  }
}

/** The names of a collection's indexes: empty when it does not exist, null when unknown. */
async function indexNames(db: Db, collection: string): Promise<Set<string> | null> {
  try {
    const indexes = await db.collection(collection).listIndexes().toArray();
    return new Set(indexes.map((index) => String(index.name)));
  } catch (error) {
    // NamespaceNotFound: nothing exists yet.
    if ((error as { code?: unknown }).code === 26) return new Set();
    return null;
  }
}
