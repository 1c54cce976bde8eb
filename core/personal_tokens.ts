import type { Clock } from "./clock.ts";
import { NotFound } from "./errors.ts";
import { randomSecret, sha256Hex } from "./secrets.ts";
import type { PersonalToken } from "./types.ts";
import type { Store } from "../db/store.ts";

/** Every personal access token starts with this, so secret scanners and people can spot one. */
export const PERSONAL_TOKEN_PREFIX = "psv_";

/** last_used_at is written at most this often per token, to keep reads from becoming writes. */
const TOUCH_INTERVAL_MS = 60_000;

const DAY_MS = 86_400_000;

/** Personal access tokens: long-lived credentials for scripts and MCP clients, shown once. */
export class PersonalTokens {
  constructor(private readonly store: Store, private readonly clock: Clock) {}

  /** Creates a token; the returned `secret` is the only time it is ever available. */
  async create(
    userId: string,
    input: { name: string; expiresInDays?: number },
  ): Promise<{ token: PersonalToken; secret: string }> {
    const secret = PERSONAL_TOKEN_PREFIX + randomSecret();
    const now = this.clock.now();
    const token = await this.store.createPersonalToken(userId, {
      id: crypto.randomUUID(),
      name: input.name,
      prefix: secret.slice(0, PERSONAL_TOKEN_PREFIX.length + 6),
      secretHash: await sha256Hex(secret),
      createdAt: now,
      expiresAt: input.expiresInDays ? now + input.expiresInDays * DAY_MS : null,
    });
    return { token, secret };
  }

  list(userId: string): Promise<PersonalToken[]> {
    return this.store.listPersonalTokens(userId);
  }

  async rename(userId: string, tokenId: string, name: string): Promise<PersonalToken> {
    const token = await this.store.renamePersonalToken(userId, tokenId, name);
    if (!token) throw new NotFound("No such token.");
    return token;
  }

  async revoke(userId: string, tokenId: string): Promise<void> {
    if (!(await this.store.deletePersonalToken(userId, tokenId))) {
      throw new NotFound("No such token.");
    }
  }

  /** The token a secret belongs to, if it is current; null for anything else. */
  async verify(secret: string): Promise<PersonalToken | null> {
    if (!secret.startsWith(PERSONAL_TOKEN_PREFIX)) return null;
    const token = await this.store.findPersonalTokenBySecretHash(await sha256Hex(secret));
    if (!token) return null;
    const now = this.clock.now();
    if (token.expiresAt !== null && token.expiresAt <= now) return null;
    if (token.lastUsedAt === null || now - token.lastUsedAt >= TOUCH_INTERVAL_MS) {
      await this.store.touchPersonalToken(token.userId, token.id, now);
    }
    return token;
  }
}
