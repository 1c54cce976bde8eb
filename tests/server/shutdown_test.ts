import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { spawnServer } from "../_helpers/process.ts";

Deno.test("SIGTERM drains: /readyz turns 503, an in-flight request finishes, the database closes cleanly", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-shutdown-" });
  const dbPath = `${dir}/pensieve.db`;
  try {
    const server = await spawnServer({
      PENSIEVE_DB: `sqlite:${dbPath}`,
      PENSIEVE_DRAIN_SECONDS: "1",
    });
    const register = await fetch(`${server.url}/auth/register`, {
      method: "POST",
      body: JSON.stringify({ email: "drain@example.com", password: "drain password" }),
    });
    assert.equal(register.status, 201);
    const { access_token: token } = await register.json();
    assert.ok(await Deno.stat(`${dir}/jwt-secret`), "a secret was generated in the data dir");

    // A save whose body is still arriving when the signal lands.
    let sendRest!: () => void;
    const restSent = new Promise<void>((resolve) => (sendRest = resolve));
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        const json = JSON.stringify({
          title: "in flight",
          messages: [{ role: "user", content: "sent during shutdown" }],
        });
        controller.enqueue(new TextEncoder().encode(json.slice(0, 10)));
        await restSent;
        controller.enqueue(new TextEncoder().encode(json.slice(10)));
        controller.close();
      },
    });
    const inFlight = fetch(`${server.url}/api/conversations`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body,
    });
    await new Promise((r) => setTimeout(r, 200));

    server.child.kill("SIGTERM");
    let sawDraining = false;
    for (let i = 0; i < 40 && !sawDraining; i++) {
      const ready = await fetch(`${server.url}/readyz`);
      await ready.body?.cancel();
      sawDraining = ready.status === 503;
      if (!sawDraining) await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(sawDraining, "/readyz answered 503 while draining");

    sendRest();
    const saved = await inFlight;
    assert.equal(saved.status, 201);
    await saved.body?.cancel();

    const { code, stdout } = await server.wait();
    assert.equal(code, 0);
    assert.match(stdout, /stopped cleanly/);

    // The last connection closed: SQLite folded the WAL back and removed it.
    await assert.rejects(Deno.stat(`${dbPath}-wal`), Deno.errors.NotFound);
    const db = new DatabaseSync(dbPath);
    try {
      assert.deepEqual(
        { ...(db.prepare("PRAGMA integrity_check").get() as object) },
        { integrity_check: "ok" },
      );
      const row = db.prepare("SELECT title FROM conversations").get() as { title: string };
      assert.equal(row.title, "in flight");
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad setting stops the server at start with a one-line error", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "main.ts"],
    cwd: new URL("../../", import.meta.url).pathname,
    env: { PORT: "not-a-port" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 2);
  const stderr = new TextDecoder().decode(output.stderr).trim();
  assert.equal(stderr.split("\n").length, 1);
  assert.match(stderr, /PORT/);
});
