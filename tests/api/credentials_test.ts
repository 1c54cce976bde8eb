import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { SignJWT, UnsecuredJWT } from "jose";
import { ManualClock } from "../../core/clock.ts";
import {
  signUp,
  startServer,
  TEST_SECRET,
  type TestServer,
  withServer,
} from "../_helpers/server.ts";

async function status(server: TestServer, token: string, path = "/auth/me"): Promise<number> {
  const res = await server.call(path, { token });
  await res.body?.cancel();
  return res.status;
}

Deno.test("requests without a valid bearer credential get 401 with a challenge", () =>
  withServer(async (server) => {
    const attempts: Record<string, string>[] = [{}, { Authorization: "Basic abc" }, {
      Authorization: "Bearer",
    }];
    for (const headers of attempts) {
      const res = await server.call("/api/conversations", { headers });
      assert.equal(res.status, 401);
      assert.match(res.headers.get("WWW-Authenticate") ?? "", /^Bearer /);
      assert.equal((await res.json()).error.code, "unauthorized");
    }
  }));

Deno.test("forged, foreign and expired access tokens are refused", async () => {
  const clock = new ManualClock(Date.now());
  const server = await startServer({ clock, env: { PENSIEVE_ACCESS_TOKEN_TTL: "10m" } });
  try {
    const { token, userId } = await signUp(server);
    assert.equal(await status(server, token), 200);
    const issuer = server.config.publicUrl;
    const now = Math.floor(clock.now() / 1000);
    const forge = (options: {
      secret?: Uint8Array;
      alg?: string;
      typ?: string;
      iss?: string;
      aud?: string;
      exp?: number;
    }) =>
      new SignJWT({})
        .setProtectedHeader({ alg: options.alg ?? "HS256", typ: options.typ ?? "at+jwt" })
        .setIssuer(options.iss ?? issuer)
        .setAudience(options.aud ?? issuer)
        .setSubject(userId)
        .setJti(crypto.randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(options.exp ?? now + 600)
        .sign(options.secret ?? TEST_SECRET);
    assert.equal(await status(server, await forge({})), 200, "a correct token passes");
    const bad = {
      "wrong secret": await forge({ secret: new TextEncoder().encode("x".repeat(40)) }),
      "wrong audience": await forge({ aud: "https://other.example.com" }),
      "wrong issuer": await forge({ iss: "https://other.example.com" }),
      "wrong type": await forge({ typ: "JWT" }),
      "HS512": await forge({ alg: "HS512", secret: new Uint8Array(64).fill(7) }),
      "expired": await forge({ exp: now - 10 }),
      "alg none": new UnsecuredJWT({ sub: userId, jti: "x", iss: issuer, aud: issuer })
        .setIssuedAt(now).setExpirationTime(now + 600).encode(),
      "garbage": "not.a.token",
      "unknown psv": "psv_" + "A".repeat(43),
    };
    for (const [name, forged] of Object.entries(bad)) {
      assert.equal(await status(server, forged), 401, name);
    }
    clock.advance(11 * 60 * 1000);
    const expired = await server.call("/auth/me", { token });
    assert.equal(expired.status, 401);
    assert.match((await expired.json()).error.message, /expired/);
  } finally {
    await server.close();
  }
});

Deno.test("logout revokes only that access token", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const other = (await (await server.call("/auth/login", {
      method: "POST",
      json: { email: account.email, password: account.password },
    })).json()).access_token;
    const out = await server.call("/auth/logout", { method: "POST", token: account.token });
    assert.equal(out.status, 204);
    await out.body?.cancel();
    assert.equal(await status(server, account.token), 401);
    assert.equal(await status(server, other), 200);
  }));

