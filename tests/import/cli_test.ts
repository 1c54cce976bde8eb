import assert from "node:assert/strict";
import { signUp, startServer } from "../_helpers/server.ts";
import { chatgptBranched, claudeConversation, json } from "./_fixtures.ts";

const root = new URL("../../", import.meta.url).pathname;

Deno.test("deno task import: brings an export into an account and says what it did", async () => {
  const server = await startServer();
  try {
    const account = await signUp(server);
    const dir = await Deno.makeTempDir();
    const file = `${dir}/conversations.json`;
    await Deno.writeFile(
      file,
      json([chatgptBranched(), claudeConversation(), { conversation_id: "bad" }]),
    );
    const run = async (args: string[], env: Record<string, string> = {}) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", "cli/import.ts", ...args],
        cwd: root,
        env: { PENSIEVE_DB: `sqlite:${server.dbPath}`, ...env },
        stdout: "piped",
        stderr: "piped",
      }).output();
      return {
        code: out.code,
        stdout: new TextDecoder().decode(out.stdout),
        stderr: new TextDecoder().decode(out.stderr),
      };
    };
    const first = await run(["--user", account.email, file]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /2 new conversations, 0 updated, 0 unchanged, 5 messages added, 1 skipped/,
    );
    assert.match(first.stdout, /skipped bad: bad: mapping: is missing/);
    // A relative path is the user's, from where `deno task` was started (INIT_CWD).
    const again = await run(["--user", account.email, "conversations.json"], { INIT_CWD: dir });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /0 new conversations, 0 updated, 2 unchanged, 0 messages added/);
    const list = await (await server.call("/api/conversations", { token: account.token })).json();
    assert.equal(list.conversations.length, 2);
    const nobody = await run(["--user", "nobody@example.com", file]);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /No account with the email nobody@example.com/);
    const usage = await run([]);
    assert.equal(usage.code, 2);
    await Deno.remove(dir, { recursive: true });
  } finally {
    await server.close();
  }
});
