import assert from "node:assert/strict";
import { cookiesOf, hiddenFields } from "../_helpers/oauth.ts";
import { signUp, type TestServer, withServer } from "../_helpers/server.ts";
import { chatgptOddParts } from "./_fixtures.ts";

const encoder = new TextEncoder();

/** Signs in through the login form, as a browser without JavaScript does: the session cookie. */
async function browserSession(server: TestServer, email: string, password: string) {
  const form = await fetch(`${server.url}/login`);
  const first = cookiesOf(form);
  const csrf = Object.fromEntries(hiddenFields(await form.text())).csrf;
  const signedIn = await fetch(`${server.url}/login`, {
    method: "POST",
    headers: {
      Cookie: first.join("; "),
      "Content-Type": "application/x-www-form-urlencoded",
      Origin: server.url,
    },
    body: new URLSearchParams({ email, password, csrf }),
    redirect: "manual",
  });
  assert.equal(signedIn.status, 303);
  await signedIn.body?.cancel();
  const cookie = [...first, ...cookiesOf(signedIn)].join("; ");
  const settings = await fetch(`${server.url}/settings`, { headers: { Cookie: cookie } });
  return { cookie, csrf: Object.fromEntries(hiddenFields(await settings.text())).csrf };
}

async function count(server: TestServer, token: string): Promise<number> {
  const list = await (await server.call("/api/conversations?limit=100", { token })).json();
  return list.conversations.length;
}

Deno.test("dashboard import without JavaScript: the form's file streams in (stored while the form is still arriving), and a forged token imports nothing", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const { cookie, csrf } = await browserSession(server, account.email, account.password);
    const many = Array.from({ length: 1200 }, (_, i) => ({ ...chatgptOddParts(), id: `f${i}` }));
    const text = JSON.stringify(many);
    const cut = text.indexOf(',{"id":"f1100",');
    assert.ok(cut > 1024 * 1024 + 100_000, "the first piece is past the multipart lookahead");
    const head = (token: string) =>
      `--b\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n${token}\r\n` +
      `--b\r\nContent-Disposition: form-data; name="file"; filename="conversations.json"\r\n` +
      `Content-Type: application/json\r\n\r\n`;
    const post = (body: BodyInit) =>
      fetch(`${server.url}/settings/import`, {
        method: "POST",
        headers: {
          Cookie: cookie,
          Origin: server.url,
          "Content-Type": "multipart/form-data; boundary=b",
        },
        body,
      });

    const forged = await post(`${head("not-the-token")}${text}\r\n--b--\r\n`);
    assert.equal(forged.status, 403);
    await forged.body?.cancel();
    assert.equal(await count(server, account.token), 0);

    // Resolved once the test has looked for progress, found or not, so a buffering server fails
    // the test rather than hanging it.
    let seen!: () => void;
    const progressSeen = new Promise<void>((resolve) => (seen = resolve));
    const pieces: (() => Promise<string>)[] = [
      () => Promise.resolve(head(csrf) + text.slice(0, cut)),
      async () => {
        await progressSeen;
        return `${text.slice(cut)}\r\n--b--\r\n`;
      },
    ];
    const answer = post(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          const next = pieces.shift();
          if (next) controller.enqueue(encoder.encode(await next()));
          else controller.close();
        },
      }),
    );
    let during = 0;
    try {
      for (let i = 0; i < 30 && during === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        during = await count(server, account.token);
      }
    } finally {
      seen();
    }
    assert.ok(during > 0, "conversations were stored while the form was still arriving");
    const page = await answer;
    assert.equal(page.status, 200);
    assert.match(await page.text(), /1200 new conversations/);
  }));

Deno.test("dashboard download of one conversation: the same JSON and Markdown as GET /api/export/{id}, streamed", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const { cookie } = await browserSession(server, account.email, account.password);
    const saved = await (await server.call("/api/conversations", {
      method: "POST",
      token: account.token,
      json: {
        title: "Kyoto trip",
        messages: [{ role: "user", content: "Where to eat?" }, {
          role: "assistant",
          content: "Nishiki market.",
        }],
      },
    })).json();
    const id = saved.conversation.id;
    for (const format of ["json", "markdown"]) {
      const page = await fetch(
        `${server.url}/dashboard/conversations/${id}/download?format=${format}`,
        {
          headers: { Cookie: cookie },
        },
      );
      assert.equal(page.status, 200);
      assert.match(
        page.headers.get("Content-Disposition")!,
        new RegExp(`pensieve-${id}\\.${format === "json" ? "json" : "md"}`),
      );
      const api = await server.call(`/api/export/${id}?format=${format}`, { token: account.token });
      assert.equal(await page.text(), await api.text());
    }
    const missing = await fetch(
      `${server.url}/dashboard/conversations/${crypto.randomUUID()}/download`,
      { headers: { Cookie: cookie } },
    );
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  }));
