/** The closed set of domain errors. Each maps once to HTTP (routes/errors.ts). */
export type ErrorCode =
  | "invalid_request"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "too_large"
  | "too_many_requests"
  | "unavailable";

/** Base class of every error the service raises on purpose. */
export class PensieveError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The input is malformed or breaks a rule (HTTP 400). */
export class Invalid extends PensieveError {
  constructor(message: string) {
    super("invalid_request", message);
  }
}

/** No valid credential (HTTP 401). */
export class Unauthorized extends PensieveError {
  constructor(message = "A valid access token is required.") {
    super("unauthorized", message);
  }
}

/** The credential is valid but may not do this (HTTP 403). */
export class Forbidden extends PensieveError {
  constructor(message: string) {
    super("forbidden", message);
  }
}

/** The thing does not exist, or belongs to someone else (HTTP 404). */
export class NotFound extends PensieveError {
  constructor(message = "Not found.") {
    super("not_found", message);
  }
}

/** The request contradicts stored state (HTTP 409). */
export class Conflict extends PensieveError {
  constructor(message: string) {
    super("conflict", message);
  }
}

/** The input exceeds a size limit (HTTP 413). */
export class TooLarge extends PensieveError {
  constructor(message: string) {
    super("too_large", message);
  }
}

/** A rate limit or capacity bound was hit (HTTP 429, with Retry-After). */
export class TooMany extends PensieveError {
  constructor(message: string, readonly retryAfterSeconds: number) {
    super("too_many_requests", message);
  }
}

/** The service cannot take work right now (HTTP 503, with Retry-After). */
export class Unavailable extends PensieveError {
  constructor(message: string, readonly retryAfterSeconds: number) {
    super("unavailable", message);
  }
}

/** RFC 6749 / 7591 / 7009 error codes, which OAuth clients read by name. */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "invalid_grant"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "unsupported_response_type"
  | "invalid_scope"
  | "invalid_target"
  | "access_denied"
  | "invalid_redirect_uri"
  | "invalid_client_metadata"
  | "unsupported_token_type";

/**
 * An error at an OAuth endpoint. Its body is OAuth's own `{ error, error_description }`, which
 * clients parse; 401 for a client that failed to authenticate, 400 otherwise.
 */
export class OAuthError extends PensieveError {
  constructor(readonly oauthCode: OAuthErrorCode, message: string) {
    super(oauthCode === "invalid_client" ? "unauthorized" : "invalid_request", message);
  }
}

/** A valid credential without the scope an action needs (HTTP 403, `insufficient_scope`). */
export class InsufficientScope extends PensieveError {
  constructor(readonly scope: string) {
    super("forbidden", `This needs the ${scope} scope; reconnect and approve it.`);
  }
}
