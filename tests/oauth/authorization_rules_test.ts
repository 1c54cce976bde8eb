import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { ManualClock } from "../../core/clock.ts";
import { consentInBrowser, cookiesOf, hiddenFields, mcpStatus, s256 } from "../_helpers/oauth.ts";
import {
  signUp,
  startServer,
  TEST_SECRET,
  type TestServer,
  withServer,
} from "../_helpers/server.ts";
import { spawnServer } from "../_helpers/process.ts";

const REDIRECT = "http://127.0.0.1:53682/callback";

async function pkcePair(): Promise<{ verifier: string; challenge: string }> {
  const verifier = "v".repeat(20) + crypto.randomUUID().replaceAll("-", "");
  return { verifier, challenge: await s256(verifier) };
}

async function register(server: TestServer, metadata: Record<string, unknown> = {}) {
  const res = await fetch(`${server.url}/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      client_name: "Rules client",
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: "none",
      ...metadata,
    }),
  });
  return { status: res.status, body: await res.json() };
}

function authorizeUrl(server: TestServer, params: Record<string, string | undefined>): URL {
  const url = new URL(`${server.url}/authorize`);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) url.searchParams.set(key, value);
  }
  return url;
}

async function token(server: TestServer, form: Record<string, string>) {
  const res = await fetch(`${server.url}/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form),
  });
  return {
    status: res.status,
    cacheControl: res.headers.get("Cache-Control"),
    body: await res.json(),
  };
}

/** Registers, signs in, consents, and returns a code with everything needed to redeem it. */
async function codeFor(server: TestServer, account: { email: string; password: string }) {
  const client = (await register(server)).body;
  const { verifier, challenge } = await pkcePair();
  const consent = await consentInBrowser(
    server,
    authorizeUrl(server, {
      response_type: "code",
      client_id: client.client_id,
      redirect_uri: REDIRECT,
      code_challenge: challenge,
      code_challenge_method: "S256",
      state: "s1",
      resource: `${publicUrlOf(server)}/mcp`,
    }),
    account,
  );
  const code = new URL(consent.location).searchParams.get("code")!;
  return { clientId: client.client_id as string, verifier, code };
}

function redeem(server: TestServer, c: { clientId: string; verifier: string; code: string }) {
  return token(server, {
    grant_type: "authorization_code",
    code: c.code,
    client_id: c.clientId,
    redirect_uri: REDIRECT,
    code_verifier: c.verifier,
    resource: `${publicUrlOf(server)}/mcp`,
  });
}

/** The public URL a server issues for: its own, or the shared one of the two-process test. */
function publicUrlOf(server: TestServer): string {
  return server.config?.publicUrl ?? "http://127.0.0.1:9";
}

