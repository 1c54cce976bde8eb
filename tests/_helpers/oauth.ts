import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthClientProvider,
  OAuthTokens,
} from "@modelcontextprotocol/client";
import type { TestServer } from "./server.ts";

/** What the user does in the browser: sign in on Pensieve's page, then approve or deny. */
export async function consentInBrowser(
  server: Pick<TestServer, "url">,
  authorizeUrl: string | URL,
  account: { email: string; password: string },
  decision: "approve" | "deny" = "approve",
): Promise<{ location: string; status: number; page?: string; cookie?: string }> {
  const url = new URL(authorizeUrl);
  const signIn = await fetch(url, { redirect: "manual" });
  const signInPage = await signIn.text();
  if (signIn.status !== 200 || !signInPage.includes('name="password"')) {
    return {
      location: signIn.headers.get("Location") ?? "",
      status: signIn.status,
      page: signInPage,
    };
  }
  const form = new URLSearchParams(hiddenFields(signInPage));
  form.set("email", account.email);
  form.set("password", account.password);
  const consent = await fetch(`${server.url}/authorize`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Cookie: cookiesOf(signIn).join("; "),
    },
    body: form,
    redirect: "manual",
  });
  const cookie = cookiesOf(consent).find((c) => c.includes("pensieve_session")) ?? "";
  const consentPage = await consent.text();
  if (consent.status !== 200) return { location: "", status: consent.status, page: consentPage };
  const answer = new URLSearchParams(hiddenFields(consentPage));
  answer.set("action", decision);
  const done = await fetch(`${server.url}/authorize`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: cookie },
    body: answer,
    redirect: "manual",
  });
  const page = await done.text();
  return { location: done.headers.get("Location") ?? "", status: done.status, page, cookie };
}

/** The name=value of each cookie a response sets. */
export function cookiesOf(response: Response): string[] {
  return response.headers.getSetCookie().map((c) => c.split(";")[0]);
}

/** The hidden inputs of a page's form, unescaped. */
export function hiddenFields(html: string): [string, string][] {
  const unescape = (s: string) =>
    s.replaceAll("&quot;", '"').replaceAll("&#39;", "'").replaceAll("&lt;", "<")
      .replaceAll("&gt;", ">").replaceAll("&amp;", "&");
  return [...html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"\s*\/?>/g)].map((
    m,
  ) => [
    unescape(m[1]),
    unescape(m[2]),
  ]);
}

/** An OAuthClientProvider that keeps everything in memory and records where it was sent. */
export class MemoryOAuthProvider implements OAuthClientProvider {
  info?: OAuthClientInformationMixed;
  saved?: OAuthTokens;
  verifier = "";
  authorizationUrl?: URL;

  constructor(readonly redirectUrl = "http://127.0.0.1:53682/callback") {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "Pensieve test client",
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

/** The status a tools/list request to `/mcp` gets with this access token. */
export async function mcpStatus(
  server: Pick<TestServer, "url">,
  accessToken: string,
): Promise<number> {
  const res = await fetch(`${server.url}/mcp`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${accessToken}`,
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
  await res.body?.cancel();
  return res.status;
}

/** base64url(SHA-256(verifier)): the S256 code challenge. */
export async function s256(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return btoa(String.fromCharCode(...new Uint8Array(digest))).replaceAll("+", "-")
    .replaceAll("/", "_").replaceAll("=", "");
}
