/**
 * Property-based tests with fast-check: what the zod schemas allow, every REST route takes (a
 * 2xx, or the one 4xx the state calls for, never a 5xx), and what it stores reads back exactly as
 * sent (trimmed and NFC-normalised where the schema says so, nothing else changed or dropped).
 *
 * PENSIEVE_FUZZ_RUNS scales the number of runs; PENSIEVE_FUZZ_SEED replays a failure's seed.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { z } from "zod";
import {
  appendMessagesSchema,
  changePasswordSchema,
  createTokenSchema,
  credentialsSchema,
  deleteAccountSchema,
  listQuerySchema,
  loginSchema,
  messagesQuerySchema,
  renameTokenSchema,
  saveConversationSchema,
  searchQuerySchema,
  updateConversationSchema,
} from "../../core/schemas.ts";
import { emailAddress, jsonText, validInput } from "../_helpers/arbitraries.ts";
import { signUp, type TestServer, withServer } from "../_helpers/server.ts";

const SCALE = Number(Deno.env.get("PENSIEVE_FUZZ_RUNS") ?? 1);
const SEED = Deno.env.get("PENSIEVE_FUZZ_SEED");
const params = (numRuns: number): fc.Parameters<unknown> => ({
  numRuns: Math.max(1, Math.round(numRuns * SCALE)),
  ...(SEED ? { seed: Number(SEED) } : {}),
  endOnFailure: true,
});

// deno-lint-ignore no-explicit-any
type Json = any;
type MessageInput = z.input<typeof appendMessagesSchema>["messages"][number];

interface Reply {
  status: number;
  body: Json;
  text: string;
}

/** Sends `json` as the body (its exact text, `__proto__` keys and all). */
async function call(
  server: TestServer,
  method: string,
  path: string,
  token: string | undefined,
  json?: unknown,
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (json !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(server.url + path, {
    method,
    headers,
    body: json === undefined ? undefined : jsonText(json),
  });
  const text = await response.text();
  assert.ok(response.status < 500, `${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
  return { status: response.status, text, body: text ? JSON.parse(text) : null };
}

function expectStatus(reply: Reply, allowed: number[], label: string): void {
  assert.ok(
    allowed.includes(reply.status),
    `${label}: ${reply.status} ${reply.text.slice(0, 400)}`,
  );
}

/** JSON as the server holds it: what JSON.parse makes of the text that was sent. */
const asSent = (value: unknown) => JSON.parse(jsonText(value));

const text = (value: string) => value.trim().normalize("NFC");

/**
 * What a batch of messages stores: each client_message_id once (a repeat of the same message is
 * a duplicate), or null when a repeat differs, which the server refuses with a 409.
 */
function stored(messages: MessageInput[]): MessageInput[] | null {
  const seen = new Map<string, MessageInput>();
  const out: MessageInput[] = [];
  for (const message of messages) {
    const id = message.client_message_id;
    if (id !== undefined) {
      const first = seen.get(id);
      if (first) {
        if (first.role !== message.role || first.content !== message.content) return null;
        continue;
      }
      seen.set(id, message);
    }
    out.push(message);
  }
  return out;
}

function assertMessage(got: Json, sent: MessageInput, seq: number, label: string): void {
  assert.equal(got.seq, seq, label);
  assert.equal(got.role, sent.role, label);
  assert.equal(got.content, sent.content, `${label}: content`);
  assert.equal(got.client_message_id, sent.client_message_id ?? null, label);
  if (sent.created_at !== undefined) {
    assert.equal(got.created_at, new Date(Date.parse(sent.created_at)).toISOString(), label);
  }
  assert.deepEqual(
    got.metadata,
    sent.metadata === undefined ? null : asSent(sent.metadata),
    `${label}: metadata`,
  );
}

async function allMessages(server: TestServer, token: string, id: string): Promise<Json[]> {
  const reply = await call(server, "GET", `/api/conversations/${id}?limit=1000`, token);
  expectStatus(reply, [200], "load");
  assert.equal(reply.body.next_after_seq, null);
  return reply.body.messages;
}

async function newConversation(server: TestServer, token: string): Promise<string> {
  const reply = await call(server, "POST", "/api/conversations", token, {});
  expectStatus(reply, [201], "save");
  return reply.body.conversation.id;
}

const credentials = validInput(credentialsSchema, { email: emailAddress() });

Deno.test("valid input to every REST route: a 2xx, and what it stored reads back as sent", () =>
  withServer(async (server) => {
    const user = await signUp(server);
    const token = user.token;
    const step = async <T>(
      arbitrary: fc.Arbitrary<T>,
      runs: number,
      check: (v: T) => Promise<void>,
    ) => await fc.assert(fc.asyncProperty(arbitrary, check), params(runs));

    // POST /api/conversations: everything sent is stored as sent.
    await step(validInput(saveConversationSchema), 30, async (input) => {
      const reply = await call(server, "POST", "/api/conversations", token, input);
      const messages = stored(input.messages ?? []);
      if (messages === null) return expectStatus(reply, [409], "save with a conflicting id");
      expectStatus(reply, [201], "save");
      const head = reply.body.conversation;
      const sentTitle = input.title === undefined ? "" : text(input.title);
      if (sentTitle) assert.equal(head.title, sentTitle);
      else assert.ok(head.title.length > 0, "a default title");
      assert.deepEqual(head.tags, [...new Set((input.tags ?? []).map(text))]);
      assert.equal(head.source, (input.source ?? "api").trim().toLowerCase());
      assert.deepEqual(head.metadata, asSent(input.metadata ?? {}), "conversation metadata");
      assert.equal(head.message_count, messages.length);
      const got = await allMessages(server, token, head.id);
      assert.equal(got.length, messages.length);
      messages.forEach((m, i) => assertMessage(got[i], m, i, `message ${i}`));
    });

    // POST /api/conversations/{id}/messages: appended after what is there, as sent.
    await step(validInput(appendMessagesSchema), 30, async (input) => {
      const id = await newConversation(server, token);
      const reply = await call(server, "POST", `/api/conversations/${id}/messages`, token, input);
      const messages = stored(input.messages);
      if (messages === null) return expectStatus(reply, [409], "append with a conflicting id");
      expectStatus(reply, [201], "append");
      const got = await allMessages(server, token, id);
      assert.equal(got.length, messages.length);
      messages.forEach((m, i) => assertMessage(got[i], m, i, `message ${i}`));
      // Sent again, every message is a duplicate and nothing more is stored.
      const again = await call(server, "POST", `/api/conversations/${id}/messages`, token, input);
      if (input.messages.every((m) => m.client_message_id !== undefined)) {
        expectStatus(again, [200], "retried append");
        assert.equal((await allMessages(server, token, id)).length, messages.length);
      }
    });

    // PATCH /api/conversations/{id}: the fields given change, the others stay.
    const patched = await newConversation(server, token);
    await step(validInput(updateConversationSchema), 30, async (patch) => {
      const before = (await call(server, "GET", `/api/conversations/${patched}`, token)).body;
      const reply = await call(server, "PATCH", `/api/conversations/${patched}`, token, patch);
      expectStatus(reply, [200], "update");
      const head = reply.body.conversation;
      const was = before.conversation;
      assert.equal(head.title, patch.title === undefined ? was.title : text(patch.title));
      assert.deepEqual(
        head.tags,
        patch.tags === undefined ? was.tags : [...new Set(patch.tags.map(text))],
      );
      assert.deepEqual(
        head.metadata,
        patch.metadata === undefined ? was.metadata : asSent(patch.metadata),
      );
      assert.equal(head.version, was.version + 1);
    });

    // GET /api/conversations/{id}(/messages): the page asked for.
    const paged = await newConversation(server, token);
    await call(server, "POST", `/api/conversations/${paged}/messages`, token, {
      messages: Array.from({ length: 30 }, (_, i) => ({ role: "user", content: `m${i}` })),
    });
    await step(validInput(messagesQuerySchema), 30, async (query) => {
      const search = new URLSearchParams(query as Record<string, string>);
      for (const path of [`/api/conversations/${paged}`, `/api/conversations/${paged}/messages`]) {
        const reply = await call(server, "GET", `${path}?${search}`, token);
        expectStatus(reply, [200], path);
        const seqs: number[] = reply.body.messages.map((m: Json) => m.seq);
        const limit = Number(query.limit ?? 100);
        const after = Number(query.after_seq ?? -1);
        const all = Array.from({ length: 30 }, (_, i) => i).filter((s) => s > after);
        const want = query.last === "true" ? all.slice(-limit) : all.slice(0, limit);
        assert.deepEqual(seqs, want, `${path}?${search}`);
      }
    });

    // GET /api/conversations and /api/search: only what the filters allow, page after page. A
    // cursor the server never gave out is refused with a 400 that says so.
    const refusedCursor = (reply: Reply, query: { cursor?: string }) =>
      query.cursor !== undefined && reply.status === 400 &&
      /cursor/.test(reply.body.error.message);
    await step(validInput(listQuerySchema), 30, async (query) => {
      const search = new URLSearchParams(query as Record<string, string>);
      const reply = await call(server, "GET", `/api/conversations?${search}`, token);
      if (refusedCursor(reply, query)) return;
      expectStatus(reply, [200], `list ?${search}`);
      const limit = Number(query.limit ?? 20);
      assert.ok(reply.body.conversations.length <= limit);
      for (const c of reply.body.conversations) {
        if (query.tag !== undefined) assert.ok(c.tags.includes(text(query.tag)));
        if (query.source !== undefined) assert.equal(c.source, query.source.trim().toLowerCase());
      }
      if (reply.body.next_cursor) {
        search.set("cursor", reply.body.next_cursor);
        const next = await call(server, "GET", `/api/conversations?${search}`, token);
        expectStatus(next, [200], "the next page");
        const first = new Set(reply.body.conversations.map((c: Json) => c.id));
        assert.ok(next.body.conversations.every((c: Json) => !first.has(c.id)));
      }
    });
    await step(validInput(searchQuerySchema), 30, async (query) => {
      const search = new URLSearchParams(query as Record<string, string>);
      const reply = await call(server, "GET", `/api/search?${search}`, token);
      if (refusedCursor(reply, query)) return;
      // A query of only punctuation has no words to look for: a 400 that says so.
      if (reply.status === 400) {
        assert.match(reply.body.error.message, /at least one word|at most \d+ words/);
        return;
      }
      expectStatus(reply, [200], `search ?${search}`);
      assert.ok(reply.body.results.length <= Number(query.limit ?? 20));
    });

    // /api/tokens: made, renamed and revoked as asked.
    await step(
      fc.tuple(validInput(createTokenSchema), validInput(renameTokenSchema)),
      15,
      async ([create, rename]) => {
        const made = await call(server, "POST", "/api/tokens", token, create);
        expectStatus(made, [201], "create token");
        assert.equal(made.body.token.name, create.name.trim());
        assert.equal(made.body.token.expires_at === null, create.expires_in_days === undefined);
        const id = made.body.token.id;
        const renamed = await call(server, "PATCH", `/api/tokens/${id}`, token, rename);
        expectStatus(renamed, [200], "rename token");
        assert.equal(renamed.body.token.name, rename.name.trim());
        expectStatus(await call(server, "DELETE", `/api/tokens/${id}`, token), [204], "revoke");
        const me = await call(server, "GET", "/auth/me", made.body.secret);
        expectStatus(me, [401], "a revoked token");
      },
    );

    // /auth: accounts are made with what was sent and sign in with it; wrong passwords are 403s.
    await step(credentials, 4, async (input) => {
      const made = await call(server, "POST", "/auth/register", undefined, input);
      expectStatus(made, [201, 409], "register");
      if (made.status === 409) return;
      const email = input.email.trim().normalize("NFC").toLowerCase();
      assert.equal(made.body.user.email, email);
      const login = await call(server, "POST", "/auth/login", undefined, input);
      expectStatus(login, [200], "sign in with what was registered");
    });
    await step(validInput(loginSchema, { email: emailAddress() }), 4, async (input) => {
      const reply = await call(server, "POST", "/auth/login", undefined, input);
      expectStatus(reply, [401, 429], "sign in to an account that does not exist");
    });
    await step(validInput(changePasswordSchema), 3, async (input) => {
      if (input.current_password === user.password) return;
      const reply = await call(server, "POST", "/auth/password", token, input);
      // A 429 once the account has seen too many wrong passwords.
      expectStatus(reply, [403, 429], "change password with a wrong one");
    });
    await step(validInput(deleteAccountSchema), 3, async (input) => {
      if (input.password === user.password) return;
      const reply = await call(server, "DELETE", "/auth/account", token, input);
      expectStatus(reply, [403, 429], "delete the account with a wrong password");
    });

    // The routes with no input beyond an id.
    const kept = await newConversation(server, token);
    for (
      const [method, path, allowed] of [
        ["GET", "/auth/me", [200]],
        ["GET", "/api/tokens", [200]],
        ["GET", "/api/connected-apps", [200]],
        ["DELETE", `/api/connected-apps/${crypto.randomUUID()}`, [404]],
        ["GET", "/api/export", [200]],
        ["GET", "/api/export?format=markdown", [200]],
        ["GET", `/api/export/${kept}`, [200]],
        ["GET", `/api/export/${kept}?format=markdown`, [200]],
        ["POST", "/api/import/jobs", [201]],
        ["DELETE", `/api/conversations/${kept}`, [204]],
        ["GET", `/api/conversations/${kept}`, [404]],
      ] as const
    ) {
      const response = await fetch(server.url + path, {
        method,
        headers: { Authorization: `Bearer ${token}` },
      });
      await response.body?.cancel();
      assert.ok((allowed as readonly number[]).includes(response.status), `${method} ${path}`);
    }
  }));