Deno.test("discovery: RFC 9728 and RFC 8414 documents, JSON, open to any origin", () =>
  withServer(async (server) => {
    const base = server.url;
    const prm = await fetch(`${base}/.well-known/oauth-protected-resource/mcp`, {
      headers: { Origin: "https://claude.ai" },
    });
    assert.equal(prm.headers.get("Access-Control-Allow-Origin"), "*");
    assert.match(prm.headers.get("Content-Type")!, /^application\/json/);
    const resource = await prm.json();
    assert.equal(resource.resource, `${base}/mcp`);
    assert.deepEqual(resource.authorization_servers, [base]);
    assert.deepEqual(resource.scopes_supported, [
      "conversations:read",
      "conversations:write",
      "conversations:delete",
    ]);
    const as = await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json();
    assert.equal(as.issuer, base);
    assert.deepEqual(as.code_challenge_methods_supported, ["S256"]);
    assert.ok(as.token_endpoint_auth_methods_supported.includes("none"));
    assert.equal(as.client_id_metadata_document_supported, true);
    assert.equal(as.authorization_response_iss_parameter_supported, true);
    for (const key of ["authorization_endpoint", "token_endpoint", "registration_endpoint"]) {
      assert.match(as[key], new RegExp(`^${base}/`));
    }
    const preflight = await fetch(`${base}/token`, {
      method: "OPTIONS",
      headers: { Origin: "https://inspector.example", "Access-Control-Request-Method": "POST" },
    });
    await preflight.body?.cancel();
    assert.equal(preflight.headers.get("Access-Control-Allow-Origin"), "*");
    const challenge = await fetch(`${base}/mcp`, { method: "POST", body: "{}" });
    await challenge.body?.cancel();
    assert.match(challenge.headers.get("WWW-Authenticate")!, /scope="conversations:read /);
  }));

Deno.test("registration: public and confidential clients; bad redirect URIs refused", () =>
  withServer(async (server) => {
    const pub = await register(server);
    assert.equal(pub.status, 201);
    assert.equal(pub.body.token_endpoint_auth_method, "none");
    assert.ok(!("client_secret" in pub.body), "no secret, and no null either");
    for (const value of Object.values(pub.body)) assert.notEqual(value, null);
    assert.equal(typeof pub.body.client_id_issued_at, "number");

    const conf = await register(server, { token_endpoint_auth_method: "client_secret_post" });
    assert.equal(conf.status, 201);
    assert.equal(typeof conf.body.client_secret, "string");
    assert.equal(conf.body.client_secret_expires_at, 0);

    for (
      const uri of [
        "javascript:alert(1)",
        "data:text/html,hi",
        "http://evil.example/cb",
        "https://ok.example/cb#frag",
        "ftp://x.example/",
        "not a url",
      ]
    ) {
      const refused = await register(server, { redirect_uris: [uri] });
      assert.equal(refused.status, 400, uri);
      assert.equal(refused.body.error, "invalid_redirect_uri", uri);
    }
    for (
      const uri of [
        "https://claude.ai/api/mcp/auth_callback",
        "https://claude.com/api/mcp/auth_callback",
        "https://chatgpt.com/connector/oauth/abc123",
        "https://chatgpt.com/connector_platform_oauth_redirect",
        "http://localhost:33418/callback",
        "http://127.0.0.1:3335/oauth/callback",
        "http://[::1]:8080/cb",
      ]
    ) {
      assert.equal((await register(server, { redirect_uris: [uri] })).status, 201, uri);
    }
    const junk = await fetch(`${server.url}/register`, { method: "POST", body: "nope" });
    assert.equal(junk.status, 400);
    assert.equal((await junk.json()).error, "invalid_client_metadata");
  }));

Deno.test("authorize: unknown client and foreign redirect URIs are shown, never redirected to", () =>
  withServer(async (server) => {
    const client = (await register(server)).body;
    const { challenge } = await pkcePair();
    const base = {
      response_type: "code",
      code_challenge: challenge,
      code_challenge_method: "S256",
    };
    for (
      const params of [
        { ...base, client_id: "pcl_unknown", redirect_uri: REDIRECT },
        { ...base, client_id: client.client_id, redirect_uri: "https://evil.example/cb" },
        { ...base, client_id: client.client_id, redirect_uri: "http://127.0.0.1:53682/other" },
      ]
    ) {
      const res = await fetch(authorizeUrl(server, params), { redirect: "manual" });
      assert.equal(res.status, 400);
      assert.equal(res.headers.get("Location"), null);
      assert.match(await res.text(), /cannot be used/);
    }
    // A loopback redirect may change its port (RFC 8252).
    const otherPort = await fetch(
      authorizeUrl(server, {
        ...base,
        client_id: client.client_id,
        redirect_uri: "http://127.0.0.1:40000/callback",
      }),
    );
    assert.equal(otherPort.status, 200);
    assert.match(await otherPort.text(), /Sign in to Pensieve/);
  }));

Deno.test("authorize: PKCE is required and S256 only; wrong resource is refused; all by redirect", () =>
  withServer(async (server) => {
    const client = (await register(server)).body;
    const { challenge } = await pkcePair();
    const base = {
      response_type: "code",
      client_id: client.client_id,
      redirect_uri: REDIRECT,
      state: "xyz",
    };
    const cases: [Record<string, string | undefined>, string][] = [
      [{ ...base }, "invalid_request"],
      [{ ...base, code_challenge: challenge, code_challenge_method: "plain" }, "invalid_request"],
      [{ ...base, code_challenge: challenge }, "invalid_request"],
      [{ ...base, code_challenge: "short", code_challenge_method: "S256" }, "invalid_request"],
      [{
        ...base,
        code_challenge: challenge,
        code_challenge_method: "S256",
        resource: "https://other.example/mcp",
      }, "invalid_target"],
      [{
        ...base,
        code_challenge: challenge,
        code_challenge_method: "S256",
        scope: "everything",
      }, "invalid_scope"],
      [{
        ...base,
        response_type: "token",
        code_challenge: challenge,
        code_challenge_method: "S256",
      }, "unsupported_response_type"],
    ];
    for (const [params, error] of cases) {
      const res = await fetch(authorizeUrl(server, params), { redirect: "manual" });
      await res.body?.cancel();
      assert.equal(res.status, 302, JSON.stringify(params));
      const back = new URL(res.headers.get("Location")!);
      assert.equal(back.origin + back.pathname, REDIRECT);
      assert.equal(back.searchParams.get("error"), error, JSON.stringify(params));
      assert.equal(back.searchParams.get("state"), "xyz");
      assert.equal(back.searchParams.get("iss"), server.url);
    }
  }));

Deno.test("authorize: pages are not framable, escape the client's name, and need the CSRF token", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const client = (await register(server, { client_name: '<script>alert("x")</script>' })).body;
    const { challenge } = await pkcePair();
    const url = authorizeUrl(server, {
      response_type: "code",
      client_id: client.client_id,
      redirect_uri: REDIRECT,
      code_challenge: challenge,
      code_challenge_method: "S256",
    });
    const page = await fetch(url);
    const csp = page.headers.get("Content-Security-Policy")!;
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(page.headers.get("X-Frame-Options"), "DENY");
    const html = await page.text();
    assert.ok(!html.includes("<script>"), "the name is escaped");
    assert.ok(html.includes("&lt;script&gt;"));

    // Wrong password: the sign-in page again, with a message; no cookie.
    const wrong = await consentInBrowser(server, url, { ...account, password: "wrong password!" });
    assert.equal(wrong.status, 401);
    // A forged approval without the session's CSRF token.
    const loginBody = {
      ...Object.fromEntries(url.searchParams),
      action: "login",
      email: account.email,
      password: account.password,
    };
    // Signing in needs the page's own token: another site cannot sign a visitor in.
    const noToken = await fetch(`${server.url}/authorize`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(loginBody),
    });
    assert.equal(noToken.status, 403);
    await noToken.body?.cancel();
    const login = await fetch(`${server.url}/authorize`, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        Cookie: cookiesOf(page).join("; "),
      },
      body: new URLSearchParams({
        ...loginBody,
        csrf: Object.fromEntries(hiddenFields(html)).csrf,
      }),
    });
    const cookie = login.headers.getSetCookie().find((c) => c.startsWith("pensieve_session"))!;
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Lax/i);
    await login.body?.cancel();
    const forged = await fetch(`${server.url}/authorize`, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        Cookie: cookie.split(";")[0],
      },
      body: new URLSearchParams({ ...Object.fromEntries(url.searchParams), action: "approve" }),
      redirect: "manual",
    });
    assert.equal(forged.status, 403);
    await forged.body?.cancel();
    const crossSite = await fetch(`${server.url}/authorize`, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        Cookie: cookie.split(";")[0],
        Origin: "https://evil.example",
      },
      body: new URLSearchParams({ ...Object.fromEntries(url.searchParams), action: "approve" }),
      redirect: "manual",
    });
    assert.equal(crossSite.status, 403);
    await crossSite.body?.cancel();

    const denied = await consentInBrowser(server, url, account, "deny");
    assert.equal(new URL(denied.location).searchParams.get("error"), "access_denied");
  }));

