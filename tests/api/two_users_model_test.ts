/**
 * A model-based test with fast-check commands: two users save, append, update, delete, load, list
 * and search through the real HTTP API in random order, and after every step the answers agree
 * with a plain in-memory model. Each user also tries the other's conversation ids, which must
 * answer 404 and change nothing; search and list never show one user the other's conversations.
 *
 * PENSIEVE_FUZZ_RUNS scales the number of runs; PENSIEVE_FUZZ_SEED replays a failure's seed.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { signUp, type TestServer, withServer } from "../_helpers/server.ts";

const SCALE = Number(Deno.env.get("PENSIEVE_FUZZ_RUNS") ?? 1);
const SEED = Deno.env.get("PENSIEVE_FUZZ_SEED");

/** Words none of which starts another, so a search for one (a prefix search) finds only it. */
const WORDS = [
  "alpha",
  "bravo",
  "charlie",
  "delta",
  "echo",
  "foxtrot",
  "golf",
  "hotel",
  "india",
  "juliett",
  "kilo",
  "lima",
] as const;

interface ModelMessage {
  role: "user" | "assistant";
  content: string;
}

interface ModelConversation {
  id: string;
  title: string;
  tags: string[];
  messages: ModelMessage[];
}

/** What each user has, as the model sees it. */
interface Model {
  users: [ModelConversation[], ModelConversation[]];
}

interface Real {
  server: TestServer;
  tokens: [string, string];
}

type User = 0 | 1;

// deno-lint-ignore no-explicit-any
type Json = any;

async function call(real: Real, user: User, method: string, path: string, json?: unknown) {
  const response = await real.server.call(path, { method, token: real.tokens[user], json });
  const text = await response.text();
  assert.ok(response.status < 500, `${method} ${path}: ${response.status} ${text}`);
  return { status: response.status, body: text ? JSON.parse(text) : null as Json };
}

const words = (text: string) => text.toLowerCase().split(/[^a-z]+/).filter(Boolean);

const sentence = fc.array(
  fc.tuple(fc.constantFrom(...WORDS), fc.constantFrom("", ",", "!", "?"), fc.boolean()),
  { minLength: 1, maxLength: 4 },
).map((parts) => parts.map(([w, mark, upper]) => (upper ? w.toUpperCase() : w) + mark).join(" "));

const message = fc.record({
  role: fc.constantFrom("user" as const, "assistant" as const),
  content: sentence,
});

const user = fc.constantFrom<User>(0, 1);

/** The conversation a command means: the n-th of the user's, whatever they have by then. */
const pick = (list: ModelConversation[], n: number) => list[n % list.length];

function assertHead(got: Json, want: ModelConversation, label: string): void {
  assert.equal(got.id, want.id, label);
  assert.equal(got.title, want.title, label);
  assert.deepEqual(got.tags, want.tags, label);
  assert.equal(got.message_count, want.messages.length, label);
}

class Save implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly user: User,
    readonly title: string,
    readonly tags: string[],
    readonly messages: ModelMessage[],
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const reply = await call(real, this.user, "POST", "/api/conversations", {
      title: this.title,
      tags: this.tags,
      messages: this.messages,
    });
    assert.equal(reply.status, 201);
    const saved = {
      id: reply.body.conversation.id,
      title: this.title,
      tags: [...new Set(this.tags)],
      messages: [...this.messages],
    };
    assertHead(reply.body.conversation, saved, this.toString());
    model.users[this.user].push(saved);
  }
  toString = () => `save(${this.user}, ${JSON.stringify(this.title)}, ${this.messages.length})`;
}

class Append implements fc.AsyncCommand<Model, Real> {
  constructor(readonly user: User, readonly n: number, readonly messages: ModelMessage[]) {}
  check = (model: Readonly<Model>) => model.users[this.user].length > 0;
  async run(model: Model, real: Real) {
    const target = pick(model.users[this.user], this.n);
    const reply = await call(
      real,
      this.user,
      "POST",
      `/api/conversations/${target.id}/messages`,
      { messages: this.messages },
    );
    assert.equal(reply.status, 201);
    const seqs = reply.body.messages.map((m: Json) => m.seq);
    const start = target.messages.length;
    assert.deepEqual(seqs, this.messages.map((_, i) => start + i), this.toString());
    target.messages.push(...this.messages);
    assertHead(reply.body.conversation, target, this.toString());
  }
  toString = () => `append(${this.user}, #${this.n}, ${this.messages.length})`;
}

class Update implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly user: User,
    readonly n: number,
    readonly title: string,
    readonly tags: string[],
  ) {}
  check = (model: Readonly<Model>) => model.users[this.user].length > 0;
  async run(model: Model, real: Real) {
    const target = pick(model.users[this.user], this.n);
    const reply = await call(real, this.user, "PATCH", `/api/conversations/${target.id}`, {
      title: this.title,
      tags: this.tags,
    });
    assert.equal(reply.status, 200);
    target.title = this.title;
    target.tags = [...new Set(this.tags)];
    assertHead(reply.body.conversation, target, this.toString());
  }
  toString = () => `update(${this.user}, #${this.n}, ${JSON.stringify(this.title)})`;
}

class Delete implements fc.AsyncCommand<Model, Real> {
  constructor(readonly user: User, readonly n: number) {}
  check = (model: Readonly<Model>) => model.users[this.user].length > 0;
  async run(model: Model, real: Real) {
    const list = model.users[this.user];
    const target = pick(list, this.n);
    const reply = await call(real, this.user, "DELETE", `/api/conversations/${target.id}`);
    assert.equal(reply.status, 204);
    list.splice(list.indexOf(target), 1);
    const gone = await call(real, this.user, "GET", `/api/conversations/${target.id}`);
    assert.equal(gone.status, 404, "a deleted conversation is gone");
  }
  toString = () => `delete(${this.user}, #${this.n})`;
}

