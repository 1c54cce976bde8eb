import assert from "node:assert/strict";
import fc from "fast-check";
import { Conflict } from "../../core/errors.ts";
import type {
  NewMessage,
  OAuthClient,
  OAuthCode,
  OAuthGrant,
  SearchQuery,
  User,
} from "../../core/types.ts";
import type { NewConversation, Store } from "../../db/store.ts";

/** Opens a fresh, empty store and says how to dispose of it. */
export type OpenStore = () => Promise<{ store: Store; cleanup(): Promise<void> }>;

const T0 = Date.UTC(2026, 0, 1);

function user(n: number): User {
  return {
    id: crypto.randomUUID(),
    email: `u${n}-${crypto.randomUUID().slice(0, 6)}@example.com`,
    passwordHash: "$argon2id$placeholder",
    createdAt: T0,
    tokensValidAfter: 0,
  };
}

function conversation(overrides: Partial<NewConversation> = {}): NewConversation {
  return {
    id: crypto.randomUUID(),
    title: "A conversation",
    tags: [],
    source: "test",
    metadata: {},
    messages: [],
    now: T0,
    ...overrides,
  };
}

function say(content: string, extra: Partial<NewMessage> = {}): NewMessage {
  return { role: "user", content, ...extra };
}

function words(...terms: (string | string[])[]): SearchQuery {
  return {
    terms: terms.map((t) =>
      Array.isArray(t) ? { words: t, prefix: false } : { words: [t], prefix: false }
    ),
  };
}

/**
 * The behaviour every Store adapter must have. Each case opens its own store, so cases can run in
 * any order and an adapter is judged only by what it does through the interface.
 */