Deno.test("token: wrong verifier, redirect URI, client or resource; codes are single use", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    // Each failed redemption burns the code, so each case gets its own.
    const wrongVerifier = await codeFor(server, account);
    const r1 = await redeem(server, { ...wrongVerifier, verifier: "w".repeat(50) });
    assert.equal(r1.status, 400);
    assert.equal(r1.body.error, "invalid_grant");
    assert.equal(r1.cacheControl, "no-store");

    const wrongRedirect = await codeFor(server, account);
    const r2 = await token(server, {
      grant_type: "authorization_code",
      code: wrongRedirect.code,
      client_id: wrongRedirect.clientId,
      redirect_uri: "http://127.0.0.1:53682/elsewhere",
      code_verifier: wrongRedirect.verifier,
    });
    assert.equal(r2.body.error, "invalid_grant");

    const wrongClient = await codeFor(server, account);
    const other = (await register(server)).body;
    const r3 = await redeem(server, { ...wrongClient, clientId: other.client_id });
    assert.equal(r3.body.error, "invalid_grant");

    const wrongResource = await codeFor(server, account);
    const r4 = await token(server, {
      grant_type: "authorization_code",
      code: wrongResource.code,
      client_id: wrongResource.clientId,
      redirect_uri: REDIRECT,
      code_verifier: wrongResource.verifier,
      resource: "https://other.example/mcp",
    });
    assert.equal(r4.body.error, "invalid_target");

    const unknownClient = await token(server, {
      grant_type: "authorization_code",
      code: "x",
      client_id: "pcl_nobody",
      code_verifier: "v".repeat(43),
    });
    assert.equal(unknownClient.status, 401);
    assert.equal(unknownClient.body.error, "invalid_client");
    const badGrant = await token(server, { grant_type: "password", client_id: other.client_id });
    assert.equal(badGrant.body.error, "unsupported_grant_type");

    // Redeemed once: tokens. Redeemed again: refused, and the first tokens die.
    const good = await codeFor(server, account);
    const first = await redeem(server, good);
    assert.equal(first.status, 200);
    assert.equal(first.cacheControl, "no-store");
    assert.equal(first.body.token_type, "Bearer");
    assert.equal(await mcpStatus(server, first.body.access_token), 200);
    const again = await redeem(server, good);
    assert.equal(again.body.error, "invalid_grant");
    assert.equal(await mcpStatus(server, first.body.access_token), 401);
    const refreshAfter = await token(server, {
      grant_type: "refresh_token",
      refresh_token: first.body.refresh_token,
      client_id: good.clientId,
    });
    assert.equal(refreshAfter.body.error, "invalid_grant");
  }));

