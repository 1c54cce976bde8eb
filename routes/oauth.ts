import { type Context, Hono } from "hono";
import type { Config } from "../config.ts";
import { OAuthError, PensieveError } from "../core/errors.ts";
import type { AuthorizationRequest } from "../core/oauth/authorization_server.ts";
import { registrationView as registrationViewOf } from "../core/oauth/clients.ts";
import { SCOPES } from "../core/oauth/scopes.ts";
import type { Services } from "../core/services.ts";
import type { AppEnv } from "./env.ts";
import { clientAddress } from "./middleware/client_address.ts";
import { authorizeErrorPage, consentPage, signInPage } from "./oauth_pages.ts";
import type { BrowserSession, WebSessions } from "./web_session.ts";

/** The authorization request parameters a sign-in or consent form carries through. */
const AUTHORIZE_PARAMS = [
  "client_id",
  "redirect_uri",
  "response_type",
  "code_challenge",
  "code_challenge_method",
  "scope",
  "state",
  "resource",
] as const;

/** Paths whose documents and endpoints any origin may call: they use no cookies. */
export const PUBLIC_OAUTH_PATHS = [
  "/.well-known/oauth-authorization-server",
  "/.well-known/oauth-protected-resource",
  "/.well-known/oauth-protected-resource/mcp",
  "/.well-known/oauth-protected-resource/sse",
  "/token",
  "/register",
  "/revoke",
];

function pick(source: URLSearchParams | Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of AUTHORIZE_PARAMS) {
    const value = source instanceof URLSearchParams ? source.get(key) : source[key];
    if (typeof value === "string") out[key] = value;
  }
  return out;
}

