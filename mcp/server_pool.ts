import type { McpServer } from "@modelcontextprotocol/server";

/**
 * Idle MCP servers for one endpoint, so a stateless request does not build a server and register
 * every tool again. A server is lent to one request at a time. It holds no caller (handlers read
 * it from the request they serve), and it is taken back only once its request's transport is
 * closed and nothing of that request is left in it: no connection, and no client identity or
 * protocol version, which an `initialize` would have set.
 */
export class McpServerPool {
  readonly #idle: McpServer[] = [];

  constructor(private readonly build: () => McpServer, private readonly maxIdle: number) {}

  /** An idle server, or a new one when none is idle. */
  take(): McpServer {
    return this.#idle.pop() ?? this.build();
  }

  /** Takes back a server whose transport is closed; one that kept anything is dropped. */
  give(server: McpServer): void {
    const protocol = server.server;
    const pristine = protocol.transport === undefined &&
      protocol.getClientVersion() === undefined &&
      protocol.getClientCapabilities() === undefined &&
      protocol.getNegotiatedProtocolVersion() === undefined;
    if (pristine && this.#idle.length < this.maxIdle) this.#idle.push(server);
  }
}