Deno.test("token: codes expire after ten minutes", async () => {
  const clock = new ManualClock(Date.now());
  const server = await startServer({ clock });
  try {
    const account = await signUp(server);
    const c = await codeFor(server, account);
    clock.advance(10 * 60_000 + 1);
    const late = await redeem(server, c);
    assert.equal(late.body.error, "invalid_grant");
    assert.match(late.body.error_description, /expired/);
  } finally {
    await server.close();
  }
});

Deno.test("refresh: rotation, a retry within the grace, reuse revokes the family", async () => {
  const clock = new ManualClock(Date.now());
  const server = await startServer({ clock });
  try {
    const account = await signUp(server);
    const c = await codeFor(server, account);
    const issued = (await redeem(server, c)).body;
    const refresh = (refreshToken: string, extra: Record<string, string> = {}) =>
      token(server, {
        grant_type: "refresh_token",
        refresh_token: refreshToken,
        client_id: c.clientId,
        ...extra,
      });

    const second = await refresh(issued.refresh_token);
    assert.equal(second.status, 200);
    assert.notEqual(second.body.refresh_token, issued.refresh_token);
    // The response was lost; the client retries with the old token at once: it gets the same
    // successor again (and a fresh access token).
    clock.advance(5_000);
    const retried = await refresh(issued.refresh_token);
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.equal(retried.body.refresh_token, second.body.refresh_token);
    const narrowed = await refresh(retried.body.refresh_token, { scope: "conversations:read" });
    assert.equal(narrowed.status, 200);
    assert.equal(narrowed.body.scope, "conversations:read");
    const wider = await refresh(narrowed.body.refresh_token, { scope: "conversations:admin" });
    assert.equal(wider.body.error, "invalid_scope");
    const otherResource = await refresh(narrowed.body.refresh_token, {
      resource: "https://other.example/mcp",
    });
    assert.equal(otherResource.body.error, "invalid_target");

    // Later, the old token shows up again: theft. The whole family is revoked.
    clock.advance(60_000);
    const stolen = await refresh(retried.body.refresh_token);
    assert.equal(stolen.body.error, "invalid_grant");
    assert.equal((await refresh(narrowed.body.refresh_token)).body.error, "invalid_grant");
    assert.equal(await mcpStatus(server, narrowed.body.access_token), 401);
  } finally {
    await server.close();
  }
});

