import assert from "node:assert/strict";
import { signUp, startServer } from "../_helpers/server.ts";
import { chatgptBranched, claudeConversation, json } from "./_fixtures.ts";

const root = new URL("../../", import.meta.url).pathname;

Deno.test("deno task import: a file that breaks off or is missing is reported, and the other files are still imported", async () => {
  const server = await startServer();
  const dir = await Deno.makeTempDir();
  try {
    const account = await signUp(server);
    const whole = JSON.stringify(chatgptBranched());
    await Deno.writeTextFile(`${dir}/broken.json`, `[${whole}, {"uuid": "cut", "chat_mess`);
    await Deno.writeFile(`${dir}/fine.json`, json([claudeConversation()]));
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "cli/import.ts",
        "--user",
        account.email.toUpperCase(),
        `${dir}/broken.json`,
        `${dir}/missing.json`,
        `${dir}/fine.json`,
      ],
      cwd: root,
      env: { PENSIEVE_DB: `sqlite:${server.dbPath}` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stdout + stderr);
    assert.match(stderr, /broken\.json: .*ends in the middle of conversation #2/);
    assert.match(stderr, /missing\.json: /);
    assert.match(stdout, /fine\.json: done/);
    assert.match(
      stdout,
      /2 new conversations, 0 updated, 0 unchanged, 5 messages added, 0 skipped/,
    );
    const list = await (await server.call("/api/conversations", { token: account.token })).json();
    assert.equal(list.conversations.length, 2);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