Deno.test("changing the password revokes older tokens of both kinds", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const pat = (await (await server.call("/api/tokens", {
      method: "POST",
      token: account.token,
      json: { name: "script" },
    })).json()).secret;
    assert.equal(await status(server, pat), 200);

    const wrong = await server.call("/auth/password", {
      method: "POST",
      token: account.token,
      json: { current_password: "not it at all", new_password: "brand new password" },
    });
    assert.equal(wrong.status, 403);
    await wrong.body?.cancel();

    const changed = await server.call("/auth/password", {
      method: "POST",
      token: account.token,
      json: { current_password: account.password, new_password: "brand new password" },
    });
    assert.equal(changed.status, 200);
    const fresh = (await changed.json()).access_token;
    assert.equal(await status(server, fresh), 200);
    assert.equal(await status(server, account.token), 401);
    assert.equal(await status(server, pat), 401);

    const login = (password: string) =>
      server.call("/auth/login", { method: "POST", json: { email: account.email, password } })
        .then(async (r) => (await r.body?.cancel(), r.status));
    assert.equal(await login(account.password), 401);
    assert.equal(await login("brand new password"), 200);
  }));

Deno.test("a personal token made in the same second as a password change works", async () => {
  // Mid-second on purpose: the revocation instant must not be rounded up past the new token.
  const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000 + 400);
  await withServer(async (server) => {
    const account = await signUp(server);
    const changed = await server.call("/auth/password", {
      method: "POST",
      token: account.token,
      json: { current_password: account.password, new_password: "brand new password" },
    });
    assert.equal(changed.status, 200);
    const fresh = (await changed.json()).access_token;
    const created = await server.call("/api/tokens", {
      method: "POST",
      token: fresh,
      json: { name: "right after" },
    });
    assert.equal(created.status, 201);
    const { secret } = await created.json();
    assert.equal(await status(server, secret), 200);
    assert.equal(await status(server, fresh), 200);
    assert.equal(await status(server, account.token), 401);
  }, { clock });
});

Deno.test("personal access tokens: shown once, usable, renamable, revocable, expiring", async () => {
  const clock = new ManualClock(Date.now());
  const server = await startServer({ clock });
  try {
    const { token } = await signUp(server);
    const created = await server.call("/api/tokens", {
      method: "POST",
      token,
      json: { name: "laptop", expires_in_days: 1 },
    });
    assert.equal(created.status, 201);
    const { token: info, secret } = await created.json();
    assert.match(secret, /^psv_[A-Za-z0-9_-]{43}$/);
    assert.ok(secret.startsWith(info.prefix));
    const listed = await (await server.call("/api/tokens", { token })).text();
    assert.ok(!listed.includes(secret), "the secret is never listed");

    assert.equal(await status(server, secret, "/api/conversations"), 200);
    const used = await (await server.call("/api/tokens", { token })).json();
    assert.ok(used.tokens[0].last_used_at);

    const renamed = await server.call(`/api/tokens/${info.id}`, {
      method: "PATCH",
      token,
      json: { name: "desktop" },
    });
    assert.equal((await renamed.json()).token.name, "desktop");

    const logoutWithPat = await server.call("/auth/logout", { method: "POST", token: secret });
    assert.equal(logoutWithPat.status, 400, "sign-out is for access tokens; PATs are revoked");
    await logoutWithPat.body?.cancel();
    assert.equal(await status(server, secret), 200);

    clock.advance(86_400_000 + 1);
    assert.equal(await status(server, secret), 401, "expired");

    const second = await (await server.call("/api/tokens", {
      method: "POST",
      token: (await signUp(server)).token,
      json: { name: "other" },
    })).json();
    const owner = second.secret;
    assert.equal(await status(server, owner), 200);
    const revoke = await server.call(`/api/tokens/${second.token.id}`, {
      method: "DELETE",
      token: owner,
    });
    assert.equal(revoke.status, 204);
    await revoke.body?.cancel();
    assert.equal(await status(server, owner), 401);
  } finally {
    await server.close();
  }
});

Deno.test("accounts: normalised emails, duplicates, password bounds, unicode passwords", () =>
  withServer(async (server) => {
    const register = (email: string, password: string) =>
      server.call("/auth/register", { method: "POST", json: { email, password } });
    const first = await register("  Foo@Example.COM ", "비밀번호🙂secret");
    assert.equal(first.status, 201);
    assert.equal((await first.json()).user.email, "foo@example.com");
    const again = await register("foo@example.com", "another password");
    assert.equal(again.status, 409);
    assert.equal((await again.json()).error.code, "conflict");
    const login = await server.call("/auth/login", {
      method: "POST",
      json: { email: "FOO@example.com", password: "비밀번호🙂secret" },
    });
    assert.equal(login.status, 200);
    await login.body?.cancel();

    const short = await register("short@example.com", "1234567");
    assert.equal(short.status, 400);
    assert.match((await short.json()).error.message, /password/);
    const eight = await register("eight@example.com", "12345678");
    assert.equal(eight.status, 201);
    await eight.body?.cancel();
    const long = await register("long@example.com", "x".repeat(1025));
    assert.equal(long.status, 400);
    await long.body?.cancel();
    const notEmail = await register("not an email", "12345678");
    assert.equal(notEmail.status, 400);
    await notEmail.body?.cancel();
  }));