/** The OAuth 2.1 authorization server: metadata, registration, authorize, token, revoke. */
export function oauthRoutes(
  services: Services,
  config: Config,
  sessions: WebSessions,
): Hono<AppEnv> {
  const server = services.authorizationServer;

  /** A consent form is only good for this browser session and this exact request. */
  const csrfFor = (c: Context<AppEnv>, session: BrowserSession, params: Record<string, string>) =>
    sessions.csrfToken(c, session, `consent\n${JSON.stringify(params)}`);
  const sessionUser = (c: Context<AppEnv>) => sessions.current(c);

  const signInView = async (
    c: Context<AppEnv>,
    params: Record<string, string>,
    clientName: string,
    error?: string,
  ) =>
    signInPage(
      { ...params, csrf: await sessions.csrfToken(c, null, "authorize-login") },
      clientName,
      error,
    );

  const html = (c: Context<AppEnv>, view: { html: string; csp: string }, status = 200) => {
    c.header("Content-Security-Policy", view.csp);
    // Same-origin referrers make browsers send a real Origin with form posts (no-referrer
    // makes it "null"), which the origin checks read.
    c.header("Referrer-Policy", "same-origin");
    c.header("Cache-Control", "no-store");
    return c.html(view.html, status as 200);
  };

  const redirectWith = (c: Context<AppEnv>, uri: string, values: Record<string, string | null>) => {
    const url = new URL(uri);
    for (const [key, value] of Object.entries(values)) {
      if (value !== null) url.searchParams.set(key, value);
    }
    url.searchParams.set("iss", config.publicUrl);
    c.header("Cache-Control", "no-store");
    return c.redirect(url.href, 302);
  };

  /** Resolves and checks a request; answers with a page or an error redirect when it fails. */
  const checked = async (
    c: Context<AppEnv>,
    params: Record<string, string>,
  ): Promise<AuthorizationRequest | Response> => {
    let resolved;
    try {
      resolved = await server.resolveClient(params.client_id ?? null, params.redirect_uri ?? null);
    } catch (error) {
      if (error instanceof OAuthError) return html(c, authorizeErrorPage(error.message), 400);
      throw error;
    }
    try {
      return server.checkRequest(resolved, new URLSearchParams(params));
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      return redirectWith(c, resolved.redirectUri, {
        error: error.oauthCode,
        error_description: error.message,
        state: params.state ?? null,
      });
    }
  };

  const showConsent = async (
    c: Context<AppEnv>,
    request: AuthorizationRequest,
    params: Record<string, string>,
    session: BrowserSession,
  ) => {
    const user = await services.accounts.me(session.userId);
    return html(
      c,
      consentPage({
        params,
        csrf: await csrfFor(c, session, params),
        clientName: request.client.name,
        redirectUri: request.redirectUri,
        scopes: request.scopes,
        email: user.email,
      }),
    );
  };

  /** Client authentication at /token and /revoke: HTTP Basic, or fields in the form. */
  const authenticateClient = (c: Context<AppEnv>, form: Record<string, unknown>) => {
    const basic = /^Basic\s+(.+)$/i.exec(c.req.header("Authorization") ?? "");
    if (basic) {
      let decoded = "";
      try {
        decoded = atob(basic[1]);
      } catch {
        throw new OAuthError("invalid_client", "The Basic credentials are malformed.");
      }
      const colon = decoded.indexOf(":");
      let id: string, pass: string;
      try {
        id = decodeURIComponent(decoded.slice(0, colon < 0 ? undefined : colon));
        pass = colon < 0 ? "" : decodeURIComponent(decoded.slice(colon + 1));
      } catch {
        throw new OAuthError("invalid_client", "The Basic credentials are malformed.");
      }
      return services.oauthClients.authenticate({
        clientId: id,
        secret: pass,
        method: "client_secret_basic",
      });
    }
    return services.oauthClients.authenticate({
      clientId: typeof form.client_id === "string" ? form.client_id : null,
      secret: typeof form.client_secret === "string" ? form.client_secret : null,
      method: typeof form.client_secret === "string" ? "client_secret_post" : "none",
    });
  };

  const readForm = async (c: Context<AppEnv>): Promise<Record<string, unknown>> => {
    const type = c.req.header("Content-Type") ?? "";
    if (!type.startsWith("application/x-www-form-urlencoded")) {
      throw new OAuthError(
        "invalid_request",
        "Send the form as application/x-www-form-urlencoded.",
      );
    }
    return Object.fromEntries(new URLSearchParams(await c.req.text()));
  };
  const field = (form: Record<string, unknown>, name: string) =>
    typeof form[name] === "string" ? form[name] as string : null;

  return new Hono<AppEnv>()
    .get("/.well-known/oauth-authorization-server", (c) =>
      c.json({
        issuer: config.publicUrl,
        authorization_endpoint: `${config.publicUrl}/authorize`,
        token_endpoint: `${config.publicUrl}/token`,
        registration_endpoint: `${config.publicUrl}/register`,
        revocation_endpoint: `${config.publicUrl}/revoke`,
        scopes_supported: SCOPES,
        response_types_supported: ["code"],
        response_modes_supported: ["query"],
        grant_types_supported: ["authorization_code", "refresh_token"],
        code_challenge_methods_supported: ["S256"],
        token_endpoint_auth_methods_supported: [
          "none",
          "client_secret_post",
          "client_secret_basic",
        ],
        revocation_endpoint_auth_methods_supported: [
          "none",
          "client_secret_post",
          "client_secret_basic",
        ],
        client_id_metadata_document_supported: true,
        authorization_response_iss_parameter_supported: true,
        service_documentation: `${config.publicUrl}/`,
      }))
    .post("/register", async (c) => {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch {
        throw new OAuthError("invalid_client_metadata", "The body must be a JSON object.");
      }
      const registration = await services.oauthClients.register(
        body,
        clientAddress(c, config.trustProxy),
      );
      c.header("Cache-Control", "no-store");
      return c.json(registrationViewOf(registration), 201);
    })
    .get("/authorize", async (c) => {
      const params = pick(new URL(c.req.url).searchParams);
      const request = await checked(c, params);
      if (request instanceof Response) return request;
      const session = await sessionUser(c);
      if (!session) return html(c, await signInView(c, params, request.client.name));
      return showConsent(c, request, params, session);
    })
    .post("/authorize", async (c) => {
      const origin = c.req.header("Origin");
      // "null" is what a browser sends when it will not say; the CSRF tokens decide then.
      if (origin && origin !== "null" && origin !== config.publicUrl) {
        return html(c, authorizeErrorPage("This form was sent from another site."), 403);
      }
      const form = Object.fromEntries(new URLSearchParams(await c.req.text()));
      const params = pick(form);
      const request = await checked(c, params);
      if (request instanceof Response) return request;
      if (form.action === "login") {
        // Without this, another site could sign a visitor in to the attacker's account.
        if (!(await sessions.verify(c, null, form.csrf, "authorize-login"))) {
          return html(
            c,
            await signInView(c, params, request.client.name, "The form expired; try again."),
            403,
          );
        }
        try {
          const session = await services.accounts.login(
            String(form.email ?? ""),
            String(form.password ?? ""),
            clientAddress(c, config.trustProxy),
            config.webSessionSeconds,
          );
          sessions.start(c, session.accessToken, session.expiresIn);
          return showConsent(c, request, params, {
            token: session.accessToken,
            userId: session.user.id,
          });
        } catch (error) {
          if (!(error instanceof PensieveError)) throw error;
          const status = error.code === "too_many_requests" ? 429 : 401;
          return html(c, await signInView(c, params, request.client.name, error.message), status);
        }
      }
      const session = await sessionUser(c);
      if (!session) return html(c, await signInView(c, params, request.client.name), 401);
      if (form.csrf !== await csrfFor(c, session, params)) {
        return html(c, authorizeErrorPage("The form expired; start the connection again."), 403);
      }
      if (form.action !== "approve") {
        return redirectWith(c, request.redirectUri, {
          error: "access_denied",
          error_description: "The user did not approve the connection.",
          state: request.state,
        });
      }
      const code = await server.issueCode(session.userId, request);
      return redirectWith(c, request.redirectUri, { code, state: request.state });
    })
    .post("/token", async (c) => {
      const form = await readForm(c);
      const client = await authenticateClient(c, form);
      const grantType = field(form, "grant_type");
      c.header("Cache-Control", "no-store");
      c.header("Pragma", "no-cache");
      if (grantType === "authorization_code") {
        return c.json(
          await server.exchangeCode({
            client,
            code: field(form, "code"),
            redirectUri: field(form, "redirect_uri"),
            verifier: field(form, "code_verifier"),
            resource: field(form, "resource"),
          }),
        );
      }
      if (grantType === "refresh_token") {
        return c.json(
          await server.refresh({
            client,
            refreshToken: field(form, "refresh_token"),
            scope: field(form, "scope"),
            resource: field(form, "resource"),
          }),
        );
      }
      throw new OAuthError(
        "unsupported_grant_type",
        "grant_type must be authorization_code or refresh_token.",
      );
    })
    .post("/revoke", async (c) => {
      const form = await readForm(c);
      const client = await authenticateClient(c, form);
      await server.revoke({ client, token: field(form, "token") });
      c.header("Cache-Control", "no-store");
      return c.body(null, 200);
    });
}
