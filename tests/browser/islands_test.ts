import assert from "node:assert/strict";
import { withPage } from "../_helpers/browser.ts";
import { signUp, withServer } from "../_helpers/server.ts";

Deno.test("browser islands: search as you type, endless list, copy buttons", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    for (let i = 0; i < 25; i++) {
      const res = await server.call("/api/conversations", {
        method: "POST",
        token: account.token,
        json: {
          title: `Conversation ${String(i).padStart(2, "0")}`,
          messages: [{ role: "user", content: i === 7 ? "the lighthouse keeper" : `note ${i}` }],
        },
      });
      await res.body?.cancel();
    }
    await withPage(async (page) => {
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`${server.url}/login`);
      await page.getByLabel("Email").fill(account.email);
      await page.getByLabel("Password").fill(account.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(`${server.url}/dashboard`);
      await page.waitForFunction(() => document.documentElement.dataset.islands === "ready");

      // Endless list: the "Older" link loads the next page as it scrolls into view.
      assert.equal(await page.locator("ul.conversations > li").count(), 20);
      await page.locator(".pager a").scrollIntoViewIfNeeded();
      await page.waitForFunction(() =>
        document.querySelectorAll("ul.conversations > li").length === 25
      );

      // Search as you type: no submit.
      await page.getByLabel("Search").pressSequentially("lightho", { delay: 20 });
      await page.locator("#results mark").waitFor();
      assert.equal(await page.locator("#results mark").innerText(), "lighthouse");
      assert.match(page.url(), /q=lightho/);

      // Copy as Markdown on a conversation.
      await page.locator("#results a").first().click();
      await page.getByRole("button", { name: "Copy as Markdown" }).click();
      await page.getByRole("button", { name: "Copied" }).waitFor();
      const copied = await page.evaluate(() => navigator.clipboard.readText());
      assert.match(copied, /^# Conversation 07/);
      assert.deepEqual(errors, []);
    }, { permissions: ["clipboard-read", "clipboard-write"] });
  }));
