import assert from "node:assert/strict";
import { strFromU8, unzipSync } from "fflate";
import { signUp, type TestServer, withServer } from "../_helpers/server.ts";
import { chatgptBranched, chatgptOddParts, claudeConversation, json } from "./_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const root = new URL("../../", import.meta.url).pathname;

/** Runs `deno task export`'s script against the server's database file. */
async function exportCli(server: TestServer, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "cli/export.ts", ...args],
    cwd: root,
    env: { PENSIEVE_DB: `sqlite:${server.dbPath}` },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
}

/** What must survive a round trip between accounts: everything but the ids and edit counter. */
function comparable(doc: Json) {
  return doc.conversations.map(({ id: _id, version: _v, ...rest }: Json) => rest)
    .sort((a: Json, b: Json) => a.title.localeCompare(b.title));
}

/** An account with tags, metadata, client ids, an appended message and imported conversations. */
async function filledAccount(server: TestServer) {
  const account = await signUp(server);
  const saved = await server.call("/api/conversations", {
    method: "POST",
    token: account.token,
    json: {
      title: "Tagged",
      tags: ["travel", "kyoto"],
      source: "claude",
      metadata: { model: "claude-x", nested: { n: 1 } },
      messages: [
        {
          role: "user",
          content: "Plan **Kyoto**",
          created_at: "2025-01-02T03:04:05.678Z",
          client_message_id: "c-1",
          metadata: { lang: "en" },
        },
        { role: "assistant", content: "Day 1…", created_at: "2025-01-02T03:05:00.000Z" },
      ],
    },
  });
  const id = (await saved.json()).conversation.id;
  const append = await server.call(`/api/conversations/${id}/messages`, {
    method: "POST",
    token: account.token,
    json: { messages: [{ role: "user", content: "and Nara 🦌", client_message_id: "c-2" }] },
  });
  await append.body?.cancel();
  const imported = await server.call("/api/import", {
    method: "POST",
    token: account.token,
    body: new Uint8Array(json([chatgptBranched(), chatgptOddParts(), claudeConversation()])),
  });
  assert.equal(imported.status, 200);
  await imported.body?.cancel();
  return { ...account, conversationId: id };
}

