import assert from "node:assert/strict";
import { ConfigError, parseConfig, resolveJwtSecret } from "../config.ts";

Deno.test("defaults: port 8000, SQLite in ./data, FULL sync, one-hour tokens", () => {
  const config = parseConfig({});
  assert.equal(config.port, 8000);
  assert.deepEqual(config.db, { kind: "sqlite", path: "./data/pensieve.db", synchronous: "FULL" });
  assert.equal(config.dataDir, "./data");
  assert.equal(config.publicUrl, "http://localhost:8000");
  assert.equal(config.accessTokenTtlSeconds, 3600);
  assert.equal(config.jwtSecret, undefined);
  assert.deepEqual(config.corsOrigins, []);
});

Deno.test("shutdown: no drain and ten seconds' grace by default; both set in whole seconds", () => {
  const defaults = parseConfig({});
  assert.equal(defaults.drainSeconds, 0);
  assert.equal(defaults.shutdownGraceSeconds, 10);
  const set = parseConfig({ PENSIEVE_DRAIN_SECONDS: "5", PENSIEVE_SHUTDOWN_GRACE_SECONDS: "0" });
  assert.equal(set.drainSeconds, 5);
  assert.equal(set.shutdownGraceSeconds, 0);
  for (const value of ["-1", "301", "10s", "soon"]) {
    assert.throws(
      () => parseConfig({ PENSIEVE_SHUTDOWN_GRACE_SECONDS: value }),
      (error: unknown) =>
        error instanceof ConfigError && error.message.startsWith("PENSIEVE_SHUTDOWN_GRACE_SECONDS"),
      value,
    );
  }
});

Deno.test("durations accept seconds and units", () => {
  assert.equal(parseConfig({ PENSIEVE_ACCESS_TOKEN_TTL: "15m" }).accessTokenTtlSeconds, 900);
  assert.equal(parseConfig({ PENSIEVE_ACCESS_TOKEN_TTL: "120" }).accessTokenTtlSeconds, 120);
  assert.equal(parseConfig({ PENSIEVE_ACCESS_TOKEN_TTL: "2h" }).accessTokenTtlSeconds, 7200);
});

Deno.test("bad values fail with one line naming the variable", () => {
  const cases: Record<string, string> = {
    PORT: "eighty",
    PENSIEVE_DB: "postgres://x",
    PENSIEVE_ACCESS_TOKEN_TTL: "soon",
    PENSIEVE_JWT_SECRET: "short",
    PENSIEVE_PUBLIC_URL: "not a url",
    PENSIEVE_CORS_ORIGINS: "https://ok.example, ftp://bad.example",
    PENSIEVE_MAX_BODY_BYTES: "-1",
    PENSIEVE_TRUST_PROXY: "maybe",
    PENSIEVE_SQLITE_SYNCHRONOUS: "OFF",
    PENSIEVE_MONGODB_SEARCH: "fast",
  };
  for (const [key, value] of Object.entries(cases)) {
    assert.throws(() => parseConfig({ [key]: value }), (error: unknown) => {
      assert.ok(error instanceof ConfigError, key);
      assert.ok(error.message.includes(key), `${key}: ${error.message}`);
      assert.ok(!error.message.includes("\n"), key);
      return true;
    });
  }
});

Deno.test("public URL and CORS origins are reduced to origins", () => {
  const config = parseConfig({
    PENSIEVE_PUBLIC_URL: "https://pensieve.example.com/",
    PENSIEVE_CORS_ORIGINS: "https://a.example.com/, http://localhost:5173",
  });
  assert.equal(config.publicUrl, "https://pensieve.example.com");
  assert.deepEqual(config.corsOrigins, ["https://a.example.com", "http://localhost:5173"]);
});

Deno.test("MongoDB URLs are recognised", () => {
  assert.equal(parseConfig({ PENSIEVE_DB: "mongodb+srv://u:p@h/db" }).db.kind, "mongodb");
  assert.deepEqual(parseConfig({ PENSIEVE_DB: "mongodb://h/db" }).db, {
    kind: "mongodb",
    url: "mongodb://h/db",
    search: "text",
  });
});

