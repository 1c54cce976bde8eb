import { type Browser, chromium, type Page } from "playwright-core";

/** Debian's Chromium, or PENSIEVE_CHROMIUM; `.ci/run` installs it when it is missing. */
const CHROMIUM = Deno.env.get("PENSIEVE_CHROMIUM") ?? "/usr/bin/chromium";

/** Real headless Chromium, with the flags that keep it off the network on these machines. */
export async function launchChromium(): Promise<Browser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) ` +
        "or set PENSIEVE_CHROMIUM.",
    );
  }
  return await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}

/** Runs `fn` with a fresh page (its own cookies) and always closes the browser. */
export async function withPage(
  fn: (page: Page) => Promise<void>,
  options: {
    viewport?: { width: number; height: number };
    locale?: string;
    permissions?: string[];
  } = {},
): Promise<void> {
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({
      viewport: options.viewport ?? { width: 1280, height: 800 },
      locale: options.locale ?? "en-US",
      permissions: options.permissions,
    });
    await fn(await context.newPage());
  } finally {
    await browser.close();
  }
}

/** Where tests put screenshots (git-ignored). */
export const SCREENSHOTS = new URL("../../test-output/screenshots/", import.meta.url);