Deno.test("deno task export: JSON to a file, imported into a fresh account, exports the same again", () =>
  withServer(async (server) => {
    const a = await filledAccount(server);
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/export.json`;
      const written = await exportCli(server, ["--user", a.email, "--output", file]);
      assert.equal(written.code, 0, written.stderr);
      const bytes = (await Deno.stat(file)).size;
      const first = JSON.parse(await Deno.readTextFile(file));
      assert.equal(first.format, "pensieve-export");
      assert.equal(first.version, 1);
      assert.equal(first.conversations.length, 4);
      const messages = first.conversations.reduce((n: number, c: Json) => n + c.messages.length, 0);
      assert.equal(
        written.stderr.trim(),
        `Exported 4 conversations, ${messages} messages of ${a.email} to ${file}: ${bytes} bytes.`,
      );
      // The same document the REST route serves, but for the time it was made.
      const served = await (await server.call("/api/export", { token: a.token })).json();
      assert.deepEqual({ ...first, exported_at: null }, { ...served, exported_at: null });
      // No temp file is left beside it.
      const left = [];
      for await (const entry of Deno.readDir(dir)) left.push(entry.name);
      assert.deepEqual(left, ["export.json"]);

      const b = await signUp(server);
      const restore = await server.call("/api/import", {
        method: "POST",
        token: b.token,
        body: await Deno.readFile(file),
      });
      assert.equal(restore.status, 200);
      assert.equal((await restore.json()).summary.conversations_created, 4);

      // Without --output, the JSON goes to stdout.
      const again = await exportCli(server, [`--user=${b.email}`]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(
        again.stderr,
        /Exported 4 conversations, \d+ messages of .* to stdout: \d+ bytes/,
      );
      const second = JSON.parse(new TextDecoder().decode(again.stdout));
      assert.equal(second.format, "pensieve-export");
      assert.notEqual(second.exported_at, undefined);
      assert.deepEqual(comparable(second), comparable(first));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }));

Deno.test("deno task export: Markdown, a zip of one file per conversation; one conversation alone", () =>
  withServer(async (server) => {
    const a = await filledAccount(server);
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/export.zip`;
      const zipped = await exportCli(server, [
        "--user",
        a.email,
        "--format",
        "markdown",
        "--output",
        file,
      ]);
      assert.equal(zipped.code, 0, zipped.stderr);
      assert.match(zipped.stderr, /Exported 4 conversations, \d+ messages .* to .*export\.zip/);
      const files = unzipSync(await Deno.readFile(file));
      const names = Object.keys(files);
      assert.equal(names.length, 4);
      assert.ok(names.every((n) => n.endsWith(".md")), names.join());
      const tagged = names.find((n) => n.startsWith("Tagged-"))!;
      assert.match(strFromU8(files[tagged]), /^# Tagged\n[^]*- tags: travel, kyoto[^]*and Nara 🦌/);

      // stdout is not a terminal here, so the zip may go there.
      const piped = await exportCli(server, ["--user", a.email, "--format", "markdown"]);
      assert.equal(piped.code, 0, piped.stderr);
      assert.equal(Object.keys(unzipSync(piped.stdout)).length, 4);

      const one = await exportCli(server, ["--user", a.email, "--conversation", a.conversationId]);
      assert.equal(one.code, 0, one.stderr);
      const served = await server.call(`/api/export/${a.conversationId}`, { token: a.token });
      assert.deepEqual(JSON.parse(new TextDecoder().decode(one.stdout)), await served.json());
      assert.match(one.stderr, /Exported 1 conversation, 3 messages/);

      const md = await exportCli(server, [
        "--user",
        a.email,
        "--conversation",
        a.conversationId,
        "--format",
        "markdown",
      ]);
      assert.equal(md.code, 0, md.stderr);
      const servedMd = await server.call(`/api/export/${a.conversationId}?format=markdown`, {
        token: a.token,
      });
      assert.equal(new TextDecoder().decode(md.stdout), await servedMd.text());
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }));

Deno.test("deno task export: usage errors exit 2; an unknown account or conversation exits 1", () =>
  withServer(async (server) => {
    const a = await signUp(server);
    for (
      const args of [
        [],
        ["--format", "json"],
        ["--user"],
        ["--user", "--format", "json"],
        ["--user", a.email, "--format", "xml"],
        ["--user", a.email, "stray.json"],
        ["--user", a.email, "--user", a.email],
        ["--user", a.email, "--verbose"],
      ]
    ) {
      const run = await exportCli(server, args);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, /usage: deno task export --user <email>/);
      assert.equal(run.stdout.length, 0);
    }
    const nobody = await exportCli(server, ["--user", "nobody@example.com"]);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /No account with the email nobody@example.com\./);
    const notEmail = await exportCli(server, ["--user", "not-an-email"]);
    assert.equal(notEmail.code, 1);
    assert.match(notEmail.stderr, /No account with the email not-an-email\./);
    const missing = await exportCli(server, [
      "--user",
      a.email,
      "--conversation",
      crypto.randomUUID(),
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /has no conversation with the id/);
    const dir = await Deno.makeTempDir();
    try {
      const nowhere = await exportCli(server, [
        "--user",
        a.email,
        "--output",
        `${dir}/no/such.json`,
      ]);
      assert.equal(nowhere.code, 1);
      // A failed write leaves nothing behind, not even the temp file.
      await Deno.mkdir(`${dir}/taken.json`);
      const taken = await exportCli(server, ["--user", a.email, "--output", `${dir}/taken.json`]);
      assert.equal(taken.code, 1);
      const left = [];
      for await (const entry of Deno.readDir(dir)) left.push(entry.name);
      assert.deepEqual(left, ["taken.json"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }));
