import assert from "node:assert/strict";
import { withPage } from "../_helpers/browser.ts";
import { signUp, withServer } from "../_helpers/server.ts";

const CALLBACK = "http://127.0.0.1:53682/callback";

Deno.test("browser: the OAuth sign-in and consent pages work in Chromium and return a code", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const client = await (await fetch(`${server.url}/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        client_name: "Browser client",
        redirect_uris: [CALLBACK],
        token_endpoint_auth_method: "none",
      }),
    })).json();
    const url = new URL(`${server.url}/authorize`);
    for (
      const [k, v] of Object.entries({
        response_type: "code",
        client_id: client.client_id,
        redirect_uri: CALLBACK,
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        code_challenge_method: "S256",
        state: "st4te",
      })
    ) url.searchParams.set(k, v);
    await withPage(async (page) => {
      // The client's callback is not running: answer it here and keep the URL.
      let callback = "";
      await page.route(`${CALLBACK}**`, (route) => {
        callback = route.request().url();
        return route.fulfill({ status: 200, body: "ok" });
      });
      await page.goto(url.href);
      await page.getByLabel("Email").fill(account.email);
      await page.getByLabel("Password").fill(account.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("heading", { name: "Connect Browser client?" }).waitFor();
      await page.getByRole("button", { name: "Approve" }).click();
      await page.waitForURL(`${CALLBACK}**`);
      const back = new URL(callback);
      assert.ok(back.searchParams.get("code"));
      assert.equal(back.searchParams.get("state"), "st4te");
      assert.equal(back.searchParams.get("iss"), server.url);
    });
  }));
