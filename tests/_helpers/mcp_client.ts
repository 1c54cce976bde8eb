import {
  type CallToolResult,
  Client,
  SSEClientTransport,
  StreamableHTTPClientTransport,
} from "@modelcontextprotocol/client";
import type { TestServer } from "./server.ts";

/** How a test client reaches the server: both Streamable HTTP eras, or the legacy SSE transport. */
export type McpMode = "legacy" | "modern" | "sse";
export const MCP_MODES: McpMode[] = ["legacy", "modern", "sse"];

/** A fetch that adds a bearer credential, as a client configured with a header would. */
export function fetchWithToken(token?: string): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    if (token) headers.set("Authorization", `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
}

/** The SDK's real client, connected over real HTTP. `open` uses /open/… and no credential. */
export async function connectMcp(
  server: TestServer,
  options: { mode: McpMode; token?: string; open?: boolean },
): Promise<Client> {
  const base = options.open ? `${server.url}/open` : server.url;
  const client = new Client({ name: "pensieve-test", version: "1.0.0" }, {
    versionNegotiation: { mode: options.mode === "modern" ? "auto" : "legacy" },
  });
  const fetchFn = fetchWithToken(options.token);
  const transport = options.mode === "sse"
    ? new SSEClientTransport(new URL(`${base}/sse`), { fetch: fetchFn })
    : new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { fetch: fetchFn });
  await client.connect(transport);
  return client;
}

/** Calls a tool and returns its result, whatever isError says. */
export async function callTool(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<CallToolResult> {
  return await client.callTool({ name, arguments: args }) as CallToolResult;
}

/** Tool output, read loosely in tests. */
// deno-lint-ignore no-explicit-any
export type Json = any;

/** The structured result of a tool call that must succeed. */
export async function callOk(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
): Promise<Json> {
  const result = await callTool(client, name, args);
  if (result.isError) {
    throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
  }
  return result.structuredContent;
}

/** The text of an isError result. */
export function errorText(result: CallToolResult): string {
  if (!result.isError) throw new Error(`expected an error, got ${JSON.stringify(result)}`);
  return result.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
}
