import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ErrorCode, OAuthError, PensieveError, TooMany, Unavailable } from "../core/errors.ts";

const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  too_many_requests: 429,
  unavailable: 503,
};

/** The one JSON error body every failure has. */
export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/** Maps any thrown value to a JSON response; unexpected errors are logged and never shown. */
export function errorResponse(c: Context, error: unknown): Response {
  if (error instanceof OAuthError) {
    const status = error.oauthCode === "invalid_client" ? 401 : 400;
    if (status === 401) c.header("WWW-Authenticate", 'Basic realm="pensieve"');
    c.header("Cache-Control", "no-store");
    return c.json({ error: error.oauthCode, error_description: error.message }, status);
  }
  if (error instanceof PensieveError) {
    const status = STATUS[error.code];
    if (error instanceof TooMany || error instanceof Unavailable) {
      c.header("Retry-After", String(error.retryAfterSeconds));
    }
    if (status === 401) c.header("WWW-Authenticate", 'Bearer realm="pensieve"');
    return c.json(errorBody(error.code, error.message), status);
  }
  console.error("Unhandled error", c.req.method, new URL(c.req.url).pathname, error);
  return c.json(errorBody("internal_error", "Something went wrong on our side."), 500);
}
