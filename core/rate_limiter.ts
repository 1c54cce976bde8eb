import type { Clock } from "./clock.ts";
import { TooMany } from "./errors.ts";
import type { Store } from "../db/store.ts";

/** Fixed-window counters kept in the store, so every instance on one store shares them. */
export class RateLimiter {
  constructor(private readonly store: Store, private readonly clock: Clock) {}

  /** Throws TooMany when `key` has already reached `limit` in its window; adds nothing. */
  async check(key: string, limit: number, message: string): Promise<void> {
    const now = this.clock.now();
    const current = await this.store.peekRateLimit(key, now);
    if (current && current.count >= limit) throw tooMany(message, current.resetAt, now);
  }

  /** Counts one hit; throws TooMany when this hit goes over `limit`. */
  async hit(key: string, limit: number, windowMs: number, message: string): Promise<void> {
    const now = this.clock.now();
    const count = await this.store.hitRateLimit(key, windowMs, now);
    if (count.count > limit) throw tooMany(message, count.resetAt, now);
  }

  /** Counts one hit without refusing anything. */
  async record(key: string, windowMs: number): Promise<void> {
    await this.store.hitRateLimit(key, windowMs, this.clock.now());
  }

  clear(key: string): Promise<void> {
    return this.store.clearRateLimit(key);
  }
}

function tooMany(message: string, resetAt: number, now: number): TooMany {
  return new TooMany(message, Math.max(1, Math.ceil((resetAt - now) / 1000)));
}
