import assert from "node:assert/strict";
import { withServer } from "../_helpers/server.ts";

Deno.test("sign-in against a stored bcrypt hash bcrypt cannot read ($2x$, a cost out of range) is a plain 401, not a 500", () =>
  withServer(async (server) => {
    const salt = "abcdefghijklmnopqrstuv";
    const digest = "0123456789abcdefghijklmnopqrstu";
    for (const [n, hash] of [`$2x$10$${salt}${digest}`, `$2b$99$${salt}${digest}`].entries()) {
      const email = `legacy${n}@example.com`;
      await server.store.createUser({
        id: crypto.randomUUID(),
        email,
        passwordHash: hash,
        createdAt: 0,
        tokensValidAfter: 0,
      });
      const res = await server.call("/auth/login", {
        method: "POST",
        json: { email, password: "whatever-it-was" },
      });
      assert.equal(res.status, 401, hash);
      assert.equal((await res.json()).error.code, "unauthorized");
    }
  }));
