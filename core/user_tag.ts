import { Hmac } from "./secrets.ts";

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

  constructor(secret: Uint8Array) {
    this.#hmac = new Hmac(secret);
  }

  /** The tag of one user id: 16 base64url characters. */
  async of(userId: string): Promise<string> {
    // The prefix keeps these MACs apart from every other use of the key (JWTs, CSRF tokens).
    return (await this.#hmac.sign(`pensieve-log-user:${userId}`)).slice(0, 16);
  }
}
