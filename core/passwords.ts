import { WorkLimiter } from "./work_limiter.ts";

// Loaded at the first sign-in or sign-up, not at start: argon2 is a native addon, and most
// requests a server answers after a cold start (MCP calls, API calls with tokens) never hash.
let argon2: Promise<typeof import("@node-rs/argon2")> | undefined;
const loadArgon2 = () => argon2 ??= import("@node-rs/argon2");
const loadBcrypt = async () => (await import("bcryptjs")).default;

/** OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. */
const ARGON2_OPTIONS = {
  algorithm: 2, // Algorithm.Argon2id: a const enum, which isolatedModules cannot read
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
} as const;

const BCRYPT_PREFIX = /^\$2[abxy]\$\d\d\$/;

/** The outcome of checking a password against a stored hash. */
export interface PasswordCheck {
  ok: boolean;
  /** The hash is of an older kind or weaker parameters: store a fresh one. */
  needsRehash: boolean;
}

/**
 * Hashes and verifies passwords with bounded concurrency. Verifies argon2id and legacy bcrypt
 * (the original Pensieve's) hashes; new hashes are always argon2id.
 */
export class PasswordHasher {
  readonly #limiter: WorkLimiter;
  #dummy?: Promise<string>;

  constructor(options: { concurrency: number; queue: number }) {
    this.#limiter = new WorkLimiter(options.concurrency, options.queue);
  }

  hash(password: string): Promise<string> {
    return this.#limiter.run(async () => (await loadArgon2()).hash(password, ARGON2_OPTIONS));
  }

  verify(passwordHash: string, password: string): Promise<PasswordCheck> {
    return this.#limiter.run(async () => {
      if (BCRYPT_PREFIX.test(passwordHash)) {
        // bcrypt reads only the first 72 bytes; a longer password must not pass on its prefix.
        if (new TextEncoder().encode(password).length > 72) {
          return { ok: false, needsRehash: true };
        }
        const bcrypt = await loadBcrypt();
        try {
          return { ok: await bcrypt.compare(password, passwordHash), needsRehash: true };
        } catch {
          // A hash bcrypt cannot read ($2x$, a cost out of range) matches no password.
          return { ok: false, needsRehash: true };
        }
      }
      if (!passwordHash.startsWith("$argon2")) return { ok: false, needsRehash: false };
      const ok = await (await loadArgon2()).verify(passwordHash, password);
      const needsRehash = !passwordHash.startsWith(
        `$argon2id$v=19$m=${ARGON2_OPTIONS.memoryCost},t=${ARGON2_OPTIONS.timeCost},p=${ARGON2_OPTIONS.parallelism}$`,
      );
      return { ok, needsRehash };
    });
  }

  /** Spends the same effort as a real check, so an unknown email cannot be told by timing. */
  async verifyDummy(password: string): Promise<void> {
    // A refused first hash (server busy) must not be remembered, or every later check would fail.
    this.#dummy ??= this.hash("pensieve-dummy-password").catch((error) => {
      this.#dummy = undefined;
      throw error;
    });
    await this.verify(await this.#dummy, password);
  }
}
