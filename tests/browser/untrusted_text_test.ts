import assert from "node:assert/strict";
import { withPage } from "../_helpers/browser.ts";
import { signUp, withServer } from "../_helpers/server.ts";

/** Each payload would set window.__xss (or open a dialog) if any of it ran. */
const PAYLOADS = [
  "<script>window.__xss = 1</script>",
  '<img src=x onerror="window.__xss = 2">',
  '<svg onload="window.__xss = 3"></svg>',
  "[click me](javascript:window.__xss=4)",
  "![img](javascript:window.__xss=5)",
  '<a href="javascript:window.__xss=6">raw link</a>',
  '<iframe srcdoc="<script>parent.__xss=7</script>"></iframe>',
  '"><script>window.__xss=8</script>',
];

Deno.test("browser: conversation text, titles and tags are shown as text; none of it runs", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const saved = await (await server.call("/api/conversations", {
      method: "POST",
      token: account.token,
      json: {
        title: '<img src=x onerror="window.__xss = 9">Evil title',
        tags: ["<b>bold</b>", '"><svg onload="window.__xss=10">'],
        messages: PAYLOADS.map((content, i) => ({
          role: i % 2 ? "assistant" : "user",
          content: `${content} payload${i}`,
        })),
      },
    })).json();
    const id = saved.conversation.id;
    await withPage(async (page) => {
      const dialogs: string[] = [];
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        d.dismiss();
      });
      await page.goto(`${server.url}/login`);
      await page.getByLabel("Email").fill(account.email);
      await page.getByLabel("Password").fill(account.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(`${server.url}/dashboard`);
      assert.match(await page.locator("ul.conversations h2").innerText(), /<img src=x onerror=/);
      assert.equal(await page.locator("ul.conversations b").count(), 0);

      await page.goto(`${server.url}/dashboard?q=payload3`);
      await page.locator("mark").first().waitFor();

      await page.goto(`${server.url}/dashboard/conversations/${id}`);
      const body = await page.locator("ol.messages").innerText();
      for (const [i, payload] of PAYLOADS.entries()) {
        assert.ok(body.includes(`payload${i}`), `payload ${i} is on the page`);
        if (payload.startsWith("<")) assert.ok(body.includes(payload.slice(0, 12)), payload);
      }
      assert.equal(
        await page.locator(
          "ol.messages script, ol.messages img, ol.messages svg, ol.messages iframe",
        ).count(),
        0,
      );
      const hrefs = await page.locator("ol.messages a").evaluateAll((links) =>
        links.map((a) => (a as HTMLAnchorElement).href)
      );
      assert.ok(hrefs.every((href) => !href.startsWith("javascript:")), hrefs.join(" "));
      // Click everything that looks like a link; still nothing may run.
      for (const link of await page.locator("ol.messages a").all()) {
        await link.click({ modifiers: ["Control"] });
      }
      assert.equal(
        await page.evaluate(() => (window as unknown as { __xss?: number }).__xss),
        undefined,
      );
      assert.deepEqual(dialogs, []);
      assert.match(await page.locator("h1").innerText(), /<img src=x onerror=/);
    });
  }));

Deno.test("forms refuse a foreign Origin and a missing or wrong CSRF token", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const saved = await (await server.call("/api/conversations", {
      method: "POST",
      token: account.token,
      json: { title: "Keep me", messages: [{ role: "user", content: "hello" }] },
    })).json();
    // A browser session: sign in through the form.
    const loginPage = await fetch(`${server.url}/login`);
    const anon = loginPage.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    const csrf = /name="csrf" value="([^"]+)"/.exec(await loginPage.text())![1];
    const login = await fetch(`${server.url}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: anon },
      body: new URLSearchParams({ csrf, email: account.email, password: account.password }),
    });
    assert.equal(login.status, 303);
    const sessionCookie = login.headers.getSetCookie().find((c) =>
      c.startsWith("pensieve_session")
    )!;
    // A browser stays signed in for a week, not for one access-token hour.
    assert.match(sessionCookie, /Max-Age=604800/);
    assert.match(sessionCookie, /HttpOnly/);
    assert.match(sessionCookie, /SameSite=Lax/);
    const session = sessionCookie.split(";")[0];
    const page =
      await (await fetch(`${server.url}/dashboard/conversations/${saved.conversation.id}`, {
        headers: { Cookie: session },
      })).text();
    const token = /name="csrf" value="([^"]+)"/.exec(page)![1];
    const del = (headers: Record<string, string>, body: Record<string, string>) =>
      fetch(`${server.url}/dashboard/conversations/${saved.conversation.id}/delete`, {
        method: "POST",
        redirect: "manual",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          Cookie: session,
          ...headers,
        },
        body: new URLSearchParams(body),
      });
    for (
      const [headers, body] of [
        [{}, {}],
        [{}, { csrf: "forged" }],
        [{ Origin: "https://evil.example" }, { csrf: token }],
      ] as [Record<string, string>, Record<string, string>][]
    ) {
      const refused = await del(headers, body);
      assert.equal(refused.status, 403, JSON.stringify([headers, body]));
      await refused.body?.cancel();
    }
    const still = await server.call(`/api/conversations/${saved.conversation.id}`, {
      token: account.token,
    });
    assert.equal(still.status, 200);
    await still.body?.cancel();
    const ok = await del({ Origin: server.url }, { csrf: token });
    assert.equal(ok.status, 303);
    await ok.body?.cancel();
    // Signing in without the page's token is refused too (no login CSRF).
    const blind = await fetch(`${server.url}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ email: account.email, password: account.password }),
    });
    assert.equal(blind.status, 403);
    await blind.body?.cancel();
  }));
