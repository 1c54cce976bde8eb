import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;

/**
 * `deno task serve` is the container's command (the Dockerfile's CMD): run it exactly, with the
 * narrow permissions it computes, on a temp data folder.
 */
Deno.test("deno task serve: the container's command starts with its narrow grants and serves", async () => {
  const task = JSON.parse(await Deno.readTextFile(`${root}deno.json`)).tasks.serve as string;
  assert.match(task, /\$\(deno run [^)]*cli\/serve_permissions\.ts\) main\.ts$/);
  // Every grant comes from the computed flags, none from the task line itself.
  assert.doesNotMatch(task.replace(/\$\([^)]*\)/, ""), /--allow-|\s-A\s/);
  const docker = await Deno.readTextFile(`${root}Dockerfile`);
  assert.match(docker, /^CMD \["deno", "task", "serve"\]$/m, "the image runs this very task");
  const healthcheck = JSON.parse(/^\s+CMD (\["deno", "task".*\])$/m.exec(docker)![1]) as string[];

  const dir = await Deno.makeTempDir({ prefix: "pensieve-serve-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "serve"],
    cwd: root,
    env: {
      HOST: "127.0.0.1",
      PORT: "0",
      PENSIEVE_DB: `sqlite:${dir}/pensieve.db`,
      PENSIEVE_DATA_DIR: dir,
      PENSIEVE_SQLITE_SYNCHRONOUS: "NORMAL",
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  const decoder = new TextDecoder();
  const pumps = [
    (async () => {
      for await (const chunk of child.stdout) stdout += decoder.decode(chunk, { stream: true });
    })(),
    (async () => {
      for await (const chunk of child.stderr) stderr += decoder.decode(chunk, { stream: true });
    })(),
  ];
  try {
    let url: string | undefined;
    for (let i = 0; i < 600 && !url; i++) {
      url = /listening on (http:\/\/[^\s]+)/.exec(stdout)?.[1];
      if (!url) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(url, `the server did not start:\n${stdout}\n${stderr}`);

    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok" });
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: "ready", store: "sqlite" });
    // The image's HEALTHCHECK, as Docker runs it, against this server and against nothing.
    const probe = (port: string) =>
      new Deno.Command(Deno.execPath(), {
        args: healthcheck.slice(1),
        cwd: root,
        env: { PORT: port },
        stdout: "null",
        stderr: "null",
      }).output();
    assert.equal((await probe(new URL(url).port)).code, 0, "healthy");
    const unused = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const deadPort = String(unused.addr.port);
    unused.close();
    assert.equal((await probe(deadPort)).code, 1, "unhealthy when nothing answers");

    // The grants cover the real work: argon2 (native module, env, sys), SQLite in the data dir,
    // a generated JWT secret, the pages.
    const register = await fetch(`${url}/auth/register`, {
      method: "POST",
      body: JSON.stringify({ email: "serve@example.com", password: "serve password" }),
    });
    assert.equal(register.status, 201, await register.clone().text());
    const { access_token: token } = await register.json();
    const saved = await fetch(`${url}/api/conversations`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ title: "served", messages: [{ role: "user", content: "hello" }] }),
    });
    assert.equal(saved.status, 201);
    await saved.body?.cancel();
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    await page.body?.cancel();
    assert.ok((await Deno.stat(`${dir}/jwt-secret`)).isFile);

    // A container stop: the signal reaches the server through `deno task`.
    child.kill("SIGTERM");
    const status = await child.status;
    await Promise.all(pumps);
    assert.equal(status.code, 0, stderr);
    assert.match(stdout, /stopped cleanly/);
    assert.doesNotMatch(stderr, /NotCapable|PermissionDenied/);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await child.status;
    await Promise.all(pumps);
    await Deno.remove(dir, { recursive: true });
  }
});
