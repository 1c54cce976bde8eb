import assert from "node:assert/strict";
import type { MetadataFetcher } from "../../core/oauth/client_metadata_document.ts";
import { consentInBrowser } from "../_helpers/oauth.ts";
import { signUp, withServer } from "../_helpers/server.ts";

const CLIENT_ID = "https://client.example/oauth/metadata.json";
const REDIRECT = "http://127.0.0.1:53682/callback";

/** The remote party: a client publishing its metadata document at its client_id URL. */
function remoteClient(document: unknown, address = "93.184.216.34") {
  const fetched: string[] = [];
  const fetcher: MetadataFetcher = {
    resolve: () => Promise.resolve([address]),
    fetch: (url, checked) => {
      fetched.push(`${url.href} via ${checked}`);
      return Promise.resolve({
        status: 200,
        body: new TextEncoder().encode(JSON.stringify(document)),
      });
    },
  };
  return { fetcher, fetched };
}

async function challenge(): Promise<{ verifier: string; challenge: string }> {
  const verifier = "m".repeat(43);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  const c = btoa(String.fromCharCode(...new Uint8Array(digest))).replaceAll("+", "-")
    .replaceAll("/", "_").replaceAll("=", "");
  return { verifier, challenge: c };
}

Deno.test("client metadata document: a URL client_id is fetched, cached, and can sign in", async () => {
  const remote = remoteClient({
    client_id: CLIENT_ID,
    client_name: "Document Client",
    redirect_uris: [REDIRECT],
    token_endpoint_auth_method: "none",
  });
  await withServer(async (server) => {
    const account = await signUp(server);
    const pkce = await challenge();
    const url = new URL(`${server.url}/authorize`);
    for (
      const [k, v] of Object.entries({
        response_type: "code",
        client_id: CLIENT_ID,
        redirect_uri: REDIRECT,
        code_challenge: pkce.challenge,
        code_challenge_method: "S256",
      })
    ) url.searchParams.set(k, v);
    const consent = await consentInBrowser(server, url, account);
    assert.equal(consent.status, 302, consent.page ?? "");
    const code = new URL(consent.location).searchParams.get("code")!;
    const res = await fetch(`${server.url}/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        client_id: CLIENT_ID,
        redirect_uri: REDIRECT,
        code_verifier: pkce.verifier,
      }),
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.deepEqual(
      remote.fetched,
      [`${CLIENT_ID} via 93.184.216.34`],
      "fetched once, from the checked address, then cached",
    );
    const apps = await (await server.call("/api/connected-apps", { token: account.token })).json();
    assert.equal(apps.connected_apps[0].client_name, "Document Client");
  }, { metadataFetcher: remote.fetcher });
});

Deno.test("client metadata document: wrong client_id, bad redirects, secrets and private DNS are refused", async () => {
  const cases: [unknown, string?][] = [
    [{ client_id: "https://someone.else/doc.json", redirect_uris: [REDIRECT] }],
    [{ client_id: CLIENT_ID, redirect_uris: ["javascript:alert(1)"] }],
    [{
      client_id: CLIENT_ID,
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: "client_secret_basic",
    }],
    [{ client_id: CLIENT_ID }],
    [{ client_id: CLIENT_ID, redirect_uris: [REDIRECT] }, "10.1.2.3"],
    [{ client_id: CLIENT_ID, redirect_uris: [REDIRECT] }, "::1"],
  ];
  for (const [document, address] of cases) {
    const remote = remoteClient(document, address);
    await withServer(async (server) => {
      const url = new URL(`${server.url}/authorize`);
      url.searchParams.set("client_id", CLIENT_ID);
      url.searchParams.set("redirect_uri", REDIRECT);
      const res = await fetch(url, { redirect: "manual" });
      assert.equal(res.status, 400, JSON.stringify([document, address]));
      assert.equal(res.headers.get("Location"), null);
      await res.body?.cancel();
      if (address) assert.deepEqual(remote.fetched, [], "never fetched from a private address");
    }, { metadataFetcher: remote.fetcher });
  }
});
