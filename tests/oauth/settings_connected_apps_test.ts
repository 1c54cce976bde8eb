import assert from "node:assert/strict";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { consentInBrowser, hiddenFields, MemoryOAuthProvider } from "../_helpers/oauth.ts";
import { signUp, withServer } from "../_helpers/server.ts";

Deno.test("settings page: lists the connected app with its scopes and disconnects it", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const provider = new MemoryOAuthProvider();
    const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
      authProvider: provider,
    });
    await assert.rejects(new Client({ name: "page", version: "1" }).connect(transport));
    const consent = await consentInBrowser(server, provider.authorizationUrl!, account);
    await transport.finishAuth(new URL(consent.location).searchParams);
    const cookie = consent.cookie!;

    const signedOut = await fetch(`${server.url}/settings`, { redirect: "manual" });
    assert.equal(signedOut.status, 303);
    assert.equal(signedOut.headers.get("Location"), "/login?next=%2Fsettings");
    await signedOut.body?.cancel();

    const page = await fetch(`${server.url}/settings`, { headers: { Cookie: cookie } });
    const html = await page.text();
    assert.match(html, /Pensieve test client/);
    assert.match(html, /conversations:read, conversations:write, conversations:delete/);
    assert.match(page.headers.get("Content-Security-Policy")!, /frame-ancestors 'none'/);
    const action = /action="(\/settings\/apps\/[^"]+\/disconnect)"/.exec(html)![1];
    const csrf = Object.fromEntries(hiddenFields(html)).csrf;

    const forged = await fetch(server.url + action, {
      method: "POST",
      headers: { Cookie: cookie, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf: "nope" }),
      redirect: "manual",
    });
    assert.equal(forged.status, 403);
    await forged.body?.cancel();
    const done = await fetch(server.url + action, {
      method: "POST",
      headers: { Cookie: cookie, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf }),
      redirect: "manual",
    });
    assert.equal(done.status, 303);
    await done.body?.cancel();
    const after = await (await fetch(`${server.url}/settings`, {
      headers: { Cookie: cookie },
    })).text();
    assert.match(after, /No app is connected/);
    const apps = await (await server.call("/api/connected-apps", { token: account.token })).json();
    assert.deepEqual(apps.connected_apps, []);
  }));
