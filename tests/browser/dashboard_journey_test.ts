import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { SCREENSHOTS, withPage } from "../_helpers/browser.ts";
import { type TestServer, withServer } from "../_helpers/server.ts";

const PHONE = { width: 390, height: 844 };

async function signUpInBrowser(page: Page, server: TestServer, email: string): Promise<void> {
  await page.goto(`${server.url}/signup`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("a long passphrase");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(`${server.url}/dashboard`);
}

/** The same person's API token, as a script of theirs would have. */
async function apiToken(server: TestServer, email: string): Promise<string> {
  const res = await server.call("/auth/login", {
    method: "POST",
    json: { email, password: "a long passphrase" },
  });
  return (await res.json()).access_token;
}

async function shot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname, fullPage: true });
}

Deno.test("browser: sign up, see a saved conversation, search, open, rename, delete, sign out", () =>
  withServer((server) =>
    withPage(async (page) => {
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await signUpInBrowser(page, server, "journey@example.com");
      await assert.doesNotReject(page.getByText("No conversations yet.").waitFor());
      await shot(page, "dashboard-empty-desktop");

      const token = await apiToken(server, "journey@example.com");
      const saved = await (await server.call("/api/conversations", {
        method: "POST",
        token,
        json: {
          title: "Kyoto trip",
          source: "claude",
          tags: ["travel"],
          messages: [
            { role: "user", content: "Plan three days in **Kyoto**" },
            {
              role: "assistant",
              content: "Day 1: Fushimi Inari at dawn.\n\n```\nbring water\n```\n\n- temples\n- tea",
            },
          ],
        },
      })).json();
      const id = saved.conversation.id;

      await page.goto(`${server.url}/dashboard`);
      await page.getByRole("link", { name: "Kyoto trip" }).waitFor();
      assert.match(await page.locator(".meta").first().innerText(), /from claude/);
      await shot(page, "dashboard-desktop");

      await page.getByLabel("Search").fill("fushimi");
      await page.getByRole("button", { name: "Search" }).click();
      await page.waitForURL(/q=fushimi/);
      assert.equal(await page.locator("mark").first().innerText(), "Fushimi");

      await page.getByRole("link", { name: "Kyoto trip" }).click();
      await page.waitForURL(new RegExp(`/dashboard/conversations/${id}`));
      assert.equal(await page.locator(".message.user .body strong").innerText(), "Kyoto");
      assert.equal(
        (await page.locator(".message.assistant .body pre").innerText()).trim(),
        "bring water",
      );
      await shot(page, "conversation-desktop");

      await page.getByText("Rename").click();
      await page.getByLabel("Title").fill("Kyoto and Nara");
      await page.getByRole("button", { name: "Save" }).click();
      await page.getByRole("heading", { name: "Kyoto and Nara" }).waitFor();
      const head = await (await server.call(`/api/conversations/${id}`, { token })).json();
      assert.equal(head.conversation.title, "Kyoto and Nara");

      await page.getByRole("link", { name: "Delete" }).click();
      await page.getByRole("heading", { name: "Delete this conversation?" }).waitFor();
      await page.getByRole("button", { name: "Delete" }).click();
      await page.waitForURL(`${server.url}/dashboard`);
      const gone = await server.call(`/api/conversations/${id}`, { token });
      assert.equal(gone.status, 404);
      await gone.body?.cancel();

      await page.getByRole("button", { name: "Sign out" }).click();
      await page.waitForURL(`${server.url}/`);
      await page.goto(`${server.url}/dashboard`);
      await page.waitForURL(/\/login\?next=/);
      assert.deepEqual(errors, []);
    })
  ));

Deno.test("browser: create a personal access token, use it once, revoke it", () =>
  withServer((server) =>
    withPage(async (page) => {
      await signUpInBrowser(page, server, "tokens@example.com");
      await page.goto(`${server.url}/settings`);
      await page.getByLabel("Name").fill("laptop script");
      await page.getByRole("button", { name: "Create token" }).click();
      const secret = (await page.locator(".secret code").innerText()).trim();
      assert.match(secret, /^psv_/);
      await shot(page, "settings-desktop");
      const works = await server.call("/api/conversations", { token: secret });
      assert.equal(works.status, 200);
      await works.body?.cancel();

      await page.goto(`${server.url}/settings`);
      assert.equal(await page.locator(".secret").count(), 0, "shown only once");
      await page.getByRole("button", { name: "Revoke" }).click();
      await page.getByText("No tokens.").waitFor();
      const refused = await server.call("/api/conversations", { token: secret });
      assert.equal(refused.status, 401);
      await refused.body?.cancel();
    })
  ));

Deno.test("browser: pages at phone width, in Korean by Accept-Language, with a switch", () =>
  withServer(async (server) => {
    await withPage(async (page) => {
      await page.goto(`${server.url}/`);
      assert.equal(await page.locator("html").getAttribute("lang"), "ko");
      await page.getByRole("heading", { name: "AI 클라이언트 연결" }).waitFor();
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= PHONE.width, `no sideways scrolling (${width}px)`);
      await shot(page, "home-phone-ko");
      await page.getByRole("link", { name: "English" }).click();
      await page.getByRole("heading", { name: "Connect an AI client" }).waitFor();
      await shot(page, "home-phone");
      await signUpInBrowser(page, server, "phone@example.com");
      await shot(page, "dashboard-empty-phone");
      // Keyboard: the first Tab reaches the skip link.
      await page.keyboard.press("Tab");
      assert.equal(
        await page.evaluate(() => document.activeElement?.textContent),
        "Skip to content",
      );
    }, { viewport: PHONE, locale: "ko-KR" });
    await withPage(async (page) => {
      await page.goto(`${server.url}/`);
      await shot(page, "home-desktop");
    });
  }));

Deno.test("export everything: one JSON file with every conversation and message", () =>
  withServer((server) =>
    withPage(async (page) => {
      await signUpInBrowser(page, server, "export@example.com");
      const token = await apiToken(server, "export@example.com");
      for (const title of ["First", "Second"]) {
        const batch = (from: number) =>
          Array.from({ length: 600 }, (_, i) => ({ role: "user", content: `m${from + i}` }));
        const saved = await (await server.call("/api/conversations", {
          method: "POST",
          token,
          json: { title, messages: batch(0) },
        })).json();
        const more = await server.call(`/api/conversations/${saved.conversation.id}/messages`, {
          method: "POST",
          token,
          json: { messages: batch(600) },
        });
        assert.equal(more.status, 201);
        await more.body?.cancel();
      }
      await page.goto(`${server.url}/settings`);
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("link", { name: "Export everything" }).click(),
      ]);
      assert.match(download.suggestedFilename(), /^pensieve-export-\d{4}-\d\d-\d\d\.json$/);
      const file = JSON.parse(await Deno.readTextFile(await download.path()));
      assert.equal(file.format, "pensieve-export");
      assert.deepEqual(file.conversations.map((c: { title: string }) => c.title).sort(), [
        "First",
        "Second",
      ]);
      for (const c of file.conversations) {
        assert.equal(c.messages.length, 1200, "past one page of messages");
        assert.equal(c.messages[1199].content, "m1199");
      }
    })
  ));
