import { PensieveError, TooLarge, Unavailable } from "../../core/errors.ts";
import { throttling } from "./retry.ts";

/**
 * What a driver error means for the store. Checked by shape (`code`, `errorLabels`, `name`) so
 * that errors of a bulk write, and errors from servers that phrase things differently (Cosmos
 * DB), are read the same way.
 */

function writeErrorsOf(error: Record<string, unknown>): Record<string, unknown>[] {
  const list = error.writeErrors;
  const items = Array.isArray(list) ? list : list ? [list] : [];
  return items.filter((item): item is Record<string, unknown> =>
    !!item && typeof item === "object"
  );
}

/**
 * A unique index refused the write (E11000), on the error itself or on a bulk write's errors.
 *
 * @example
 * ```ts
 * isDuplicateKey({ code: 11000 }); // true
 * ```
 */
export function isDuplicateKey(error: unknown): boolean {
  if (!error || typeof error !== "object") return false;
  const record = error as Record<string, unknown>;
  if (record.code === 11000 || record.code === 11001) return true;
  return writeErrorsOf(record).some((item) =>
    item.code === 11000 || (item.err as { code?: unknown } | undefined)?.code === 11000
  );
}

const TRANSIENT_NAMES = new Set([
  "MongoNetworkError",
  "MongoNetworkTimeoutError",
  "MongoServerSelectionError",
  "MongoPoolClearedError",
]);

/**
 * A failure that may pass if the same request is made again: throttling, a lost connection, no
 * primary for a moment. After such a failure a write may or may not have happened.
 *
 * @example
 * ```ts
 * isTransient({ name: "MongoNetworkError", message: "connection reset" }); // true
 * isTransient({ name: "MongoBulkWriteError", errorResponse: { name: "MongoNetworkError" } }); // true
 * ```
 */
export function isTransient(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== "object" || depth > 3) return false;
  if (throttling(error)) return true;
  const record = error as Record<string, unknown>;
  if (typeof record.name === "string" && TRANSIENT_NAMES.has(record.name)) return true;
  const labels = record.errorLabels ?? record.errorLabelSet;
  const list = labels instanceof Set ? [...labels] : Array.isArray(labels) ? labels : [];
  if (list.includes("RetryableWriteError") || list.includes("TransientTransactionError")) {
    return true;
  }
  // The driver wraps a connection lost during insertMany in a MongoBulkWriteError (labelled only
  // "ResetPool"), with the network error as its errorResponse.
  return isTransient(record.errorResponse, depth + 1) || isTransient(record.cause, depth + 1);
}

/** Server codes for a document or request over the size the server accepts. */
const TOO_LARGE_CODES = new Set([10334, 17280, 2]);

/**
 * A document over the server's size limit (16 MB on MongoDB, 2 MB on Cosmos DB RU), refused by
 * the server or by the driver before sending.
 *
 * @example
 * ```ts
 * isTooLarge({ code: 10334, message: "BSONObjectTooLarge" }); // true
 * ```
 */
export function isTooLarge(error: unknown): boolean {
  if (!error || typeof error !== "object") return false;
  const record = error as Record<string, unknown>;
  const text = typeof record.message === "string" ? record.message : "";
  const sized = /too large|larger than the maximum|RequestEntityTooLarge|exceeds? the maximum/i
    .test(text);
  if (typeof record.code === "number" && TOO_LARGE_CODES.has(record.code)) {
    return record.code !== 2 || sized;
  }
  if (sized) return true;
  return writeErrorsOf(record).some((item) => isTooLarge(item.err ?? item));
}

/**
 * What a driver error becomes once the store has done what it can: a database that cannot be
 * reached (or stays throttled) is a 503 with Retry-After, a document over the size limit a 413;
 * anything else is passed on unchanged (an unexpected error: a 500 that shows nothing of it).
 *
 * @example
 * ```ts
 * driverError({ name: "MongoServerSelectionError", message: "…" }) instanceof Unavailable; // true
 * ```
 */
export function driverError(error: unknown): unknown {
  if (error instanceof PensieveError) return error;
  if (isTooOld(error)) {
    return new Error(
      "The database server is too old for Pensieve's MongoDB driver, which needs MongoDB 4.4 or " +
        "newer (Azure Cosmos DB for MongoDB RU: server version 5.0 or newer; vCore: any). " +
        `The driver said: ${(error as Error).message}`,
    );
  }
  if (isTooLarge(error)) {
    return new TooLarge("This is larger than the database accepts in one record.");
  }
  if (isTransient(error)) {
    const advised = throttling(error)?.retryAfterMs ?? 1000;
    return new Unavailable(
      "The database cannot be reached right now; try again shortly.",
      Math.max(1, Math.ceil(advised / 1000)),
    );
  }
  return error;
}

/**
 * The server speaks a wire version older than the driver supports: a setting to change, not an
 * outage to wait out (the driver reports it as a server selection failure).
 *
 * @example
 * ```ts
 * isTooOld({ message: "Server at h:1 reports maximum wire version 8, but this version of the Node.js Driver requires at least 9 (MongoDB 4.4)" }); // true
 * ```
 */
export function isTooOld(error: unknown): boolean {
  if (!error || typeof error !== "object") return false;
  const message = (error as { message?: unknown }).message;
  return typeof message === "string" &&
    /wire version \d+, but this version of .*requires/i.test(message);
}
