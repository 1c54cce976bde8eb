import assert from "node:assert/strict";
import { ManualClock } from "../../core/clock.ts";
import {
  isPrivateAddress,
  type MetadataFetcher,
} from "../../core/oauth/client_metadata_document.ts";
import { consentInBrowser, mcpStatus, s256 } from "../_helpers/oauth.ts";
import {
  signUp,
  signUpForMcp,
  startServer,
  type TestServer,
  withServer,
} from "../_helpers/server.ts";

const REDIRECT = "http://127.0.0.1:53682/callback";
const VERIFIER = "e".repeat(43);

async function registerClient(server: TestServer): Promise<string> {
  const res = await fetch(`${server.url}/register`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" }),
  });
  return (await res.json()).client_id;
}

async function code(
  server: TestServer,
  account: { email: string; password: string },
  clientId: string,
  withRedirect = true,
): Promise<string> {
  const url = new URL(`${server.url}/authorize`);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", clientId);
  if (withRedirect) url.searchParams.set("redirect_uri", REDIRECT);
  url.searchParams.set("code_challenge", await s256(VERIFIER));
  url.searchParams.set("code_challenge_method", "S256");
  const consent = await consentInBrowser(server, url, account);
  return new URL(consent.location).searchParams.get("code")!;
}

function post(server: TestServer, path: string, form: Record<string, string>, headers = {}) {
  return fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(form),
  });
}

Deno.test("one code redeemed twice at once: one answer, and its tokens are revoked", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const clientId = await registerClient(server);
    const c = await code(server, account, clientId);
    const form = {
      grant_type: "authorization_code",
      code: c,
      client_id: clientId,
      redirect_uri: REDIRECT,
      code_verifier: VERIFIER,
    };
    const answers = await Promise.all([post(server, "/token", form), post(server, "/token", form)]);
    const bodies = await Promise.all(answers.map((r) => r.json()));
    const ok = bodies.filter((b) => b.access_token);
    assert.equal(ok.length, 1);
    assert.equal(bodies.filter((b) => b.error === "invalid_grant").length, 1);
    assert.equal(await mcpStatus(server, ok[0].access_token), 401);
  }));

Deno.test("a code issued before a password change cannot be redeemed after it", async () => {
  const clock = new ManualClock(Date.now());
  const server = await startServer({ clock });
  try {
    const account = await signUp(server);
    const clientId = await registerClient(server);
    const c = await code(server, account, clientId);
    clock.advance(2_000);
    const changed = await server.call("/auth/password", {
      method: "POST",
      token: account.token,
      json: { current_password: account.password, new_password: "another long password" },
    });
    assert.equal(changed.status, 200);
    await changed.body?.cancel();
    clock.advance(1_000);
    const res = await post(server, "/token", {
      grant_type: "authorization_code",
      code: c,
      client_id: clientId,
      redirect_uri: REDIRECT,
      code_verifier: VERIFIER,
    });
    assert.equal((await res.json()).error, "invalid_grant");
  } finally {
    await server.close();
  }
});

Deno.test("another user's app id: 404, and the owner's connection is untouched", () =>
  withServer(async (server) => {
    const owner = await signUp(server);
    const other = await signUp(server);
    const clientId = await registerClient(server);
    const tokens = await (await post(server, "/token", {
      grant_type: "authorization_code",
      code: await code(server, owner, clientId),
      client_id: clientId,
      redirect_uri: REDIRECT,
      code_verifier: VERIFIER,
    })).json();
    const apps = await (await server.call("/api/connected-apps", { token: owner.token })).json();
    const id = apps.connected_apps[0].id;
    const attempt = await server.call(`/api/connected-apps/${id}`, {
      method: "DELETE",
      token: other.token,
    });
    assert.equal(attempt.status, 404);
    await attempt.body?.cancel();
    const refreshed = await post(server, "/token", {
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token,
      client_id: clientId,
    });
    assert.equal(refreshed.status, 200);
    await refreshed.body?.cancel();
  }));

