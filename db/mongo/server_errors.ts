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
 * ```
 */
export function isTransient(error: unknown): boolean {
  if (!error || typeof error !== "object") return false;
  if (throttling(error)) return true;
  const record = error as Record<string, unknown>;
  if (typeof record.name === "string" && TRANSIENT_NAMES.has(record.name)) return true;
  const labels = record.errorLabels ?? record.errorLabelSet;
  const list = labels instanceof Set ? [...labels] : Array.isArray(labels) ? labels : [];
  return list.includes("RetryableWriteError") || list.includes("TransientTransactionError");
}
