import assert from "node:assert/strict";
import { withPage } from "../_helpers/browser.ts";
import { signUp, withServer } from "../_helpers/server.ts";
import { chatgptBranched, claudeConversation, json } from "../import/_fixtures.ts";

Deno.test("browser: import an export from settings, with and without JavaScript", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const dir = await Deno.makeTempDir();
    const chatgpt = `${dir}/conversations.json`;
    const claude = `${dir}/claude.json`;
    await Deno.writeFile(chatgpt, json([chatgptBranched()]));
    await Deno.writeFile(claude, json([claudeConversation()]));
    const signIn = async (page: import("playwright-core").Page) => {
      await page.goto(`${server.url}/login`);
      await page.getByLabel("Email").fill(account.email);
      await page.getByLabel("Password").fill(account.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL(`${server.url}/dashboard`);
      await page.goto(`${server.url}/settings`);
    };
    // With JavaScript: the island streams the file and shows the summary in place.
    await withPage(async (page) => {
      await signIn(page);
      await page.waitForFunction(() => document.documentElement.dataset.islands === "ready");
      await page.getByLabel("Export file").setInputFiles(chatgpt);
      await page.getByRole("button", { name: "Import", exact: true }).click();
      await page.getByText(/Imported: 1 new conversations, 0 updated, 3 messages added, 0 skipped/)
        .waitFor();
    });
    // Without JavaScript: the form posts multipart and the page answers with the summary.
    const browser = await (await import("../_helpers/browser.ts")).launchChromium();
    try {
      const context = await browser.newContext({ javaScriptEnabled: false });
      const page = await context.newPage();
      await signIn(page);
      await page.getByLabel("Export file").setInputFiles(claude);
      await page.getByRole("button", { name: "Import", exact: true }).click();
      await page.getByText(/Imported: 1 new conversations, 0 updated, 2 messages added/).waitFor();
    } finally {
      await browser.close();
    }
    const list = await (await server.call("/api/conversations", { token: account.token })).json();
    assert.deepEqual(
      list.conversations.map((c: { source: string }) => c.source).sort(),
      ["import:chatgpt", "import:claude"],
    );
    await Deno.remove(dir, { recursive: true });
  }));