Deno.test("an unknown email and a wrong password get the same answer", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const attempt = async (email: string) => {
      const res = await server.call("/auth/login", {
        method: "POST",
        json: { email, password: "definitely wrong" },
      });
      return { status: res.status, body: await res.text() };
    };
    const wrongPassword = await attempt(account.email);
    const unknown = await attempt("nobody-here@example.com");
    assert.equal(wrongPassword.status, 401);
    assert.deepEqual(unknown, wrongPassword);
  }));

Deno.test("failed sign-ins are limited per account, then 429 with Retry-After", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const login = (password: string) =>
      server.call("/auth/login", { method: "POST", json: { email: account.email, password } });
    for (let i = 0; i < 3; i++) {
      const res = await login("wrong password");
      assert.equal(res.status, 401);
      await res.body?.cancel();
    }
    const locked = await login(account.password);
    assert.equal(locked.status, 429);
    assert.ok(Number(locked.headers.get("Retry-After")) > 0);
    assert.equal((await locked.json()).error.code, "too_many_requests");
  }, { env: { PENSIEVE_LOGIN_LIMIT_PER_ACCOUNT: "3" } }));

Deno.test("sign-in attempts are limited per client address", () =>
  withServer(async (server) => {
    const statuses = [];
    for (let i = 0; i < 7; i++) {
      const res = await server.call("/auth/login", {
        method: "POST",
        json: { email: `someone${i}@example.com`, password: "whatever password" },
      });
      statuses.push(res.status);
      await res.body?.cancel();
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429]);
  }, { env: { PENSIEVE_LOGIN_LIMIT_PER_ADDRESS: "5" } }));

Deno.test("a legacy bcrypt hash signs in and is upgraded to argon2id", () =>
  withServer(async (server) => {
    const id = crypto.randomUUID();
    await server.store.createUser({
      id,
      email: "legacy@example.com",
      passwordHash: bcrypt.hashSync("old python password", 10),
      createdAt: Date.now(),
      tokensValidAfter: 0,
    });
    const res = await server.call("/auth/login", {
      method: "POST",
      json: { email: "legacy@example.com", password: "old python password" },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.match((await server.store.getUser(id))!.passwordHash, /^\$argon2id\$/);
    const again = await server.call("/auth/login", {
      method: "POST",
      json: { email: "legacy@example.com", password: "old python password" },
    });
    assert.equal(again.status, 200);
    await again.body?.cancel();
  }));

Deno.test("deleting the account needs the password and removes everything", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const keep = await signUp(server);
    for (const who of [account, keep]) {
      const res = await server.call("/api/conversations", {
        method: "POST",
        token: who.token,
        json: { messages: [{ role: "user", content: "to be or not to be" }] },
      });
      await res.body?.cancel();
    }
    const wrong = await server.call("/auth/account", {
      method: "DELETE",
      token: account.token,
      json: { password: "wrong password" },
    });
    assert.equal(wrong.status, 403);
    await wrong.body?.cancel();
    const gone = await server.call("/auth/account", {
      method: "DELETE",
      token: account.token,
      json: { password: account.password },
    });
    assert.equal(gone.status, 204);
    await gone.body?.cancel();
    assert.equal(await status(server, account.token), 401);
    const login = await server.call("/auth/login", {
      method: "POST",
      json: { email: account.email, password: account.password },
    });
    assert.equal(login.status, 401);
    await login.body?.cancel();
    const count = (table: string) =>
      server.store.rawQuery(`SELECT count(*) AS n FROM ${table}`)[0].n;
    assert.equal(count("users"), 1);
    assert.equal(count("conversations"), 1);
    assert.equal(count("messages"), 1);
    assert.equal(await status(server, keep.token, "/api/conversations"), 200);
  }));
