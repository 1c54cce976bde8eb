/**
 * A seeded pseudo-random generator (mulberry32), so a randomised test can be replayed from the
 * seed it prints.
 *
 * @example
 * ```ts
 * const random = seededRandom(42);
 * random.int(1, 6); // the same number on every run with seed 42
 * ```
 */
export interface SeededRandom {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max], both included. */
  int(min: number, max: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
}

/** A generator for `seed` (any 32-bit integer). */
export function seededRandom(seed: number): SeededRandom {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed: seed >>> 0,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)],
  };
}

/**
 * The seed named by the environment variable `name` (to replay a failure), else a fresh one.
 *
 * @example
 * ```ts
 * const seed = seedFromEnv("PENSIEVE_CRASH_SEED");
 * ```
 */
export function seedFromEnv(name: string): number {
  const given = Deno.env.get(name);
  if (given !== undefined && given !== "") {
    const seed = Number(given);
    if (!Number.isInteger(seed)) throw new Error(`${name} must be an integer, got ${given}`);
    return seed >>> 0;
  }
  return crypto.getRandomValues(new Uint32Array(1))[0];
}
