import assert from "node:assert/strict";
import { parseConfig, resolveJwtSecret } from "../../config.ts";
import { spawnServer } from "../_helpers/process.ts";

/**
 * The JWT secret a server makes on its first start must be in its file whole before anyone can
 * read it: a second instance starting at the same moment read an empty file ("too short to be a
 * secret"), and a kill between creating the file and writing it left one for good.
 */
Deno.test("instances starting together on a new data dir all get the one JWT secret, whole", async () => {
  // The race took about one round in 200 before: 1000 rounds of 16 show it almost surely.
  for (let round = 0; round < 1000; round++) {
    const dir = await Deno.makeTempDir({ prefix: "pensieve-secret-" });
    try {
      const config = parseConfig({ PENSIEVE_DB: `sqlite:${dir}/pensieve.db` });
      const results = await Promise.allSettled(
        Array.from({ length: 16 }, () => resolveJwtSecret(config)),
      );
      const secrets = results.map((r) => {
        if (r.status === "rejected") throw r.reason;
        return new TextDecoder().decode(r.value);
      });
      assert.equal(new Set(secrets).size, 1, "one secret for all");
      assert.equal((await Deno.readTextFile(`${dir}/jwt-secret`)).trim(), secrets[0]);
      const names = [...Deno.readDirSync(dir)].map((e) => e.name);
      assert.deepEqual(names, ["jwt-secret"], "no temporary files left behind");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("server processes started together on a new data dir sign with one secret", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-secret-" });
  const env = { PENSIEVE_DB: `sqlite:${dir}/pensieve.db` };
  const servers = await Promise.all([spawnServer(env), spawnServer(env), spawnServer(env)]);
  try {
    const register = await fetch(`${servers[0].url}/auth/register`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email: "together@example.com", password: "correct horse battery" }),
    });
    assert.equal(register.status, 201);
    const { access_token: token } = await register.json();
    for (const server of servers) {
      const me = await fetch(`${server.url}/auth/me`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      assert.equal(me.status, 200, `${server.url} takes a token the other signed`);
      await me.body?.cancel();
    }
  } finally {
    for (const server of servers) {
      server.child.kill("SIGKILL");
      await server.child.status;
    }
    await Deno.remove(dir, { recursive: true });
  }
});
