import type { MongoFlavor } from "./connection.ts";
import type { ExpiryFields } from "./documents.ts";

/**
 * How expired records (rate-limit windows, revoked tokens, MCP sessions, OAuth codes, grants and
 * refresh tokens) leave the database. Reads never trust this: every read filters on the record's
 * own expiry time, and `purgeExpired` deletes what has expired. The database's TTL machinery is
 * the safety net that keeps collections from growing when no instance purges, so it fires only
 * a grace period after the expiry, which also absorbs clock differences between instances.
 *
 * - MongoDB, Atlas and Cosmos DB vCore: a TTL index on `expire_at`, a date.
 * - Cosmos DB RU: TTL indexes are possible only on the system field `_ts` (time of the last
 *   write), with a per-document `ttl` in seconds, so `ttl` is recomputed on every write.
 */
export type ExpiryStyle = "ttl-index" | "cosmos-ttl";

/** The style a server supports. */
export function expiryStyle(flavor: MongoFlavor): ExpiryStyle {
  return flavor === "cosmos-ru" ? "cosmos-ttl" : "ttl-index";
}

/** One hour: long past any clock skew between instances, short enough to keep collections small. */
export const DEFAULT_EXPIRY_GRACE_SECONDS = 3600;

const INT32_MAX = 2_147_483_647;

/**
 * The fields to store with a record that expires at `expiresAt` (epoch ms), written at wall-clock
 * time `wallNow`.
 *
 * @example
 * ```ts
 * expiryFields("cosmos-ttl", 3600, 10_000, 0); // { ttl: 3610 }
 * ```
 */
export function expiryFields(
  style: ExpiryStyle,
  graceSeconds: number,
  expiresAt: number,
  wallNow: number,
): ExpiryFields {
  if (style === "ttl-index") return { expire_at: new Date(expiresAt) };
  const remaining = Math.max(0, Math.ceil((expiresAt - wallNow) / 1000));
  return { ttl: Math.min(INT32_MAX, Math.max(1, remaining + graceSeconds)) };
}

/**
 * The fields to write with an update that leaves the expiry as it is: nothing where the TTL reads
 * a date, the `ttl` again on Cosmos DB RU, whose TTL counts from the last write. `expiresAt` may
 * be an upper bound of the real expiry.
 */
export function restatedExpiry(
  style: ExpiryStyle,
  graceSeconds: number,
  expiresAt: number,
  wallNow: number,
): ExpiryFields {
  return style === "ttl-index" ? {} : expiryFields(style, graceSeconds, expiresAt, wallNow);
}

/**
 * The query for records expired at `now`: by the indexed date where there is one, else by the
 * record's own expiry field (indexed for this on Cosmos DB RU; see indexes.ts).
 *
 * @example
 * ```ts
 * expiredQuery("cosmos-ttl", "reset_at", 5); // { reset_at: { $lte: 5 } }
 * ```
 */
export function expiredQuery(
  style: ExpiryStyle,
  field: string,
  now: number,
): Record<string, { $lte: number | Date }> {
  return style === "ttl-index"
    ? { expire_at: { $lte: new Date(now) } }
    : { [field]: { $lte: now } };
}