export function runStoreContract(adapter: string, open: OpenStore): void {
  const test = (name: string, fn: (store: Store) => Promise<void>) =>
    Deno.test(`${adapter}: ${name}`, async () => {
      const { store, cleanup } = await open();
      try {
        await fn(store);
      } finally {
        await cleanup();
      }
    });

  test("users: create, find by email and id, duplicate email is a Conflict", async (store) => {
    const a = user(1);
    await store.createUser(a);
    assert.deepEqual(await store.findUserByEmail(a.email), a);
    assert.deepEqual(await store.getUser(a.id), a);
    assert.equal(await store.findUserByEmail("nobody@example.com"), null);
    assert.equal(await store.getUser(crypto.randomUUID()), null);
    await assert.rejects(store.createUser({ ...user(2), email: a.email }), Conflict);
  });

  test("users: password hash changes; tokensValidAfter never goes backwards", async (store) => {
    const a = user(1);
    await store.createUser(a);
    await store.setPasswordHash(a.id, "h2");
    assert.equal((await store.getUser(a.id))!.passwordHash, "h2");
    assert.equal((await store.getUser(a.id))!.tokensValidAfter, 0);
    await store.setPasswordHash(a.id, "h3", T0 + 5000);
    await store.setPasswordHash(a.id, "h4", T0 + 1000);
    const after = (await store.getUser(a.id))!;
    assert.equal(after.passwordHash, "h4");
    assert.equal(after.tokensValidAfter, T0 + 5000);
  });

  test("users: delete removes everything the user owns and nothing of others", async (store) => {
    const a = user(1);
    const b = user(2);
    await store.createUser(a);
    await store.createUser(b);
    const ca = await store.createConversation(
      a.id,
      conversation({ messages: [say("zebra apple")] }),
    );
    const cb = await store.createConversation(
      b.id,
      conversation({ messages: [say("zebra apple")] }),
    );
    await store.createPersonalToken(a.id, {
      id: crypto.randomUUID(),
      name: "t",
      prefix: "psv_x",
      secretHash: "hash-a",
      createdAt: T0,
      expiresAt: null,
    });
    await store.deleteUser(a.id);
    assert.equal(await store.getUser(a.id), null);
    assert.equal(await store.getConversation(a.id, ca.id), null);
    assert.equal(await store.findPersonalTokenBySecretHash("hash-a"), null);
    assert.deepEqual(
      await store.searchConversations(a.id, {
        query: words("zebra"),
        filter: {},
        offset: 0,
        limit: 10,
      }),
      [],
    );
    assert.ok(await store.getConversation(b.id, cb.id));
    const hits = await store.searchConversations(b.id, {
      query: words("zebra"),
      filter: {},
      offset: 0,
      limit: 10,
    });
    assert.deepEqual(hits.map((h) => h.conversation.id), [cb.id]);
  });

  test("personal tokens: create, list newest first, rename, find, touch, delete; owner only", async (store) => {
    const a = user(1);
    const b = user(2);
    await store.createUser(a);
    await store.createUser(b);
    const make = (name: string, createdAt: number) =>
      store.createPersonalToken(a.id, {
        id: crypto.randomUUID(),
        name,
        prefix: "psv_ab",
        secretHash: `hash-${name}`,
        createdAt,
        expiresAt: null,
      });
    const older = await make("older", T0);
    const newer = await make("newer", T0 + 1);
    assert.deepEqual((await store.listPersonalTokens(a.id)).map((t) => t.name), ["newer", "older"]);
    assert.deepEqual(await store.listPersonalTokens(b.id), []);
    assert.equal(await store.renamePersonalToken(b.id, older.id, "stolen"), null);
    assert.equal((await store.renamePersonalToken(a.id, older.id, "renamed"))!.name, "renamed");
    const found = (await store.findPersonalTokenBySecretHash("hash-newer"))!;
    assert.equal(found.id, newer.id);
    assert.equal(found.userId, a.id);
    assert.equal(found.lastUsedAt, null);
    await store.touchPersonalToken(b.id, newer.id, T0 + 10);
    assert.equal((await store.findPersonalTokenBySecretHash("hash-newer"))!.lastUsedAt, null);
    await store.touchPersonalToken(a.id, newer.id, T0 + 10);
    assert.equal((await store.findPersonalTokenBySecretHash("hash-newer"))!.lastUsedAt, T0 + 10);
    assert.equal(await store.deletePersonalToken(b.id, newer.id), false);
    assert.equal(await store.deletePersonalToken(a.id, newer.id), true);
    assert.equal(await store.deletePersonalToken(a.id, newer.id), false);
    assert.equal(await store.findPersonalTokenBySecretHash("hash-newer"), null);
  });

  test("revoked access tokens: revoke is idempotent; purge drops expired ones", async (store) => {
    const a = user(1);
    await store.createUser(a);
    assert.equal(await store.isAccessTokenRevoked("j1"), false);
    await store.revokeAccessToken(a.id, "j1", T0 + 1000);
    await store.revokeAccessToken(a.id, "j1", T0 + 1000);
    await store.revokeAccessToken(a.id, "j2", T0 + 5000);
    assert.equal(await store.isAccessTokenRevoked("j1"), true);
    await store.purgeExpired(T0 + 2000);
    assert.equal(await store.isAccessTokenRevoked("j1"), false);
    assert.equal(await store.isAccessTokenRevoked("j2"), true);
  });

  test("MCP sessions: create, find until expiry, bind, extend, delete, purge, cascade", async (store) => {
    const a = user(1);
    await store.createUser(a);
    const base = {
      endpoint: "open" as const,
      transport: "sse" as const,
      createdAt: T0,
      expiresAt: T0 + 1000,
      boundCredential: null,
    };
    await store.createMcpSession({ ...base, idHash: "h1", userId: null, boundAt: null });
    await store.createMcpSession({ ...base, idHash: "h2", userId: a.id, boundAt: T0 });
    assert.deepEqual(await store.getMcpSession("h1", T0), {
      ...base,
      idHash: "h1",
      userId: null,
      boundAt: null,
    });
    assert.equal(await store.getMcpSession("h1", T0 + 1000), null, "expired");
    assert.equal(await store.getMcpSession("nope", T0), null);

    const binding = { userId: a.id, credential: "password", now: T0 + 10, expiresAt: T0 + 1500 };
    assert.equal(await store.bindMcpSession("h1", binding), true);
    const bound = await store.getMcpSession("h1", T0);
    assert.equal(bound?.userId, a.id);
    assert.equal(bound?.boundAt, T0 + 10);
    assert.equal(bound?.boundCredential, "password");
    assert.equal(bound?.expiresAt, T0 + 1500);
    assert.equal(
      await store.bindMcpSession("h1", { ...binding, now: T0 + 2000 }),
      false,
      "no binding once expired",
    );
    assert.equal(await store.bindMcpSession("nope", binding), false);

    assert.equal(await store.extendMcpSession("h1", T0 + 5000), true);
    assert.ok(await store.getMcpSession("h1", T0 + 4000));
    assert.equal(await store.extendMcpSession("nope", T0 + 5000), false);

    await store.purgeExpired(T0 + 2000);
    assert.equal(await store.getMcpSession("h2", T0), null, "purged");
    assert.ok(await store.getMcpSession("h1", T0 + 3000));
    await store.deleteMcpSession("h1");
    assert.equal(await store.getMcpSession("h1", T0), null);

    await store.createMcpSession({ ...base, idHash: "h3", userId: a.id, boundAt: T0 });
    await store.deleteUser(a.id);
    assert.equal(await store.getMcpSession("h3", T0), null, "gone with the account");
  });

  test("OAuth clients: saved, replaced by a re-fetch that keeps the first createdAt", async (store) => {
    const client: OAuthClient = {
      id: "https://app.example.com/client.json",
      kind: "metadata_document",
      name: "App",
      redirectUris: ["https://app.example.com/cb"],
      authMethod: "none",
      secretHash: null,
      clientUri: "https://app.example.com",
      createdAt: T0,
      refreshAt: T0 + 1000,
    };
    assert.equal(await store.getOAuthClient(client.id), null);
    await store.saveOAuthClient(client);
    assert.deepEqual(await store.getOAuthClient(client.id), client);
    await store.saveOAuthClient({
      ...client,
      name: "App 2",
      redirectUris: ["https://app.example.com/cb2"],
      createdAt: T0 + 50,
      refreshAt: T0 + 2000,
    });
    assert.deepEqual(await store.getOAuthClient(client.id), {
      ...client,
      name: "App 2",
      redirectUris: ["https://app.example.com/cb2"],
      refreshAt: T0 + 2000,
    });
  });

  test("OAuth codes and grants: one redemption wins, grants listed, touched, revoked; owner only", async (store) => {
    const a = user(1);
    const b = user(2);
    await store.createUser(a);
    await store.createUser(b);
    const code: OAuthCode = {
      codeHash: "code-1",
      clientId: "client",
      userId: a.id,
      redirectUri: "https://app.example.com/cb",
      codeChallenge: "challenge",
      resource: "https://pensieve.example.com/mcp",
      scopes: ["conversations:read"],
      createdAt: T0,
      expiresAt: T0 + 60_000,
      grantId: null,
    };
    await store.createOAuthCode(a.id, code);
    assert.deepEqual(await store.getOAuthCode("code-1"), code);
    const grant = (id: string, createdAt: number): OAuthGrant => ({
      id,
      userId: a.id,
      clientId: "client",
      scopes: ["conversations:read"],
      resource: code.resource,
      createdAt,
      lastUsedAt: createdAt,
      expiresAt: createdAt + 100_000,
      revokedAt: null,
    });
    const first = grant("g1", T0 + 1);
    const refresh = {
      tokenHash: "r1",
      grantId: "g1",
      createdAt: T0 + 1,
      usedAt: null,
      replacedBy: null,
    };
    assert.equal(await store.redeemOAuthCode("code-1", first, refresh), null);
    assert.equal((await store.getOAuthCode("code-1"))!.grantId, "g1");
    assert.deepEqual(await store.getOAuthGrant("g1"), first);
    assert.deepEqual(await store.getOAuthRefreshToken("r1"), refresh);
    const again = await store.redeemOAuthCode("code-1", grant("g2", T0 + 2), {
      ...refresh,
      tokenHash: "r2",
      grantId: "g2",
    });
    assert.equal(again, "g1", "a second redemption changes nothing and names the first grant");
    assert.equal(await store.getOAuthGrant("g2"), null);
    assert.equal(await store.getOAuthRefreshToken("r2"), null);
    await assert.rejects(store.redeemOAuthCode("no-such-code", grant("g3", T0), refresh));

    await store.createOAuthCode(a.id, { ...code, codeHash: "code-2" });
    await store.redeemOAuthCode("code-2", grant("g4", T0 + 4), {
      ...refresh,
      tokenHash: "r4",
      grantId: "g4",
    });
    assert.deepEqual((await store.listOAuthGrants(a.id, T0 + 10)).map((g) => g.id), ["g4", "g1"]);
    assert.deepEqual(await store.listOAuthGrants(b.id, T0 + 10), []);
    assert.deepEqual(
      await store.listOAuthGrants(a.id, T0 + 100_002),
      ["g4"].map((id) => grant(id, T0 + 4)),
    );

    await store.touchOAuthGrant(b.id, "g1", T0 + 500);
    assert.equal((await store.getOAuthGrant("g1"))!.lastUsedAt, T0 + 1, "not the owner");
    await store.touchOAuthGrant(a.id, "g1", T0 + 500);
    assert.equal((await store.getOAuthGrant("g1"))!.lastUsedAt, T0 + 500);

    assert.equal(await store.revokeOAuthGrant(b.id, "g1", T0 + 600), false);
    assert.equal((await store.getOAuthGrant("g1"))!.revokedAt, null, "not the owner");
    assert.equal(await store.revokeOAuthGrant(a.id, "g1", T0 + 600), true);
    assert.equal(
      await store.revokeOAuthGrant(a.id, "g1", T0 + 700),
      true,
      "revoking again is fine",
    );
    assert.equal((await store.getOAuthGrant("g1"))!.revokedAt, T0 + 600, "the first time stays");
    assert.equal(await store.getOAuthRefreshToken("r1"), null, "its refresh tokens are gone");
    assert.deepEqual((await store.listOAuthGrants(a.id, T0 + 10)).map((g) => g.id), ["g4"]);
    assert.equal(await store.revokeOAuthGrant(a.id, "nope", T0), false);

    await store.purgeExpired(T0 + 100_004);
    assert.equal(await store.getOAuthGrant("g4"), null, "expired grants are purged");
    assert.equal(await store.getOAuthRefreshToken("r4"), null, "with their refresh tokens");
    assert.equal(await store.getOAuthCode("code-1"), null, "and expired codes");
  });

  test("OAuth refresh tokens: rotated once; a lost answer is retried within the grace; reuse is reported", async (store) => {
    const a = user(1);
    await store.createUser(a);
    await store.createOAuthCode(a.id, {
      codeHash: "code",
      clientId: "client",
      userId: a.id,
      redirectUri: "https://app.example.com/cb",
      codeChallenge: "challenge",
      resource: "https://pensieve.example.com/mcp",
      scopes: [],
      createdAt: T0,
      expiresAt: T0 + 60_000,
      grantId: null,
    });
    await store.redeemOAuthCode("code", {
      id: "g",
      userId: a.id,
      clientId: "client",
      scopes: [],
      resource: "https://pensieve.example.com/mcp",
      createdAt: T0,
      lastUsedAt: T0,
      expiresAt: T0 + 1_000_000,
      revokedAt: null,
    }, { tokenHash: "r0", grantId: "g", createdAt: T0, usedAt: null, replacedBy: null });
    const token = (hash: string, createdAt: number) => ({
      tokenHash: hash,
      grantId: "g",
      createdAt,
      usedAt: null,
      replacedBy: null,
    });
    assert.equal(
      await store.rotateOAuthRefreshToken("r0", token("r1", T0 + 10), T0 + 10, 5000),
      "rotated",
    );
    assert.deepEqual(await store.getOAuthRefreshToken("r0"), {
      tokenHash: "r0",
      grantId: "g",
      createdAt: T0,
      usedAt: T0 + 10,
      replacedBy: "r1",
    });
    assert.deepEqual(await store.getOAuthRefreshToken("r1"), token("r1", T0 + 10));
    assert.equal(
      await store.rotateOAuthRefreshToken("r0", token("r1", T0 + 20), T0 + 20, 5000),
      "retried",
      "the same successor, still unused, within the grace",
    );
    assert.equal((await store.getOAuthRefreshToken("r1"))!.createdAt, T0 + 10, "nothing changed");
    assert.equal(
      await store.rotateOAuthRefreshToken("r0", token("rX", T0 + 20), T0 + 20, 5000),
      "reused",
      "another successor",
    );
    assert.equal(
      await store.rotateOAuthRefreshToken("r0", token("r1", T0 + 9000), T0 + 9000, 5000),
      "reused",
      "after the grace",
    );
    assert.equal(
      await store.rotateOAuthRefreshToken("r1", token("r2", T0 + 30), T0 + 30, 5000),
      "rotated",
    );
    assert.equal(
      await store.rotateOAuthRefreshToken("r0", token("r1", T0 + 40), T0 + 40, 5000),
      "reused",
      "its successor was used already",
    );
    assert.equal(await store.rotateOAuthRefreshToken("nope", token("r9", T0), T0, 5000), "reused");
    assert.equal(await store.getOAuthRefreshToken("rX"), null);
    assert.equal(await store.getOAuthRefreshToken("r9"), null);

    const racing = await Promise.all(
      Array.from(
        { length: 5 },
        (_, i) => store.rotateOAuthRefreshToken("r2", token(`race${i}`, T0 + 50), T0 + 50, 5000),
      ),
    );
    assert.equal(racing.filter((outcome) => outcome === "rotated").length, 1, racing.join());

    await store.deleteUser(a.id);
    assert.equal(await store.getOAuthGrant("g"), null);
    assert.equal(await store.getOAuthRefreshToken("r2"), null, "gone with the account");
  });

  test("import jobs: created, updated and read by their owner only", async (store) => {
    const a = user(1);
    const b = user(2);
    await store.createUser(a);
    await store.createUser(b);
    const job = {
      id: crypto.randomUUID(),
      status: "waiting" as const,
      summary: {},
      error: null,
      createdAt: T0,
      updatedAt: T0,
    };
    await store.createImportJob(a.id, job);
    assert.deepEqual(await store.getImportJob(a.id, job.id), job);
    assert.equal(await store.getImportJob(b.id, job.id), null);
    const done = {
      ...job,
      status: "failed" as const,
      summary: {
        conversations: 3,
        skipped: [{ conversation: "x", reason: "bad" }],
        "a.b": { $k: 1 },
      },
      error: "broken file",
      updatedAt: T0 + 5,
    };
    assert.equal(await store.updateImportJob(b.id, done), false);
    assert.deepEqual(await store.getImportJob(a.id, job.id), job);
    assert.equal(await store.updateImportJob(a.id, done), true);
    assert.deepEqual(await store.getImportJob(a.id, job.id), done);
    assert.equal(await store.updateImportJob(a.id, { ...done, id: crypto.randomUUID() }), false);
    await store.deleteUser(a.id);
    assert.equal(await store.getImportJob(a.id, job.id), null);
  });

  test("rate limits: count in a window, reset after it, peek, clear, purge", async (store) => {
    assert.deepEqual(await store.hitRateLimit("k", 1000, T0), { count: 1, resetAt: T0 + 1000 });
    assert.deepEqual(await store.hitRateLimit("k", 1000, T0 + 500), {
      count: 2,
      resetAt: T0 + 1000,
    });
    assert.deepEqual(await store.peekRateLimit("k", T0 + 600), { count: 2, resetAt: T0 + 1000 });
    assert.equal(await store.peekRateLimit("k", T0 + 1000), null);
    assert.deepEqual(await store.hitRateLimit("k", 1000, T0 + 1000), {
      count: 1,
      resetAt: T0 + 2000,
    });
    await store.clearRateLimit("k");
    assert.equal(await store.peekRateLimit("k", T0 + 1000), null);
    await store.hitRateLimit("old", 100, T0);
    await store.hitRateLimit("live", 10_000, T0);
    await store.purgeExpired(T0 + 200);
    assert.equal(await store.peekRateLimit("old", T0), null);
    assert.ok(await store.peekRateLimit("live", T0 + 200));
  });

  test("conversations: create with messages, get, list messages in ranges", async (store) => {
    const a = user(1);
    await store.createUser(a);
    const c = await store.createConversation(
      a.id,
      conversation({
        title: "T",
        tags: ["x", "y"],
        metadata: { k: 1 },
        messages: Array.from({ length: 10 }, (_, i) => say(`m${i}`, { metadata: { i } })),
      }),
    );
    assert.equal(c.messageCount, 10);
    assert.equal(c.version, 1);
    assert.deepEqual(c.tags, ["x", "y"]);
    assert.deepEqual(c.metadata, { k: 1 });
    assert.deepEqual(await store.getConversation(a.id, c.id), c);
    const all = await store.listMessages(a.id, c.id, { limit: 100 });
    assert.deepEqual(all.map((m) => m.seq), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(all[3].metadata, { i: 3 });
    assert.equal(all[3].createdAt, T0);
    const page = await store.listMessages(a.id, c.id, { afterSeq: 3, limit: 2 });
    assert.deepEqual(page.map((m) => m.content), ["m4", "m5"]);
    const last = await store.listMessages(a.id, c.id, { limit: 3, last: true });
    assert.deepEqual(last.map((m) => m.seq), [7, 8, 9]);
  });

  test("append: seq continues, head bumps; duplicates and unknown ids", async (store) => {
    const a = user(1);
    const b = user(2);
    await store.createUser(a);
    await store.createUser(b);
    const c = await store.createConversation(a.id, conversation({ messages: [say("first")] }));
    const r1 = (await store.appendMessages(a.id, c.id, [
      say("second", { clientMessageId: "c2" }),
      say("third", { clientMessageId: "c3" }),
    ], T0 + 100))!;
    assert.deepEqual(r1.messages.map((m) => [m.seq, m.duplicate]), [[1, false], [2, false]]);
    assert.equal(r1.conversation.messageCount, 3);
    assert.equal(r1.conversation.version, 2);
    assert.equal(r1.conversation.updatedAt, T0 + 100);

    const r2 = (await store.appendMessages(a.id, c.id, [
      say("second", { clientMessageId: "c2" }),
      say("fourth", { clientMessageId: "c4" }),
      say("fourth", { clientMessageId: "c4" }),
    ], T0 + 200))!;
    assert.deepEqual(r2.messages.map((m) => [m.seq, m.duplicate]), [[1, true], [3, false], [
      3,
      true,
    ]]);
    assert.equal(r2.conversation.messageCount, 4);

    const r3 = (await store.appendMessages(
      a.id,
      c.id,
      [say("second", { clientMessageId: "c2" })],
      T0 + 300,
    ))!;
    assert.equal(r3.messages[0].duplicate, true);
    assert.equal(r3.conversation.version, 3, "an all-duplicate append changes nothing");

    await assert.rejects(
      store.appendMessages(
        a.id,
        c.id,
        [say("new"), say("different", { clientMessageId: "c2" })],
        T0,
      ),
      Conflict,
    );
    assert.equal((await store.getConversation(a.id, c.id))!.messageCount, 4, "batch rolled back");
    assert.equal(await store.appendMessages(b.id, c.id, [say("x")], T0), null);
    assert.equal(await store.appendMessages(a.id, crypto.randomUUID(), [say("x")], T0), null);
  });

  test("update and delete: partial patches, owner only", async (store) => {
    const a = user(1);
    const b = user(2);
    await store.createUser(a);
    await store.createUser(b);
    const c = await store.createConversation(a.id, conversation({ title: "Old", tags: ["t"] }));
    const renamed = (await store.updateConversation(a.id, c.id, { title: "New" }, T0 + 1))!;
    assert.equal(renamed.title, "New");
    assert.deepEqual(renamed.tags, ["t"]);
    assert.equal(renamed.version, 2);
    const retagged =
      (await store.updateConversation(a.id, c.id, { tags: [], metadata: { m: true } }, T0 + 2))!;
    assert.equal(retagged.title, "New");
    assert.deepEqual(retagged.tags, []);
    assert.deepEqual(retagged.metadata, { m: true });
    assert.equal(await store.updateConversation(b.id, c.id, { title: "Hijack" }, T0), null);
    assert.equal(await store.deleteConversation(b.id, c.id), false);
    assert.ok(await store.getConversation(a.id, c.id));
    assert.equal(await store.deleteConversation(a.id, c.id), true);
    assert.equal(await store.deleteConversation(a.id, c.id), false);
    assert.deepEqual(await store.listMessages(a.id, c.id, { limit: 10 }), []);
  });

  test("list: newest first, cursor pages cover every item once, filters", async (store) => {
    const a = user(1);
    const b = user(2);
    await store.createUser(a);
    await store.createUser(b);
    const made = [];
    for (let i = 0; i < 13; i++) {
      // Pairs share an updatedAt, so paging must break ties by id.
      made.push(
        await store.createConversation(
          a.id,
          conversation({
            now: T0 + Math.floor(i / 2) * 1000,
            tags: i % 3 === 0 ? ["three"] : [],
            source: i % 2 ? "claude" : "chatgpt",
          }),
        ),
      );
    }
    await store.createConversation(b.id, conversation());
    const expected = [...made].sort((x, y) =>
      y.updatedAt - x.updatedAt || (y.id < x.id ? -1 : y.id > x.id ? 1 : 0)
    ).map((c) => c.id);
    const seen: string[] = [];
    let after;
    for (;;) {
      const page = await store.listConversations(a.id, { filter: {}, after, limit: 4 });
      if (!page.length) break;
      seen.push(...page.map((c) => c.id));
      const last = page[page.length - 1];
      after = { updatedAt: last.updatedAt, id: last.id };
    }
    assert.deepEqual(seen, expected);
    const byTag = await store.listConversations(a.id, { filter: { tag: "three" }, limit: 100 });
    assert.equal(byTag.length, 5);
    const bySource = await store.listConversations(a.id, {
      filter: { source: "claude" },
      limit: 100,
    });
    assert.equal(bySource.length, 6);
    const byTime = await store.listConversations(a.id, {
      filter: { updatedFrom: T0 + 1000, updatedTo: T0 + 3000 },
      limit: 100,
    });
    assert.deepEqual(byTime.map((c) => c.updatedAt).sort(), [
      T0 + 1000,
      T0 + 1000,
      T0 + 2000,
      T0 + 2000,
    ]);
  });

  test("search: ranked, one hit per conversation, title hits, filters, paging, isolation", async (store) => {
    const a = user(1);
    const b = user(2);
    await store.createUser(a);
    await store.createUser(b);
    const many = await store.createConversation(
      a.id,
      conversation({
        title: "Unrelated",
        tags: ["keep"],
        messages: [say("walrus walrus walrus"), say("walrus again"), say("nothing")],
      }),
    );
    const once = await store.createConversation(
      a.id,
      conversation({
        title: "Other",
        messages: [say("a long message that mentions a walrus only once among many other words")],
      }),
    );
    const titled = await store.createConversation(a.id, conversation({ title: "Walrus facts" }));
    await store.createConversation(
      b.id,
      conversation({ title: "Walrus", messages: [say("walrus")] }),
    );

    const hits = await store.searchConversations(a.id, {
      query: words("walrus"),
      filter: {},
      offset: 0,
      limit: 10,
    });
    assert.deepEqual(
      new Set(hits.map((h) => h.conversation.id)),
      new Set([many.id, once.id, titled.id]),
    );
    assert.equal(hits.length, 3);
    for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1].score <= hits[i].score);
    const manyHit = hits.find((h) => h.conversation.id === many.id)!;
    assert.equal(manyHit.message!.content, "walrus walrus walrus");
    assert.equal(hits.find((h) => h.conversation.id === titled.id)!.message, null);

    const filtered = await store.searchConversations(a.id, {
      query: words("walrus"),
      filter: { tag: "keep" },
      offset: 0,
      limit: 10,
    });
    assert.deepEqual(filtered.map((h) => h.conversation.id), [many.id]);

    const first = await store.searchConversations(a.id, {
      query: words("walrus"),
      filter: {},
      offset: 0,
      limit: 2,
    });
    const rest = await store.searchConversations(a.id, {
      query: words("walrus"),
      filter: {},
      offset: 2,
      limit: 2,
    });
    assert.deepEqual(
      [...first, ...rest].map((h) => h.conversation.id),
      hits.map((h) => h.conversation.id),
    );

    const none = await store.searchConversations(a.id, {
      query: words("nonexistentword"),
      filter: {},
      offset: 0,
      limit: 10,
    });
    assert.deepEqual(none, []);
  });

  test("search: languages, accents, prefixes and phrases", async (store) => {
    const a = user(1);
    await store.createUser(a);
    const texts: Record<string, string> = {
      ko1: "오늘 대화가 길었다",
      ko2: "그 대화를 저장했다",
      zh: "我们今天讨论了数据库的设计",
      ja: "私は東京に住んでいます",
      fr: "Rendez-vous au Café pour le Résumé",
      en: "Hello, world! This conversation is long",
      en2: "world hello backwards",
    };
    const ids: Record<string, string> = {};
    for (const [key, text] of Object.entries(texts)) {
      ids[key] =
        (await store.createConversation(a.id, conversation({ title: key, messages: [say(text)] })))
          .id;
    }
    const find = async (query: SearchQuery) =>
      (await store.searchConversations(a.id, { query, filter: {}, offset: 0, limit: 50 }))
        .map((h) => h.conversation.title).sort();
    assert.deepEqual(await find(words("대화")), ["ko1", "ko2"]);
    assert.deepEqual(await find(words("数据库")), ["zh"]);
    assert.deepEqual(await find(words("東京")), ["ja"]);
    assert.deepEqual(await find(words("計")), ["zh"].filter(() => false), "not present");
    assert.deepEqual(await find(words("す")), ["ja"], "a single character at the end of a run");
    assert.deepEqual(await find(words("设")), ["zh"], "a single character inside a run");
    assert.deepEqual(await find(words("cafe")), ["fr"]);
    assert.deepEqual(await find(words("RESUME")), ["fr"]);
    assert.deepEqual(await find({ terms: [{ words: ["conv"], prefix: true }] }), ["en"]);
    assert.deepEqual(await find(words("conv")), []);
    assert.deepEqual(await find(words(["hello", "world"])), ["en"]);
  });

  test("search: FTS syntax in query words never throws", async (store) => {
    const a = user(1);
    await store.createUser(a);
    await store.createConversation(a.id, conversation({ messages: [say("plain text")] }));
    const hostile = [
      '"',
      "*",
      "(",
      ")",
      "NEAR",
      "AND",
      "OR",
      "NOT",
      "body:x",
      "^x",
      "-x",
      '""x""',
      "{owner}",
      "a:b:c",
      "🙂",
      "\u0000",
    ];
    for (const word of hostile) {
      for (const prefix of [false, true]) {
        await store.searchConversations(a.id, {
          query: { terms: [{ words: [word, "text"], prefix }, { words: [word], prefix }] },
          filter: {},
          offset: 0,
          limit: 5,
        });
      }
    }
  });

  test("create: a taken id is a Conflict that leaves the first intact; a self-contradicting batch stores nothing", async (store) => {
    const a = user(1);
    await store.createUser(a);
    const first = await store.createConversation(
      a.id,
      conversation({ messages: [say("one"), say("two")] }),
    );
    await assert.rejects(
      store.createConversation(a.id, conversation({ id: first.id, messages: [say("other")] })),
      Conflict,
    );
    assert.deepEqual(await store.getConversation(a.id, first.id), first);
    assert.deepEqual(
      (await store.listMessages(a.id, first.id, { limit: 10 })).map((m) => m.content),
      ["one", "two"],
    );

    const contradicting = conversation({
      messages: [say("x", { clientMessageId: "k" }), say("y", { clientMessageId: "k" })],
    });
    await assert.rejects(store.createConversation(a.id, contradicting), Conflict);
    assert.equal(await store.getConversation(a.id, contradicting.id), null, "nothing stored");
    assert.deepEqual(await store.listMessages(a.id, contradicting.id, { limit: 10 }), []);

    const repeated = await store.createConversation(
      a.id,
      conversation({
        messages: [say("x", { clientMessageId: "k" }), say("x", { clientMessageId: "k" })],
      }),
    );
    assert.equal(repeated.messageCount, 1, "a repeat inside the batch is stored once");
  });

  test("create: the same id saved at once from many places is stored once, whole", async (store) => {
    const a = user(1);
    await store.createUser(a);
    const input = conversation({
      messages: Array.from({ length: 30 }, (_, i) => say(`m${i}`, { clientMessageId: `c${i}` })),
    });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 5 }, () => store.createConversation(a.id, input)),
    );
    assert.equal(outcomes.filter((o) => o.status === "fulfilled").length, 1);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") assert.ok(outcome.reason instanceof Conflict);
    }
    const head = (await store.getConversation(a.id, input.id))!;
    assert.equal(head.messageCount, 30);
    const stored = await store.listMessages(a.id, input.id, { limit: 100 });
    assert.deepEqual(stored.map((m) => m.seq), Array.from({ length: 30 }, (_, i) => i));
  });

  test("delete, then create again under the same id: only the new messages, from seq 0", async (store) => {
    const a = user(1);
    await store.createUser(a);
    const old = await store.createConversation(
      a.id,
      conversation({ messages: [say("old zebra"), say("old two"), say("old three")] }),
    );
    await store.appendMessages(a.id, old.id, [say("old four", { clientMessageId: "k" })], T0);
    assert.equal(await store.deleteConversation(a.id, old.id), true);
    const again = await store.createConversation(
      a.id,
      conversation({ id: old.id, messages: [say("new one")] }),
    );
    assert.equal(again.messageCount, 1);
    assert.equal(again.version, 1);
    const appended = (await store.appendMessages(
      a.id,
      old.id,
      [say("new two", { clientMessageId: "k" })],
      T0 + 1,
    ))!;
    assert.equal(appended.messages[0].duplicate, false, "the old conversation's ids are gone");
    assert.deepEqual(
      (await store.listMessages(a.id, old.id, { limit: 10 })).map((m) => [m.seq, m.content]),
      [[0, "new one"], [1, "new two"]],
    );
    const hits = await store.searchConversations(a.id, {
      query: words("zebra"),
      filter: {},
      offset: 0,
      limit: 10,
    });
    assert.deepEqual(hits, [], "the old messages are not found either");
  });

  test("messages: ranges at the edges", async (store) => {
    const a = user(1);
    await store.createUser(a);
    const c = await store.createConversation(
      a.id,
      conversation({ messages: Array.from({ length: 5 }, (_, i) => say(`m${i}`)) }),
    );
    const seqs = async (range: { afterSeq?: number; limit: number; last?: boolean }) =>
      (await store.listMessages(a.id, c.id, range)).map((m) => m.seq);
    assert.deepEqual(await seqs({ afterSeq: 4, limit: 10 }), []);
    assert.deepEqual(await seqs({ afterSeq: 99, limit: 10 }), []);
    assert.deepEqual(await seqs({ afterSeq: 2, limit: 10 }), [3, 4]);
    assert.deepEqual(await seqs({ afterSeq: 1, limit: 2, last: true }), [3, 4]);
    assert.deepEqual(await seqs({ afterSeq: 2, limit: 10, last: true }), [3, 4]);
    assert.deepEqual(await seqs({ limit: 10, last: true }), [0, 1, 2, 3, 4]);
    assert.deepEqual(await seqs({ afterSeq: -1, limit: 1 }), [0]);
  });

  test("append and update: times never go backwards, given times are kept, an empty patch still counts", async (store) => {
    const a = user(1);
    await store.createUser(a);
    const c = await store.createConversation(a.id, conversation({ now: T0 + 1000 }));
    const early = (await store.appendMessages(
      a.id,
      c.id,
      [say("said long ago", { createdAt: T0 - 5000 }), say("now")],
      T0 + 500,
    ))!;
    assert.equal(early.conversation.updatedAt, T0 + 1000, "updatedAt never moves back");
    assert.equal(early.conversation.createdAt, T0 + 1000);
    assert.deepEqual(early.messages.map((m) => m.createdAt), [T0 - 5000, T0 + 500]);
    const stored = await store.listMessages(a.id, c.id, { limit: 10 });
    assert.deepEqual(stored.map((m) => m.createdAt), [T0 - 5000, T0 + 500]);
    const touched = (await store.updateConversation(a.id, c.id, {}, T0 + 2000))!;
    assert.equal(touched.version, early.conversation.version + 1);
    assert.equal(touched.updatedAt, T0 + 2000);
    const dup = (await store.appendMessages(
      a.id,
      c.id,
      [say("x", { clientMessageId: "k" })],
      T0 + 3000,
    ))!;
    const again = (await store.appendMessages(
      a.id,
      c.id,
      [say("x", { clientMessageId: "k" })],
      T0 + 4000,
    ))!;
    assert.equal(
      again.conversation.updatedAt,
      dup.conversation.updatedAt,
      "a repeat changes nothing",
    );
    assert.equal(again.conversation.version, dup.conversation.version);
    assert.deepEqual(await store.getConversation(a.id, c.id), again.conversation);
  });

  test("users: delete takes OAuth codes, grants, refresh tokens, import jobs and sessions with it", async (store) => {
    const a = user(1);
    const b = user(2);
    await store.createUser(a);
    await store.createUser(b);
    for (const owner of [a, b]) {
      const tag = owner === a ? "a" : "b";
      await store.createOAuthCode(owner.id, {
        codeHash: `code-${tag}`,
        clientId: "client",
        userId: owner.id,
        redirectUri: "https://app.example.com/cb",
        codeChallenge: "challenge",
        resource: "https://pensieve.example.com/mcp",
        scopes: [],
        createdAt: T0,
        expiresAt: T0 + 60_000,
        grantId: null,
      });
      await store.createOAuthCode(owner.id, {
        codeHash: `unused-${tag}`,
        clientId: "client",
        userId: owner.id,
        redirectUri: "https://app.example.com/cb",
        codeChallenge: "challenge",
        resource: "https://pensieve.example.com/mcp",
        scopes: [],
        createdAt: T0,
        expiresAt: T0 + 60_000,
        grantId: null,
      });
      await store.redeemOAuthCode(`code-${tag}`, {
        id: `grant-${tag}`,
        userId: owner.id,
        clientId: "client",
        scopes: [],
        resource: "https://pensieve.example.com/mcp",
        createdAt: T0,
        lastUsedAt: T0,
        expiresAt: T0 + 1_000_000,
        revokedAt: null,
      }, {
        tokenHash: `refresh-${tag}`,
        grantId: `grant-${tag}`,
        createdAt: T0,
        usedAt: null,
        replacedBy: null,
      });
      await store.createImportJob(owner.id, {
        id: `job-${tag}`,
        status: "running",
        summary: {},
        error: null,
        createdAt: T0,
        updatedAt: T0,
      });
      await store.revokeAccessToken(owner.id, `jti-${tag}`, T0 + 1_000_000);
      await store.createMcpSession({
        idHash: `session-${tag}`,
        endpoint: "mcp",
        transport: "streamable",
        userId: owner.id,
        boundAt: null,
        boundCredential: null,
        createdAt: T0,
        expiresAt: T0 + 1_000_000,
      });
    }
    await store.deleteUser(a.id);
    assert.equal(await store.getOAuthCode("unused-a"), null);
    assert.equal(await store.getOAuthGrant("grant-a"), null);
    assert.equal(await store.getOAuthRefreshToken("refresh-a"), null);
    assert.equal(await store.getImportJob(a.id, "job-a"), null);
    assert.equal(await store.getMcpSession("session-a", T0), null);
    assert.deepEqual(await store.listOAuthGrants(a.id, T0), []);
    assert.ok(await store.getOAuthCode("unused-b"));
    assert.ok(await store.getOAuthGrant("grant-b"));
    assert.ok(await store.getOAuthRefreshToken("refresh-b"));
    assert.ok(await store.getImportJob(b.id, "job-b"));
    assert.ok(await store.getMcpSession("session-b", T0));
    assert.equal(await store.isAccessTokenRevoked("jti-b"), true);
  });

  test("OAuth codes: a code purged after expiry cannot be redeemed", async (store) => {
    const a = user(1);
    await store.createUser(a);
    await store.createOAuthCode(a.id, {
      codeHash: "short",
      clientId: "client",
      userId: a.id,
      redirectUri: "https://app.example.com/cb",
      codeChallenge: "challenge",
      resource: "https://pensieve.example.com/mcp",
      scopes: [],
      createdAt: T0,
      expiresAt: T0 + 1000,
      grantId: null,
    });
    await store.purgeExpired(T0 + 2000);
    await assert.rejects(store.redeemOAuthCode("short", {
      id: "g",
      userId: a.id,
      clientId: "client",
      scopes: [],
      resource: "https://pensieve.example.com/mcp",
      createdAt: T0,
      lastUsedAt: T0,
      expiresAt: T0 + 1_000_000,
      revokedAt: null,
    }, { tokenHash: "r", grantId: "g", createdAt: T0, usedAt: null, replacedBy: null }));
    assert.equal(await store.getOAuthGrant("g"), null);
    assert.equal(await store.getOAuthRefreshToken("r"), null);
  });

  test("rate limits: hits at once from many places are each counted once", async (store) => {
    const counts = await Promise.all(
      Array.from({ length: 25 }, () => store.hitRateLimit("burst", 60_000, T0)),
    );
    assert.deepEqual(
      counts.map((c) => c.count).sort((x, y) => x - y),
      Array.from({ length: 25 }, (_, i) => i + 1),
    );
    assert.ok(counts.every((c) => c.resetAt === T0 + 60_000));
    assert.deepEqual(await store.peekRateLimit("burst", T0), { count: 25, resetAt: T0 + 60_000 });
  });

  test("search: a deleted conversation is not found; a renamed one is found by its new title only", async (store) => {
    const a = user(1);
    await store.createUser(a);
    const gone = await store.createConversation(
      a.id,
      conversation({ title: "Quokka", messages: [say("quokka facts")] }),
    );
    const renamed = await store.createConversation(a.id, conversation({ title: "Wombat" }));
    await store.deleteConversation(a.id, gone.id);
    await store.updateConversation(a.id, renamed.id, { title: "Numbat" }, T0 + 1);
    const find = async (word: string) =>
      (await store.searchConversations(a.id, {
        query: words(word),
        filter: {},
        offset: 0,
        limit: 10,
      })).map((h) => h.conversation.id);
    assert.deepEqual(await find("quokka"), []);
    assert.deepEqual(await find("wombat"), []);
    assert.deepEqual(await find("numbat"), [renamed.id]);
  });

  test("concurrent appends keep seq contiguous and lose nothing", async (store) => {
    const a = user(1);
    await store.createUser(a);
    const c = await store.createConversation(a.id, conversation());
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.appendMessages(
          a.id,
          c.id,
          Array.from({ length: 5 }, (_, j) => say(`b${i}m${j}`)),
          T0,
        )),
    );
    const messages = await store.listMessages(a.id, c.id, { limit: 1000 });
    assert.deepEqual(messages.map((m) => m.seq), Array.from({ length: 100 }, (_, i) => i));
    assert.equal(new Set(messages.map((m) => m.content)).size, 100);
    assert.equal((await store.getConversation(a.id, c.id))!.messageCount, 100);
  });

  test("a retry storm of one batch stores each message once", async (store) => {
    const a = user(1);
    await store.createUser(a);
    const c = await store.createConversation(a.id, conversation());
    const batch = Array.from({ length: 5 }, (_, i) => say(`m${i}`, { clientMessageId: `id${i}` }));
    await Promise.all(
      Array.from({ length: 10 }, () => store.appendMessages(a.id, c.id, batch, T0)),
    );
    const messages = await store.listMessages(a.id, c.id, { limit: 100 });
    assert.deepEqual(messages.map((m) => m.clientMessageId), ["id0", "id1", "id2", "id3", "id4"]);
  });

  test("property: any sequence of appends keeps seq contiguous and client ids unique", async (store) => {
    const a = user(1);
    await store.createUser(a);
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.array(fc.option(fc.integer({ min: 0, max: 15 }), { nil: undefined }), {
            maxLength: 6,
          }),
          {
            maxLength: 8,
          },
        ),
        async (batches) => {
          const c = await store.createConversation(a.id, conversation());
          for (const batch of batches) {
            await store.appendMessages(
              a.id,
              c.id,
              batch.map((n, i) =>
                n === undefined ? say(`anon${i}`) : say(`msg${n}`, { clientMessageId: `c${n}` })
              ),
              T0,
            );
          }
          const stored = await store.listMessages(a.id, c.id, { limit: 1000 });
          assert.deepEqual(stored.map((m) => m.seq), stored.map((_, i) => i));
          const ids = stored.map((m) => m.clientMessageId).filter((id) => id !== null);
          assert.equal(new Set(ids).size, ids.length);
          const distinct = new Set(batches.flat().filter((n) => n !== undefined));
          assert.equal(ids.length, distinct.size);
          assert.equal((await store.getConversation(a.id, c.id))!.messageCount, stored.length);
        },
      ),
      { numRuns: 50 },
    );
  });
}
