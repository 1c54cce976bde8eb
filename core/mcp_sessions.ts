import type { Clock } from "./clock.ts";
import { randomSecret, sha256Hex } from "./secrets.ts";
import type { McpEndpoint, Store } from "../db/store.ts";

/** A session's expiry moves forward on use, but is written at most this often. */
const EXTEND_INTERVAL_MS = 60_000;

/** A live MCP session, found by the id the client sends back. */
export interface McpSession {
  id: string;
  endpoint: McpEndpoint;
  /** The user bound to it, if that binding still stands. */
  userId: string | null;
}

/**
 * MCP sessions (the `Mcp-Session-Id` of Streamable HTTP, the `sessionId` of SSE), kept in the
 * store so any instance can serve the next request. The id is a 256-bit secret: on `/open` it
 * is the only thing that ties a request to the user who logged in on it, so only its hash is
 * stored.
 */
export class McpSessions {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly idleMs: number,
  ) {}

  /** Starts a session; on `/mcp` it carries the credential's user from the start. */
  async start(endpoint: McpEndpoint, userId: string | null): Promise<McpSession> {
    const id = randomSecret();
    const now = this.clock.now();
    await this.store.createMcpSession({
      idHash: await sha256Hex(id),
      endpoint,
      userId,
      boundAt: userId === null ? null : now,
      createdAt: now,
      expiresAt: now + this.idleMs,
    });
    return { id, endpoint, userId };
  }

  /**
   * The session with this id, or null when it is unknown, expired, or of another endpoint. A
   * binding made before the user's last password change no longer counts.
   */
  async find(id: string, endpoint: McpEndpoint): Promise<McpSession | null> {
    if (id.length > 200) return null;
    const now = this.clock.now();
    const record = await this.store.getMcpSession(await sha256Hex(id), now);
    if (!record || record.endpoint !== endpoint) return null;
    if (record.expiresAt - now < this.idleMs - EXTEND_INTERVAL_MS) {
      await this.store.extendMcpSession(record.idHash, now + this.idleMs);
    }
    let userId = record.userId;
    if (userId !== null) {
      const user = await this.store.getUser(userId);
      if (!user || (record.boundAt ?? 0) < user.tokensValidAfter) userId = null;
    }
    return { id, endpoint, userId };
  }

  /** Binds a user to the session (in-band login); false when the session has ended. */
  async bind(id: string, userId: string): Promise<boolean> {
    return this.store.bindMcpSession(await sha256Hex(id), userId, this.clock.now());
  }

  async end(id: string): Promise<void> {
    await this.store.deleteMcpSession(await sha256Hex(id));
  }
}