Deno.test("refresh: a thief inside the retry window only gets the real client's next token", async () => {
  const clock = new ManualClock(Date.now());
  const server = await startServer({ clock });
  try {
    const account = await signUp(server);
    const c = await codeFor(server, account);
    const r0 = (await redeem(server, c)).body.refresh_token as string;
    const refresh = (refreshToken: string) =>
      token(server, {
        grant_type: "refresh_token",
        refresh_token: refreshToken,
        client_id: c.clientId,
      });
    const real = await refresh(r0);
    clock.advance(3_000);
    const thief = await refresh(r0);
    assert.equal(thief.status, 200, "inside the window it looks like a retry");
    assert.equal(thief.body.refresh_token, real.body.refresh_token, "the same successor");
    // The real client goes on; the thief's copy is now spent, and using it revokes everything.
    const next = await refresh(real.body.refresh_token);
    assert.equal(next.status, 200);
    clock.advance(60_000);
    assert.equal((await refresh(thief.body.refresh_token)).body.error, "invalid_grant");
    assert.equal((await refresh(next.body.refresh_token)).body.error, "invalid_grant");
    assert.equal(await mcpStatus(server, next.body.access_token), 401);
  } finally {
    await server.close();
  }
});

Deno.test("refresh: concurrent refreshes with one token all get the same, working successor", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const c = await codeFor(server, account);
    const r0 = (await redeem(server, c)).body.refresh_token as string;
    const answers = await Promise.all(
      Array.from(
        { length: 5 },
        () =>
          token(server, { grant_type: "refresh_token", refresh_token: r0, client_id: c.clientId }),
      ),
    );
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
    assert.equal(new Set(answers.map((a) => a.body.refresh_token)).size, 1);
    const onward = await token(server, {
      grant_type: "refresh_token",
      refresh_token: answers[0].body.refresh_token,
      client_id: c.clientId,
    });
    assert.equal(onward.status, 200);
  }));

Deno.test("refresh: a connection ends at its absolute lifetime, however often it refreshed", async () => {
  const clock = new ManualClock(Date.now());
  const server = await startServer({ clock, env: { PENSIEVE_OAUTH_REFRESH_TTL: "2d" } });
  try {
    const account = await signUp(server);
    const c = await codeFor(server, account);
    let current = (await redeem(server, c)).body.refresh_token as string;
    for (let hour = 0; hour < 36; hour += 12) {
      clock.advance(12 * 3_600_000);
      const next = await token(server, {
        grant_type: "refresh_token",
        refresh_token: current,
        client_id: c.clientId,
      });
      assert.equal(next.status, 200, `after ${hour + 12} h`);
      current = next.body.refresh_token;
    }
    clock.advance(13 * 3_600_000);
    const late = await token(server, {
      grant_type: "refresh_token",
      refresh_token: current,
      client_id: c.clientId,
    });
    assert.equal(late.body.error, "invalid_grant");
  } finally {
    await server.close();
  }
});

Deno.test("access tokens: expired, wrong audience, dashboard tokens and forged grants are refused", async () => {
  const clock = new ManualClock(Date.now());
  const server = await startServer({ clock });
  try {
    const account = await signUp(server);
    // The dashboard's token at /mcp.
    assert.equal(await mcpStatus(server, account.token), 401);
    const c = await codeFor(server, account);
    const issued = (await redeem(server, c)).body;
    assert.equal(await mcpStatus(server, issued.access_token), 200);
    // A token signed with our key for another audience, or naming a grant that does not exist.
    const sign = (aud: string, gid: string) =>
      new SignJWT({ gid, client_id: c.clientId, scope: "conversations:read" })
        .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
        .setIssuer(server.url).setAudience(aud).setSubject(account.userId)
        .setJti(crypto.randomUUID()).setIssuedAt(Math.floor(clock.now() / 1000))
        .setExpirationTime(Math.floor(clock.now() / 1000) + 600).sign(TEST_SECRET);
    assert.equal(await mcpStatus(server, await sign(server.url, "g")), 401);
    assert.equal(
      await mcpStatus(server, await sign(`${server.url}/mcp`, crypto.randomUUID())),
      401,
    );
    clock.advance(3_600_000 + 1_000);
    assert.equal(await mcpStatus(server, issued.access_token), 401, "expired");
    // A password change revokes OAuth grants as well.
    const freshCode = await codeFor(server, account);
    const fresh = await redeem(server, freshCode);
    assert.equal(await mcpStatus(server, fresh.body.access_token), 200);
    clock.advance(1_000);
    const login = await (await server.call("/auth/login", {
      method: "POST",
      json: { email: account.email, password: account.password },
    })).json();
    const changed = await server.call("/auth/password", {
      method: "POST",
      token: login.access_token,
      json: { current_password: account.password, new_password: "a new long password" },
    });
    assert.equal(changed.status, 200);
    await changed.body?.cancel();
    assert.equal(await mcpStatus(server, fresh.body.access_token), 401);
    const refreshed = await token(server, {
      grant_type: "refresh_token",
      refresh_token: fresh.body.refresh_token,
      client_id: freshCode.clientId,
    });
    assert.equal(refreshed.body.error, "invalid_grant");
  } finally {
    await server.close();
  }
});

