import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { type ErrorCode, OAuthError, PensieveError, TooMany, Unavailable } from "../core/errors.ts";
import { errorFields, type Logger } from "../core/logger.ts";
import type { AppEnv } from "./env.ts";

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

/**
 * Maps any thrown value to a JSON response. Unexpected errors are logged with their stack and the
 * request id, and never shown; expected ones are logged by their code at debug level.
 */
export function errorResponse(c: Context<AppEnv>, error: unknown): Response {
  const log = c.get("log") as Logger | undefined;
  if (error instanceof OAuthError) {
    log?.debug("request refused", { code: error.oauthCode });
    const status = error.oauthCode === "invalid_client" ? 401 : 400;
    if (status === 401) c.header("WWW-Authenticate", 'Basic realm="pensieve"');
    c.header("Cache-Control", "no-store");
    return c.json({ error: error.oauthCode, error_description: error.message }, status);
  }
  if (error instanceof PensieveError) {
    log?.debug("request refused", { code: error.code });
    const status = STATUS[error.code];
    if (error instanceof TooMany || error instanceof Unavailable) {
      c.header("Retry-After", String(error.retryAfterSeconds));
    }
    if (status === 401) c.header("WWW-Authenticate", 'Bearer realm="pensieve"');
    return c.json(errorBody(error.code, error.message), status);
  }
  if (log) log.error("unhandled error", { method: c.req.method, ...errorFields(error) });
  else console.error("Unhandled error", c.req.method, error);
  return c.json(errorBody("internal_error", "Something went wrong on our side."), 500);
}