Deno.test("PENSIEVE_DB_FILE: the database URL from a secret file, never beside PENSIEVE_DB", async () => {
  const dir = await Deno.makeTempDir();
  const secret = "mongodb+srv://app:s3cret@c1.mongocluster.cosmos.azure.com/?tls=true";
  try {
    const file = `${dir}/pensieve-db`;
    await Deno.writeTextFile(file, `${secret}\n`);
    const config = parseConfig({ PENSIEVE_DB_FILE: file, PENSIEVE_MONGODB_SEARCH: "scan" });
    assert.deepEqual(config.db, { kind: "mongodb", url: secret, search: "scan" });

    await Deno.writeTextFile(`${dir}/sqlite`, "sqlite:/var/lib/pensieve/p.db");
    assert.equal(
      parseConfig({ PENSIEVE_DB_FILE: `${dir}/sqlite` }).db.kind,
      "sqlite",
      "any database URL can come from the file",
    );

    await Deno.writeTextFile(`${dir}/empty`, " \n");
    await Deno.writeTextFile(`${dir}/bad`, "postgres://app:s3cret@db/x");
    const failures: [Record<string, string>, RegExp][] = [
      [{ PENSIEVE_DB_FILE: file, PENSIEVE_DB: "sqlite:x.db" }, /both set/],
      [{ PENSIEVE_DB_FILE: `${dir}/missing` }, /PENSIEVE_DB_FILE: cannot read .*missing/],
      [{ PENSIEVE_DB_FILE: `${dir}/empty` }, /PENSIEVE_DB_FILE: .*empty/],
      [{ PENSIEVE_DB_FILE: `${dir}/bad` }, /must be sqlite:PATH/],
    ];
    for (const [env, expected] of failures) {
      assert.throws(() => parseConfig(env), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, expected);
        assert.ok(!error.message.includes("s3cret"), "a secret never reaches the message");
        assert.ok(!error.message.includes("\n"));
        return true;
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("without PENSIEVE_JWT_SECRET a random secret is made once and kept", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = parseConfig({ PENSIEVE_DB: `sqlite:${dir}/p.db` });
    const first = await resolveJwtSecret(config);
    const second = await resolveJwtSecret(config);
    assert.ok(first.length >= 43);
    assert.deepEqual(first, second);
    const mode = (await Deno.stat(`${dir}/jwt-secret`)).mode! & 0o777;
    assert.equal(mode, 0o600);
    const other = await Deno.makeTempDir();
    const third = await resolveJwtSecret(parseConfig({ PENSIEVE_DB: `sqlite:${other}/p.db` }));
    assert.notDeepEqual(first, third);
    await Deno.remove(other, { recursive: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("admission and search bounds: defaults, settings and bad values", () => {
  const defaults = parseConfig({});
  assert.deepEqual(defaults.admission, {
    maxInFlight: 64,
    maxQueued: 256,
    requestTimeoutSeconds: 30,
    maxEventLoopDelayMs: 100,
  });
  assert.deepEqual(defaults.search, { concurrency: 4, queue: 32 });
  const set = parseConfig({
    PENSIEVE_MAX_IN_FLIGHT: "8",
    PENSIEVE_MAX_QUEUED: "0",
    PENSIEVE_REQUEST_TIMEOUT: "2m",
    PENSIEVE_MAX_EVENT_LOOP_DELAY_MS: "0",
    PENSIEVE_SEARCH_CONCURRENCY: "1",
    PENSIEVE_SEARCH_QUEUE: "0",
  });
  assert.deepEqual(set.admission, {
    maxInFlight: 8,
    maxQueued: 0,
    requestTimeoutSeconds: 120,
    maxEventLoopDelayMs: 0,
  });
  assert.deepEqual(set.search, { concurrency: 1, queue: 0 });
  const bad: Record<string, string> = {
    PENSIEVE_MAX_IN_FLIGHT: "0",
    PENSIEVE_MAX_QUEUED: "-1",
    PENSIEVE_REQUEST_TIMEOUT: "0",
    PENSIEVE_SEARCH_CONCURRENCY: "many",
    PENSIEVE_SEARCH_QUEUE: "1.5",
    PENSIEVE_MAX_EVENT_LOOP_DELAY_MS: "soon",
  };
  for (const [key, value] of Object.entries(bad)) {
    assert.throws(() => parseConfig({ [key]: value }), (error: unknown) => {
      assert.ok(error instanceof ConfigError, key);
      assert.ok(error.message.startsWith(key), `${key}: ${error.message}`);
      return true;
    });
  }
});