Deno.test("revoke: RFC 7009 ends the grant behind a refresh or access token", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const c = await codeFor(server, account);
    const issued = (await redeem(server, c)).body;
    const revoke = (tokenValue: string, clientId = c.clientId) =>
      fetch(`${server.url}/revoke`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: tokenValue, client_id: clientId }),
      });
    const other = (await register(server)).body;
    const foreign = await revoke(issued.refresh_token, other.client_id);
    assert.equal(foreign.status, 200, "another client's attempt is answered, and ignored");
    assert.equal(await mcpStatus(server, issued.access_token), 200);
    const unknown = await revoke("psr_unknown");
    assert.equal(unknown.status, 200);
    const res = await revoke(issued.refresh_token);
    assert.equal(res.status, 200);
    assert.equal(await mcpStatus(server, issued.access_token), 401);

    const second = (await redeem(server, await codeFor(server, account))).body;
    const byAccess = await revoke(
      second.access_token,
      (await (await server.call(
        "/api/connected-apps",
        { token: account.token },
      )).json()).connected_apps[0].client_id,
    );
    assert.equal(byAccess.status, 200);
    assert.equal(await mcpStatus(server, second.access_token), 401);
  }));

Deno.test("client metadata documents: URLs at private or loopback addresses are never fetched", () =>
  withServer(async (server) => {
    const { challenge } = await pkcePair();
    for (
      const clientId of [
        "https://127.0.0.1/client.json",
        "https://localhost/client.json",
        "https://10.0.0.8/client.json",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/client.json",
        "https://192.168.1.10/client.json",
        "http://public.example/client.json",
        "https://public.example/",
      ]
    ) {
      const res = await fetch(
        authorizeUrl(server, {
          response_type: "code",
          client_id: clientId,
          redirect_uri: REDIRECT,
          code_challenge: challenge,
          code_challenge_method: "S256",
        }),
        { redirect: "manual" },
      );
      assert.equal(res.status, 400, clientId);
      assert.equal(res.headers.get("Location"), null);
      await res.body?.cancel();
    }
  }));

Deno.test("two server processes on one database: authorize on one, token and tools on the other", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-oauth-two-" });
  const env = {
    PENSIEVE_DB: `sqlite:${dir}/pensieve.db`,
    PENSIEVE_JWT_SECRET: "a-shared-secret-for-both-instances-0123456789",
    // Both instances stand behind one public name, as behind a load balancer.
    PENSIEVE_PUBLIC_URL: "http://127.0.0.1:9",
  };
  const one = await spawnServer(env);
  const two = await spawnServer(env);
  try {
    const a = { url: one.url } as TestServer;
    const b = { url: two.url } as TestServer;
    const account = await (await fetch(`${one.url}/auth/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: "two@example.com", password: "a long passphrase" }),
    })).json();
    void account;
    const c = await codeFor(a, { email: "two@example.com", password: "a long passphrase" });
    const issued = await token(b, {
      grant_type: "authorization_code",
      code: c.code,
      client_id: c.clientId,
      redirect_uri: REDIRECT,
      code_verifier: c.verifier,
      resource: "http://127.0.0.1:9/mcp",
    });
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    assert.equal(await mcpStatus(b, issued.body.access_token), 200);
    const refreshed = await token(a, {
      grant_type: "refresh_token",
      refresh_token: issued.body.refresh_token,
      client_id: c.clientId,
    });
    assert.equal(refreshed.status, 200);
    assert.equal(await mcpStatus(b, refreshed.body.access_token), 200);
  } finally {
    for (const server of [one, two]) {
      server.child.kill("SIGTERM");
      await server.wait();
    }
    await Deno.remove(dir, { recursive: true });
  }
});