Deno.test("token request without redirect_uri when the authorization request had none", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const clientId = await registerClient(server);
    const res = await post(server, "/token", {
      grant_type: "authorization_code",
      code: await code(server, account, clientId, false),
      client_id: clientId,
      code_verifier: VERIFIER,
    });
    assert.equal(res.status, 200, JSON.stringify(await res.clone().json()));
    await res.body?.cancel();
  }));

Deno.test("malformed Basic credentials and odd tool names are 4xx, never 500", () =>
  withServer(async (server) => {
    for (const raw of ["%:x", "%ZZ:y", "a:%"]) {
      for (const path of ["/token", "/revoke"]) {
        const res = await post(server, path, { grant_type: "refresh_token", token: "x" }, {
          Authorization: `Basic ${btoa(raw)}`,
        });
        assert.equal(res.status, 401, `${path} ${raw}`);
        assert.equal((await res.json()).error, "invalid_client");
      }
    }
    const { token } = await signUpForMcp(server);
    for (const name of ["constructor", "__proto__", "toString"]) {
      const res = await fetch(`${server.url}/mcp`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${token}`,
          "Content-Type": "application/json",
          Accept: "application/json, text/event-stream",
          "MCP-Protocol-Version": "2025-11-25",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "tools/call",
          params: { name, arguments: {} },
        }),
      });
      assert.equal(res.status, 200, name);
      assert.ok(!(await res.text()).includes("native code"));
    }
  }));

Deno.test("loopback redirects with a fragment or user info are refused", () =>
  withServer(async (server) => {
    const clientId = await registerClient(server);
    for (const uri of ["http://evil@127.0.0.1:9999/callback", "http://127.0.0.1:9999/callback#x"]) {
      const url = new URL(`${server.url}/authorize`);
      url.searchParams.set("client_id", clientId);
      url.searchParams.set("redirect_uri", uri);
      const res = await fetch(url, { redirect: "manual" });
      assert.equal(res.status, 400, uri);
      await res.body?.cancel();
    }
  }));

Deno.test("metadata documents: failures are not echoed, are remembered, and never crash", async () => {
  let fetches = 0;
  const failing: MetadataFetcher = {
    resolve: () => Promise.resolve(["93.184.216.34"]),
    fetch: (url) => {
      fetches++;
      if (url.pathname.includes("slow")) {
        return Promise.reject(new DOMException("", "TimeoutError"));
      }
      return Promise.resolve({ status: 418, body: new Uint8Array() });
    },
  };
  await withServer(async (server) => {
    for (const id of ["https://client.example/teapot.json", "https://client.example/slow.json"]) {
      for (let i = 0; i < 2; i++) {
        const url = new URL(`${server.url}/authorize`);
        url.searchParams.set("client_id", id);
        url.searchParams.set("redirect_uri", REDIRECT);
        const res = await fetch(url);
        assert.equal(res.status, 400);
        assert.ok(!(await res.text()).includes("418"));
      }
      const token = await post(server, "/token", {
        grant_type: "refresh_token",
        refresh_token: "x",
        client_id: id,
      });
      assert.equal(token.status, 401);
      await token.body?.cancel();
    }
    assert.equal(fetches, 2, "each failure fetched once, then remembered");
  }, { metadataFetcher: failing });
});

Deno.test("private addresses in every spelling", () => {
  for (
    const ip of [
      "127.0.0.1",
      "10.0.0.1",
      "172.16.5.4",
      "192.168.0.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "198.51.100.7",
      "203.0.113.9",
      "224.0.0.1",
      "::1",
      "0:0:0:0:0:0:0:1",
      "0::1",
      "::",
      "::7f00:1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "[::1]",
      "fc00::1",
      "fd12:3456::1",
      "fe80::1",
      "fec0::1",
      "ff02::1",
      "64:ff9b::a00:1",
      "2001:db8::1",
      "not an address",
      "1:2:3",
    ]
  ) {
    assert.equal(isPrivateAddress(ip), true, ip);
  }
  for (const ip of ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) {
    assert.equal(isPrivateAddress(ip), false, ip);
  }
});
