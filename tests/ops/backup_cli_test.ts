import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { signUp, startServer } from "../_helpers/server.ts";

const root = new URL("../../", import.meta.url).pathname;

/** Runs `deno task backup` as the task line says (its flags), with `env` and `args`. */
async function runBackupTask(env: Record<string, string>, args: string[] = []) {
  const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`));
  const [deno, ...taskArgs] = String(config.tasks.backup).split(/\s+/);
  assert.equal(deno, "deno");
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...taskArgs, ...args],
    cwd: root,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

Deno.test("deno task backup copies a live database (WAL, being written to) and verifies the copy", async () => {
  const server = await startServer();
  const dir = await Deno.makeTempDir({ prefix: "pensieve-backup-" });
  try {
    const { token, userId } = await signUp(server);
    const titles = ["First thoughts", "Recipe: 김치찌개", "Trip plan"];
    const ids: string[] = [];
    for (const title of titles) {
      const res = await server.call("/api/conversations", {
        method: "POST",
        token,
        json: { title, messages: [{ role: "user", content: `about ${title}` }] },
      });
      assert.equal(res.status, 201);
      ids.push((await res.json()).conversation.id);
    }

    // The server keeps writing while the backup runs: the copy is a consistent snapshot.
    const output = `${dir}/nested/pensieve-copy.db`;
    const backup = runBackupTask({ PENSIEVE_DB: `sqlite:${server.dbPath}` }, [output]);
    let appended = 0;
    for (let i = 0; i < 40; i++) {
      const res = await server.call(`/api/conversations/${ids[0]}/messages`, {
        method: "POST",
        token,
        json: { messages: [{ role: "assistant", content: `reply ${i}` }] },
      });
      await res.body?.cancel();
      if (res.status === 201 || res.status === 200) appended++;
    }
    const result = await backup;
    assert.equal(appended, 40, "the server went on answering");
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^Copied \d+ pages \([\d.]+ MiB\) from .+ to .+pensieve-copy\.db$/m,
    );
    assert.match(
      result.stdout,
      /^integrity_check: ok \(1 accounts, 3 conversations, \d+ messages\)$/m,
    );

    const copy = new DatabaseSync(output, { readOnly: true });
    try {
      const check = copy.prepare("PRAGMA integrity_check").all() as { integrity_check: string }[];
      assert.deepEqual(check.map((r) => r.integrity_check), ["ok"]);
      const rows = copy.prepare(
        "SELECT id, title FROM conversations WHERE user_id = ? ORDER BY title",
      ).all(userId) as { id: string; title: string }[];
      assert.deepEqual(rows.map((r) => r.title), [...titles].sort());
      const first = copy.prepare(
        `SELECT m.content FROM messages m JOIN conversations c ON c.rowid = m.conversation_rowid
         WHERE c.id = ? ORDER BY m.seq LIMIT 1`,
      ).get(ids[0]) as { content: string };
      assert.equal(first.content, "about First thoughts");
      const mode = copy.prepare("PRAGMA journal_mode").get() as { journal_mode: string };
      assert.equal(mode.journal_mode, "delete", "a self-contained file, no -wal companion");
    } finally {
      copy.close();
    }

    // The server is unharmed and still has everything.
    const list = await server.call("/api/conversations", { token });
    assert.equal((await list.json()).conversations.length, 3);

    // A second backup never overwrites the first.
    const again = await runBackupTask({ PENSIEVE_DB: `sqlite:${server.dbPath}` }, [output]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task backup without a path writes to <data dir>/backups/pensieve-<time>.db", async () => {
  const server = await startServer();
  const dataDir = await Deno.makeTempDir({ prefix: "pensieve-backup-data-" });
  try {
    await signUp(server);
    const result = await runBackupTask({
      PENSIEVE_DB: `sqlite:${server.dbPath}`,
      PENSIEVE_DATA_DIR: dataDir,
    });
    assert.equal(result.code, 0, result.stderr);
    const files = [...Deno.readDirSync(`${dataDir}/backups`)].map((e) => e.name);
    assert.equal(files.length, 1);
    assert.match(files[0], /^pensieve-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.db$/);
    assert.ok(result.stdout.includes(`${dataDir}/backups/${files[0]}`));

    // A relative OUTPUT is the user's, from where `deno task` was started (INIT_CWD).
    const relative = await runBackupTask(
      { PENSIEVE_DB: `sqlite:${server.dbPath}`, INIT_CWD: dataDir },
      ["mine.db"],
    );
    assert.equal(relative.code, 0, relative.stderr);
    assert.ok((await Deno.stat(`${dataDir}/mine.db`)).isFile);
  } finally {
    await server.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("deno task backup on MongoDB prints the mongodump command, never the URL, and exits 2", async () => {
  const result = await runBackupTask({
    PENSIEVE_DB: "mongodb://pensieve:s3cret-pass@db.invalid:27017/pensieve?tls=true",
  });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /mongodump --uri="\$PENSIEVE_DB" --archive=.+ --gzip/);
  assert.match(result.stderr, /mongorestore/);
  assert.ok(!result.stderr.includes("s3cret-pass") && !result.stdout.includes("s3cret-pass"));
});

Deno.test("deno task backup refuses a database that is not there, without creating one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-backup-none-" });
  try {
    const result = await runBackupTask({ PENSIEVE_DB: `sqlite:${dir}/missing.db` }, [
      `${dir}/out.db`,
    ]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /No database at/);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
