/**
 * An MCP POST body, read and parsed once for every step that needs it (the route's scope check,
 * the era decision, the initialize check, the transport): each reading its own clone of the
 * request cost a stream tee and a parse per step.
 */
export interface McpRequestBody {
  /** The request to hand on; a fresh copy of the text when the original has been read. */
  request: Request;
  /** The parsed JSON, or undefined when the body is empty or not JSON (the SDK says so). */
  parsed: unknown;
}

/**
 * Reads a POST body (a GET or DELETE has none; it is passed on untouched). The body was already
 * held to the configured size by the app's body limit.
 */
export async function readMcpBody(request: Request): Promise<McpRequestBody> {
  if (request.method.toUpperCase() !== "POST") return { request, parsed: undefined };
  let text = "";
  try {
    text = await request.text();
  } catch {
    // a client gone mid-body: answered like an empty one, with a parse error
  }
  const parsed = parsedOrUndefined(text);
  if (parsed !== undefined) return { request, parsed };
  // Only an unparseable body reaches the SDK unparsed: give it the bytes again to report on.
  // Built from its parts, not `new Request(request, …)`, which would follow the request's signal
  // and make Deno warn on stderr that a followed signal aborts when a response completes.
  const copy = new Request(request.url, {
    method: request.method,
    headers: request.headers,
    body: text,
  });
  return { request: copy, parsed: undefined };
}

/** The JSON in a body, or undefined when it is empty or not JSON. */
export function parsedOrUndefined(text: string): unknown {
  try {
    return text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}