class Load implements fc.AsyncCommand<Model, Real> {
  constructor(readonly user: User, readonly n: number) {}
  check = (model: Readonly<Model>) => model.users[this.user].length > 0;
  async run(model: Model, real: Real) {
    const target = pick(model.users[this.user], this.n);
    const reply = await call(real, this.user, "GET", `/api/conversations/${target.id}?limit=1000`);
    assert.equal(reply.status, 200);
    assertHead(reply.body.conversation, target, this.toString());
    assert.deepEqual(
      reply.body.messages.map((m: Json) => [m.seq, m.role, m.content]),
      target.messages.map((m, i) => [i, m.role, m.content]),
    );
  }
  toString = () => `load(${this.user}, #${this.n})`;
}

class List implements fc.AsyncCommand<Model, Real> {
  constructor(readonly user: User) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const reply = await call(real, this.user, "GET", "/api/conversations?limit=100");
    assert.equal(reply.status, 200);
    const want = new Map(model.users[this.user].map((c) => [c.id, c]));
    assert.equal(reply.body.conversations.length, want.size, "lists exactly the user's own");
    for (const got of reply.body.conversations) {
      const mine = want.get(got.id);
      assert.ok(mine, `lists ${got.id}, which is not user ${this.user}'s`);
      assertHead(got, mine, this.toString());
    }
  }
  toString = () => `list(${this.user})`;
}

class Search implements fc.AsyncCommand<Model, Real> {
  constructor(readonly user: User, readonly word: string) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const reply = await call(real, this.user, "GET", `/api/search?q=${this.word}&limit=50`);
    assert.equal(reply.status, 200);
    const want = model.users[this.user].filter((c) =>
      words(c.title).includes(this.word) ||
      c.messages.some((m) => words(m.content).includes(this.word))
    ).map((c) => c.id).sort();
    const got = reply.body.results.map((r: Json) => r.conversation.id).sort();
    assert.deepEqual(got, want, `search(${this.user}, ${this.word}) finds exactly the user's own`);
  }
  toString = () => `search(${this.user}, ${this.word})`;
}

/** One user uses an id of the other's: 404, exactly as for an id that does not exist. */
class Trespass implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly user: User,
    readonly n: number,
    readonly action: "load" | "messages" | "append" | "update" | "delete" | "export",
  ) {}
  check = (model: Readonly<Model>) => model.users[1 - this.user].length > 0;
  async run(model: Model, real: Real) {
    const target = pick(model.users[1 - this.user], this.n);
    const path = `/api/conversations/${target.id}`;
    const [method, url, json] = {
      load: ["GET", path, undefined],
      messages: ["GET", `${path}/messages`, undefined],
      append: ["POST", `${path}/messages`, { messages: [{ role: "user", content: "intruder" }] }],
      update: ["PATCH", path, { title: "taken over" }],
      delete: ["DELETE", path, undefined],
      export: ["GET", `/api/export/${target.id}`, undefined],
    }[this.action] as [string, string, unknown];
    const reply = await call(real, this.user, method, url, json);
    assert.equal(reply.status, 404, this.toString());
    assert.equal(reply.body.error.code, "not_found");
    // The owner still has it exactly as the model says.
    const owner = (1 - this.user) as User;
    const still = await call(real, owner, "GET", `${path}?limit=1000`);
    assert.equal(still.status, 200);
    assertHead(still.body.conversation, target, this.toString());
  }
  toString = () => `trespass(${this.user}, #${this.n}, ${this.action})`;
}

const n = fc.nat(20);
const title = sentence;
const tags = fc.array(fc.constantFrom(...WORDS), { maxLength: 3 });

const commands = [
  fc.tuple(user, title, tags, fc.array(message, { maxLength: 4 })).map(([u, t, g, m]) =>
    new Save(u, t, g, m)
  ),
  fc.tuple(user, n, fc.array(message, { minLength: 1, maxLength: 3 })).map(([u, i, m]) =>
    new Append(u, i, m)
  ),
  fc.tuple(user, n, title, tags).map(([u, i, t, g]) => new Update(u, i, t, g)),
  fc.tuple(user, n).map(([u, i]) => new Delete(u, i)),
  fc.tuple(user, n).map(([u, i]) => new Load(u, i)),
  user.map((u) => new List(u)),
  fc.tuple(user, fc.constantFrom(...WORDS)).map(([u, w]) => new Search(u, w)),
  fc.tuple(
    user,
    n,
    fc.constantFrom("load", "messages", "append", "update", "delete", "export" as const),
  ).map(([u, i, a]) => new Trespass(u, i, a)),
];

Deno.test("two users through the API agree with an in-memory model, and never see each other", () =>
  withServer(async (server) => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 60, size: "medium" }), async (cmds) => {
        const [a, b] = [await signUp(server), await signUp(server)];
        const setup = () => ({
          model: { users: [[], []] } as Model,
          real: { server, tokens: [a.token, b.token] } as Real,
        });
        await fc.asyncModelRun(setup, cmds);
      }),
      {
        numRuns: Math.max(1, Math.round(40 * SCALE)),
        ...(SEED ? { seed: Number(SEED) } : {}),
        endOnFailure: true,
      },
    );
  }));
