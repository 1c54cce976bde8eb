import assert from "node:assert/strict";
import { withPage } from "../_helpers/browser.ts";
import { signUp, type TestServer, withServer } from "../_helpers/server.ts";

/** A signed-in browser session without a browser: the cookie and a page's CSRF token. */
async function browserSession(server: TestServer, email: string, password: string) {
  const loginPage = await fetch(`${server.url}/login`);
  const anon = loginPage.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const csrf = /name="csrf" value="([^"]+)"/.exec(await loginPage.text())![1];
  const login = await fetch(`${server.url}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: anon },
    body: new URLSearchParams({ csrf, email, password }),
  });
  await login.body?.cancel();
  const cookie = login.headers.getSetCookie().find((c) => c.startsWith("pensieve_session"))!
    .split(";")[0];
  const get = (path: string) => fetch(server.url + path, { headers: { Cookie: cookie } });
  const tokenOf = async (path: string) =>
    /name="csrf" value="([^"]+)"/.exec(await (await get(path)).text())![1];
  const post = async (path: string, from: string, form: Record<string, string>) =>
    fetch(server.url + path, {
      method: "POST",
      redirect: "manual",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        Cookie: cookie,
        Referer: server.url + from,
      },
      body: new URLSearchParams({ csrf: await tokenOf(from), ...form }),
    });
  return { cookie, get, post };
}

Deno.test("next= never leads off the site, whatever it hides", () =>
  withServer(async (server) => {
    for (
      const next of [
        "/\t/evil.example/x",
        "/\n/evil.example",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "/%2F%2Fevil.example",
      ]
    ) {
      const res = await fetch(
        `${server.url}/language/en?next=${encodeURIComponent(next)}`,
        { redirect: "manual" },
      );
      await res.body?.cancel();
      assert.equal(res.status, 303, JSON.stringify(next));
      const location = res.headers.get("Location")!;
      assert.equal(new URL(location, server.url).origin, server.url, JSON.stringify(next));
      assert.ok(!/[\t\n\r]/.test(location));
    }
  }));

Deno.test("settings: the password can be changed, and the browser stays signed in", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const browser = await browserSession(server, account.email, account.password);
    const res = await browser.post("/settings/password", "/settings", {
      current_password: account.password,
      new_password: "a brand new passphrase",
    });
    const page = await res.text();
    assert.equal(res.status, 200, page.slice(0, 500));
    assert.match(page, /Password changed/);
    const login = await server.call("/auth/login", {
      method: "POST",
      json: { email: account.email, password: "a brand new passphrase" },
    });
    assert.equal(login.status, 200);
    await login.body?.cancel();
  }));

Deno.test("rename: tags holding commas survive a title change; an empty title is refused", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const saved = await (await server.call("/api/conversations", {
      method: "POST",
      token: account.token,
      json: { title: "Before", tags: ["work,2024", "misc"], messages: [] },
    })).json();
    const id = saved.conversation.id;
    const browser = await browserSession(server, account.email, account.password);
    const page = await (await browser.get(`/dashboard/conversations/${id}`)).text();
    const shown = /name="tags_shown" value="([^"]*)"/.exec(page)![1];
    const renamed = await browser.post(
      `/dashboard/conversations/${id}`,
      `/dashboard/conversations/${id}`,
      {
        title: "After",
        tags: shown,
        tags_shown: shown,
      },
    );
    assert.equal(renamed.status, 303);
    await renamed.body?.cancel();
    const head = await (await server.call(`/api/conversations/${id}`, { token: account.token }))
      .json();
    assert.equal(head.conversation.title, "After");
    assert.deepEqual(head.conversation.tags, ["work,2024", "misc"]);

    const blank = await browser.post(
      `/dashboard/conversations/${id}`,
      `/dashboard/conversations/${id}`,
      {
        title: "   ",
        tags: shown,
        tags_shown: shown,
      },
    );
    assert.equal(blank.status, 400);
    assert.match(await blank.text(), /A title can&#39;t be empty|A title can't be empty/);
    const api = await server.call(`/api/conversations/${id}`, {
      method: "PATCH",
      token: account.token,
      json: { title: "   " },
    });
    assert.equal(api.status, 400);
    await api.body?.cancel();
  }));

Deno.test("export: lazy, and a conversation deleted meanwhile is left out, not a broken file", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const save = async (title: string, messages: { role: string; content: string }[]) =>
      (await (await server.call("/api/conversations", {
        method: "POST",
        token: account.token,
        json: { title, messages },
      })).json()).conversation.id as string;
    const two = await save("two", [{ role: "user", content: "two" }]);
    await save("three", [{ role: "user", content: "three" }]);
    // Newest first: this one is exported first, and is larger than the socket buffers, so the
    // server cannot run ahead of a client that has read only the start.
    const big = "x".repeat(900_000);
    await save("big", Array.from({ length: 9 }, () => ({ role: "user", content: big })));
    const browser = await browserSession(server, account.email, account.password);
    const res = await browser.get("/settings/export");
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value, { stream: true });
    assert.match(text, /^\{"format":"pensieve-export"/);
    await new Promise((r) => setTimeout(r, 200));
    const del = await server.call(`/api/conversations/${two}`, {
      method: "DELETE",
      token: account.token,
    });
    assert.equal(del.status, 204);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    const file = JSON.parse(text);
    assert.deepEqual(file.conversations.map((c: { title: string }) => c.title), ["big", "three"]);
  }, { env: { PENSIEVE_MAX_BODY_BYTES: "20000000" } }));

Deno.test("after a form post, the language switch points at the page, not at the post", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const browser = await browserSession(server, account.email, account.password);
    const res = await browser.post("/settings/tokens", "/settings", { name: "laptop" });
    const page = await res.text();
    assert.match(page, /href="\/language\/ko\?next=%2Fsettings"/);
  }));

Deno.test("browser islands: an older search answering late does not replace a newer one", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    for (const content of ["apple notes", "banana bread"]) {
      const res = await server.call("/api/conversations", {
        method: "POST",
        token: account.token,
        json: { messages: [{ role: "user", content }] },
      });
      await res.body?.cancel();
    }
    await withPage(async (page) => {
      await page.route(/q=apple/, async (route) => {
        await new Promise((r) => setTimeout(r, 800));
        await route.continue();
      });
      await page.goto(`${server.url}/login`);
      await page.getByLabel("Email").fill(account.email);
      await page.getByLabel("Password").fill(account.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(`${server.url}/dashboard`);
      await page.waitForFunction(() => document.documentElement.dataset.islands === "ready");
      const search = page.getByLabel("Search");
      await search.fill("apple");
      await new Promise((r) => setTimeout(r, 350)); // the apple request is on its way
      await search.fill("banana");
      await page.locator("#results mark", { hasText: "banana" }).waitFor();
      await new Promise((r) => setTimeout(r, 900)); // the apple answer arrives, late
      assert.equal(await page.locator("#results mark").innerText(), "banana");

      // Copy as Markdown after the session ended elsewhere: a failure, not the sign-in page.
      await page.locator("#results a").first().click();
      await page.context().clearCookies();
      await page.getByRole("button", { name: "Copy as Markdown" }).click();
      await page.getByRole("button", { name: "✕" }).waitFor();
    }, { permissions: ["clipboard-read", "clipboard-write"] });
  }));
