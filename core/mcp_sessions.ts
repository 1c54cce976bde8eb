import type { Clock } from "./clock.ts";
import type { Principal } from "./principal.ts";
import { randomSecret, sha256Hex } from "./secrets.ts";
import type { McpEndpoint, McpSessionRecord, McpTransportKind, Store } from "../db/store.ts";

/** A session nobody has signed in to yet lives this long: enough to sign in, not to pile up. */
const UNBOUND_MS = 10 * 60_000;
/** A password sign-in in a chat lasts at most this long, however busy the session. */
const PASSWORD_BINDING_MS = 30 * 86_400_000;

/** A live MCP session, found by the id the client sends back. */
export interface McpSession {
  id: string;
  endpoint: McpEndpoint;
  /** The user bound to it, if that binding still stands. */
  userId: string | null;
}

/** What an in-band sign-in used: the binding lasts only as long as it does. */
export type SignInCredential =
  | { kind: "password" }
  | { kind: "token"; secret: string; principal: Principal };

/**
 * MCP sessions (the `Mcp-Session-Id` of Streamable HTTP, the `sessionId` of SSE), kept in the
 * store so any instance can serve the next request. The id is a 256-bit secret: on `/open` it
 * is the only thing that ties a request to the user who signed in on it, so only its hash is
 * stored, and a binding ends with the credential it was made with.
 */
export class McpSessions {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly idleMs: number,
  ) {}

  /** Starts a session; on `/mcp` it carries the credential's user from the start. */
  async start(
    endpoint: McpEndpoint,
    transport: McpTransportKind,
    userId: string | null,
  ): Promise<McpSession> {
    const id = randomSecret();
    const now = this.clock.now();
    await this.store.createMcpSession({
      idHash: await sha256Hex(id),
      endpoint,
      transport,
      userId,
      boundAt: userId === null ? null : now,
      boundCredential: null,
      createdAt: now,
      expiresAt: now + (userId === null ? Math.min(UNBOUND_MS, this.idleMs) : this.idleMs),
    });
    return { id, endpoint, userId };
  }

  /**
   * The session with this id, or null when it is unknown, expired, or of another endpoint or
   * transport. A binding whose credential has since been revoked, expired, or outdated by a
   * password change no longer counts.
   */
  async find(
    id: string,
    endpoint: McpEndpoint,
    transport: McpTransportKind,
  ): Promise<McpSession | null> {
    if (id.length > 200) return null;
    const now = this.clock.now();
    const record = await this.store.getMcpSession(await sha256Hex(id), now);
    if (!record || record.endpoint !== endpoint || record.transport !== transport) return null;
    // Extend on use, but write at most every minute (or half the idle time, if shorter).
    const interval = Math.min(60_000, this.idleMs / 2);
    if (record.userId !== null && record.expiresAt - now < this.idleMs - interval) {
      await this.store.extendMcpSession(record.idHash, now + this.idleMs);
    }
    const userId = await this.#standingUser(record, now) ? record.userId : null;
    return { id, endpoint, userId };
  }

  async #standingUser(record: McpSessionRecord, now: number): Promise<boolean> {
    if (record.userId === null) return false;
    const user = await this.store.getUser(record.userId);
    if (!user || (record.boundAt ?? 0) < user.tokensValidAfter) return false;
    const credential = record.boundCredential;
    if (credential === null) return true;
    if (credential === "password") return now - (record.boundAt ?? 0) < PASSWORD_BINDING_MS;
    if (credential.startsWith("pat:")) {
      const token = await this.store.findPersonalTokenBySecretHash(credential.slice(4));
      return !!token && token.userId === user.id &&
        (token.expiresAt === null || token.expiresAt > now);
    }
    const [, jti, expires] = credential.split(":");
    return Number(expires) > now && !(await this.store.isAccessTokenRevoked(jti));
  }

  /** Binds a user to the session (in-band sign-in); false when the session has ended. */
  async bind(id: string, userId: string, signIn: SignInCredential): Promise<boolean> {
    const now = this.clock.now();
    let credential = "password";
    if (signIn.kind === "token") {
      const c = signIn.principal.credential;
      if (c.kind === "personal_token") credential = `pat:${await sha256Hex(signIn.secret)}`;
      else if (c.kind === "access_token") credential = `jwt:${c.jti}:${c.expiresAt * 1000}`;
      else return false;
    }
    return this.store.bindMcpSession(await sha256Hex(id), {
      userId,
      credential,
      now,
      expiresAt: now + this.idleMs,
    });
  }

  async end(id: string): Promise<void> {
    await this.store.deleteMcpSession(await sha256Hex(id));
  }
}
