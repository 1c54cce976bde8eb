/**
 * A client holding a request open whose body the server never finishes reading (here an import
 * upload that sends part of a chunked body, then nothing) cannot hold a SIGTERM'd server: after
 * the drain and `PENSIEVE_SHUTDOWN_GRACE_SECONDS`, what is left is cut off, the database is
 * closed cleanly and the process exits. It used to wait on that connection until it was killed.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { spawnServer } from "../_helpers/process.ts";
import { callAt, signUp } from "../_helpers/server.ts";

const encoder = new TextEncoder();

/** Not a timed assertion: only so that a server that never exits fails the test, not hangs it. */
const HANG_GUARD_MS = 60_000;

Deno.test("SIGTERM with a stalled import upload open: the rest is cut off after the grace, the database closes cleanly", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-shutdown-grace-" });
  const dbPath = `${dir}/pensieve.db`;
  const server = await spawnServer({
    PENSIEVE_DB: `sqlite:${dbPath}`,
    PENSIEVE_DRAIN_SECONDS: "1",
    PENSIEVE_SHUTDOWN_GRACE_SECONDS: "1",
  }, { stderr: true });
  let connection: Deno.TcpConn | undefined;
  try {
    const { token } = await signUp({ call: callAt(server.url) });
    const saved = await fetch(`${server.url}/api/conversations`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        title: "kept",
        messages: [{ role: "user", content: "acknowledged" }],
      }),
    });
    assert.equal(saved.status, 201);
    await saved.body?.cancel();

    const auth = { Authorization: `Bearer ${token}` };
    const created = await fetch(`${server.url}/api/import/jobs`, { method: "POST", headers: auth });
    assert.equal(created.status, 201);
    const { job } = await created.json();

    // The start of an export, chunked, and then nothing: the import is left reading the body.
    const { hostname, port } = new URL(server.url);
    connection = await Deno.connect({ hostname, port: Number(port) });
    const start = '[{"uuid": "c1", "name": "stalled", "chat_messages": [';
    await connection.write(encoder.encode(
      `PUT /api/import/jobs/${job.id} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n` +
        `Authorization: Bearer ${token}\r\nContent-Type: application/json\r\n` +
        `Transfer-Encoding: chunked\r\n\r\n${start.length.toString(16)}\r\n${start}\r\n`,
    ));
    let status = "waiting";
    while (status === "waiting") {
      const polled = await fetch(`${server.url}/api/import/jobs/${job.id}`, { headers: auth });
      status = (await polled.json()).job.status;
      if (status === "waiting") await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(status, "running", "the import is reading the upload");

    server.child.kill("SIGTERM");
    let guard: ReturnType<typeof setTimeout> | undefined;
    const exited = await Promise.race([
      server.wait(),
      new Promise<undefined>((resolve) =>
        guard = setTimeout(() => resolve(undefined), HANG_GUARD_MS)
      ),
    ]);
    clearTimeout(guard);
    if (!exited) {
      server.child.kill("SIGKILL");
      await server.wait();
      assert.fail(
        `no exit ${HANG_GUARD_MS / 1000} s after SIGTERM with a stalled upload open\n` +
          `stdout:\n${server.output()}\nstderr:\n${server.errors()}`,
      );
    }
    assert.equal(exited.code, 0, `stdout:\n${exited.stdout}\nstderr:\n${server.errors()}`);
    assert.match(exited.stdout, /pensieve: SIGTERM: draining/);
    assert.match(
      exited.stdout,
      /pensieve: shutdown grace of 1 s is over: closing the connections still open \(\d+ requests? unfinished\)/,
    );
    assert.match(exited.stdout, /pensieve: stopped cleanly/);
    assert.equal(server.errors(), "", "nothing on stderr");

    // The client's connection was closed under it.
    const rest = new Uint8Array(4096);
    let closed = false;
    try {
      for (let n = await connection.read(rest); n !== null; n = await connection.read(rest)) {
        // Whatever the server managed to answer before closing.
      }
      closed = true;
    } catch (error) {
      closed = error instanceof Deno.errors.ConnectionReset;
    }
    assert.ok(closed, "the stalled connection was closed");

    // The store was closed: SQLite folded the WAL back and removed it; the acknowledged save is
    // there and the stalled import left nothing.
    await assert.rejects(Deno.stat(`${dbPath}-wal`), Deno.errors.NotFound);
    const db = new DatabaseSync(dbPath);
    try {
      assert.deepEqual(
        { ...(db.prepare("PRAGMA integrity_check").get() as object) },
        { integrity_check: "ok" },
      );
      const titles = db.prepare("SELECT title FROM conversations ORDER BY title").all()
        .map((row) => (row as { title: string }).title);
      assert.deepEqual(titles, ["kept"]);
    } finally {
      db.close();
    }
  } finally {
    connection?.close();
    await Deno.remove(dir, { recursive: true });
  }
});
