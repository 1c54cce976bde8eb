import { Hmac } from "./secrets.ts";

const MAX_REMEMBERED = 10_000;

/**
 * What logs carry instead of a user id: a keyed hash (HMAC-SHA256 with the server's key, 96
 * bits), the same on every instance that shares the key, so lines can be grouped by user without
 * the logs naming one. Without the key, a tag cannot be matched to an id.
 *
 * @example
 * ```ts
 * const tags = new UserTags(config.jwtSecret!);
 * await tags.of(userId); // "kq3Vx0b2Zr8mT1aQ"
 * ```
 */
export class UserTags {
  readonly #hmac: Hmac;
  /** Tags already made: every logged request of a signed-in user needs one. */
  readonly #made = new Map<string, string>();

  constructor(secret: Uint8Array) {
    this.#hmac = new Hmac(secret);
  }

  /** The tag of one user id: 16 base64url characters. */
  async of(userId: string): Promise<string> {
    const made = this.#made.get(userId);
    if (made !== undefined) return made;
    // The prefix keeps these MACs apart from every other use of the key (JWTs, CSRF tokens).
    const tag = (await this.#hmac.sign(`pensieve-log-user:${userId}`)).slice(0, 16);
    // Bounded: past this many users, start again rather than grow.
    if (this.#made.size >= MAX_REMEMBERED) this.#made.clear();
    this.#made.set(userId, tag);
    return tag;
  }
}
