import { Unavailable } from "../../core/errors.ts";

/**
 * Throttling: Azure Cosmos DB for MongoDB answers a request over the provisioned request units
 * with error 16500 ("TooManyRequests", HTTP 429) and a message holding `RetryAfterMs=<n>`. Such
 * a request was not carried out ("no changes were made"), so repeating it is safe for every
 * operation, reads and writes alike.
 *
 * Nothing else is retried here: with retryable writes off, a write that failed in flight may or
 * may not have happened, and only the caller knows whether doing it again is safe (the append
 * path checks what landed before it writes again; see store.ts).
 */

/** Cosmos DB's code for "request rate is large". */
export const THROTTLED = 16500;

/** How long to keep trying, in attempts and in total time. */
export interface RetryPolicy {
  maxAttempts: number;
  maxTotalMs: number;
  /** The first back-off, doubled on each attempt. */
  baseDelayMs: number;
  /** No single wait is longer than this. */
  maxDelayMs: number;
}

/** Enough to ride out a burst on a small Cosmos DB account without holding a request forever. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 10,
  maxTotalMs: 10_000,
  baseDelayMs: 25,
  maxDelayMs: 2_000,
};

/** What a failed attempt says about throttling. */
export interface Throttling {
  /** The server's advice, when it gave one. */
  retryAfterMs: number | null;
}

function textOf(error: Record<string, unknown>): string {
  const parts = [error.message, error.errmsg];
  const response = error.errorResponse;
  if (response && typeof response === "object") {
    parts.push((response as Record<string, unknown>).errmsg);
  }
  return parts.filter((part) => typeof part === "string").join(" ");
}

/**
 * Whether an error is a throttled request, and the server's advised wait. Looks at the error
 * itself and at each write error of a bulk write (an insertMany throttled half-way).
 *
 * @example
 * ```ts
 * throttling({ code: 16500, message: "Error=16500, RetryAfterMs=12, Details='…'" });
 * // { retryAfterMs: 12 }
 * ```
 */
export function throttling(error: unknown): Throttling | null {
  if (!error || typeof error !== "object") return null;
  const record = error as Record<string, unknown>;
  const candidates: Record<string, unknown>[] = [record];
  const writeErrors = record.writeErrors;
  for (const item of Array.isArray(writeErrors) ? writeErrors : writeErrors ? [writeErrors] : []) {
    if (item && typeof item === "object") {
      const entry = item as Record<string, unknown>;
      candidates.push(entry, (entry.err ?? {}) as Record<string, unknown>);
    }
  }
  let isThrottled = false;
  let retryAfterMs: number | null = null;
  for (const candidate of candidates) {
    const text = textOf(candidate);
    isThrottled ||= candidate.code === THROTTLED || candidate.code === 429 ||
      candidate.codeName === "TooManyRequests" ||
      /\bTooManyRequests\b|Request rate is large/i.test(text);
    const advised = /RetryAfterMs=(\d+)/i.exec(text);
    if (advised && retryAfterMs === null) retryAfterMs = Number(advised[1]);
  }
  return isThrottled ? { retryAfterMs } : null;
}

/**
 * How long to wait before attempt `attempt + 1` (attempts count from 0): exponential with jitter,
 * never less than the server's advice, never more than the policy's cap unless the server asks
 * for longer.
 *
 * @example
 * ```ts
 * backoffDelayMs(0, null, DEFAULT_RETRY_POLICY, () => 1); // 25
 * backoffDelayMs(0, 500, DEFAULT_RETRY_POLICY, () => 1); // 500
 * ```
 */
export function backoffDelayMs(
  attempt: number,
  retryAfterMs: number | null,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  // Half fixed, half random: instances throttled together do not all come back together.
  const jittered = exponential / 2 + (exponential / 2) * random();
  return Math.ceil(Math.max(jittered, retryAfterMs ?? 0));
}

/** What to do after a failed attempt. */
export type RetryDecision = { retry: true; delayMs: number } | { retry: false };

/**
 * Retry a throttled attempt while the policy allows it; give up on anything else.
 *
 * @example
 * ```ts
 * retryDecision(new Error("E11000 duplicate key"), 0, 0); // { retry: false }
 * ```
 */
export function retryDecision(
  error: unknown,
  attempt: number,
  elapsedMs: number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): RetryDecision {
  const throttled = throttling(error);
  if (!throttled || attempt + 1 >= policy.maxAttempts) return { retry: false };
  const delayMs = backoffDelayMs(attempt, throttled.retryAfterMs, policy, random);
  if (elapsedMs + delayMs > policy.maxTotalMs) return { retry: false };
  return { retry: true, delayMs };
}

/** The clock and timer a retry loop uses; tests pass their own. */
export interface RetryEnvironment {
  policy?: RetryPolicy;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt`, repeating it while the database throttles. When the budget runs out the
 * caller gets `Unavailable` (HTTP 503 with Retry-After), not a raw driver error.
 *
 * @example
 * ```ts
 * const user = await withRetry(() => users.findOne({ _id: id }));
 * ```
 */
export async function withRetry<T>(
  attempt: () => Promise<T>,
  environment: RetryEnvironment = {},
): Promise<T> {
  const policy = environment.policy ?? DEFAULT_RETRY_POLICY;
  const now = environment.now ?? Date.now;
  const sleep = environment.sleep ?? realSleep;
  const started = now();
  for (let n = 0;; n++) {
    try {
      return await attempt();
    } catch (error) {
      const decision = retryDecision(error, n, now() - started, policy, environment.random);
      if (decision.retry) {
        await sleep(decision.delayMs);
        continue;
      }
      const throttled = throttling(error);
      if (throttled) {
        const seconds = Math.max(1, Math.ceil((throttled.retryAfterMs ?? 1000) / 1000));
        throw new Unavailable("The database is busy; try again shortly.", seconds);
      }
      throw error;
    }
  }
}
