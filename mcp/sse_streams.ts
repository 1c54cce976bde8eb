import { type AuthInfo, parseJSONRPCMessage } from "@modelcontextprotocol/server";
import { TooMany } from "../core/errors.ts";
import { jsonRpcError } from "./json_rpc_error.ts";
import { buildMcpServer } from "./server.ts";
import { countOpenRequest, quotaKey, startSession } from "./session_start.ts";
import { SseServerTransport } from "./sse_transport.ts";
import type { McpRequestIdentity } from "./streamable_http.ts";
import { authInfoFor, type McpDeps } from "./tool_context.ts";

/** The same bound on a batch as the SDK's Streamable HTTP transport. */
const MAX_BATCH = 100;

interface OpenStream {
  transport: SseServerTransport;
  identity: McpRequestIdentity;
  /** The stream's caller, handed to its server with every message. */
  authInfo: AuthInfo;
  /** Who the stream counts against: the credential's user, or the address on `/open`. */
  quotaKey: string;
}

/**
 * The legacy SSE streams this instance holds. A stream is a live connection, so it exists only
 * here; its session record (and any in-band login) is in the store like every MCP session.
 */
export class SseStreams {
  readonly #open = new Map<string, OpenStream>();
  readonly #perKey = new Map<string, number>();
  /** Session records still being removed, so a stopping server waits for them. */
  readonly #ending = new Set<Promise<void>>();

  constructor(private readonly deps: McpDeps) {}

  /** How many streams this instance holds now. */
  get openCount(): number {
    return this.#open.size;
  }

  /** Opens a stream whose endpoint event tells the client where to POST its messages. */
  async open(identity: McpRequestIdentity, messagesPath: string): Promise<Response> {
    const { sessions, config } = this.deps;
    const key = quotaKey(identity);
    // The place is taken before the first await, so concurrent opens cannot all slip through.
    const held = this.#perKey.get(key) ?? 0;
    if (held >= config.mcp.sseStreamsPerUser) {
      throw new TooMany(
        `At most ${config.mcp.sseStreamsPerUser} SSE streams may be open at once; close one first.`,
        5,
      );
    }
    this.#perKey.set(key, held + 1);
    const release = () => {
      const left = (this.#perKey.get(key) ?? 1) - 1;
      if (left > 0) this.#perKey.set(key, left);
      else this.#perKey.delete(key);
    };
    let session;
    try {
      await countOpenRequest(this.deps, identity);
      session = await startSession(this.deps, identity, "sse");
    } catch (error) {
      release();
      throw error;
    }
    const sessionId = session.id;
    const transport = new SseServerTransport(
      sessionId,
      `${messagesPath}?sessionId=${encodeURIComponent(sessionId)}`,
      config.mcp.sseKeepAliveSeconds * 1000,
    );
    const server = buildMcpServer(this.deps, identity.endpoint);
    const authInfo = authInfoFor({ ...identity, transport: "sse", sessionId });
    this.#open.set(sessionId, { transport, identity, authInfo, quotaKey: key });
    transport.onclose = () => {
      this.#open.delete(sessionId);
      release();
      server.close().catch(() => {});
      const ending = sessions.end(sessionId).catch(this.deps.onUnexpected);
      this.#ending.add(ending);
      ending.finally(() => this.#ending.delete(ending));
    };
    await server.connect(transport);
    return new Response(transport.stream, {
      headers: {
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache, no-transform",
        "X-Accel-Buffering": "no",
      },
    });
  }

  /** A client message for one of the streams; 202 once handed to its server. */
  async post(
    sessionId: string,
    identity: McpRequestIdentity,
    /** The body as the route parsed it; undefined when it is not JSON. */
    body: unknown,
  ): Promise<Response> {
    const stream = this.#open.get(sessionId);
    if (
      !stream || stream.transport.isClosed || stream.identity.endpoint !== identity.endpoint ||
      (identity.endpoint === "mcp" &&
        stream.identity.credentialUserId !== identity.credentialUserId)
    ) {
      const elsewhere = !stream &&
        await this.deps.sessions.find(sessionId, identity.endpoint, "sse");
      return jsonRpcError(
        404,
        -32001,
        elsewhere
          ? "This SSE session's stream is held by another server instance: the load balancer " +
            "must send every request of a session to the same instance (session affinity)."
          : "No open SSE session with this id on this server (session affinity is required " +
            "behind a load balancer); open a new stream with GET.",
      );
    }
    await countOpenRequest(this.deps, identity);
    let messages: unknown[];
    try {
      if (body === undefined) throw new SyntaxError("not JSON");
      messages = (Array.isArray(body) ? body : [body]).map((m) => parseJSONRPCMessage(m));
    } catch {
      return jsonRpcError(400, -32700, "Parse error: the body is not a JSON-RPC message.");
    }
    if (messages.length === 0 || messages.length > MAX_BATCH) {
      return jsonRpcError(
        400,
        -32600,
        `Invalid Request: a batch holds 1 to ${MAX_BATCH} messages.`,
      );
    }
    for (const message of messages) {
      stream.transport.receive(
        message as ReturnType<typeof parseJSONRPCMessage>,
        stream.authInfo,
      );
    }
    return new Response("Accepted", { status: 202 });
  }

  /** Ends every stream, so a draining server can stop; clients reconnect elsewhere. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#open.values()].map((s) => s.transport.close()));
    await Promise.all(this.#ending);
  }

  get size(): number {
    return this.#open.size;
  }
}
