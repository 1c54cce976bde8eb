import assert from "node:assert/strict";
import { runCli } from "../_helpers/cli.ts";
import { MongoClient } from "mongodb";
import { signUp, startServer, type TestServer } from "../_helpers/server.ts";
import {
  ADA_ID,
  ADA_PASSWORD,
  BOB_PASSWORD,
  legacyConversations,
  legacyUsers,
  mongodumpFile,
  mongoexportLines,
} from "./_legacy_fixtures.ts";

function migrate(server: TestServer, args: string[]) {
  return runCli("cli/migrate.ts", args, { PENSIEVE_DB: `sqlite:${server.dbPath}` });
}

async function login(server: TestServer, email: string, password: string) {
  const res = await server.call("/auth/login", { method: "POST", json: { email, password } });
  return { status: res.status, body: await res.json() };
}

async function conversationsOf(server: TestServer, token: string) {
  const list = await (await server.call("/api/conversations", { token })).json();
  return Promise.all(
    list.conversations.map(async (c: { id: string }) =>
      (await server.call(`/api/conversations/${c.id}`, { token })).json()
    ),
  );
}

/** What the migration must have made of the fixtures, checked through the API. */
async function assertMigrated(server: TestServer) {
  const ada = await login(server, "ada@example.com", ADA_PASSWORD);
  assert.equal(ada.status, 200, "a six-character password of the original still signs in");
  assert.equal(ada.body.user.id, ADA_ID, "the account keeps its id");
  const stored = await server.store.getUser(ADA_ID);
  assert.ok(stored?.passwordHash.startsWith("$argon2id$"), "the bcrypt hash is upgraded");
  assert.equal(stored?.createdAt, Date.parse("2025-03-01T10:00:00Z"));

  const [diary] = await conversationsOf(server, ada.body.access_token);
  assert.equal(diary.conversation.title, "Diary");
  assert.deepEqual(diary.conversation.tags, ["habits", "korean"]);
  assert.equal(diary.conversation.source, "import:pensieve-v1");
  assert.equal(diary.conversation.metadata.platform, "claude");
  assert.equal(diary.conversation.created_at, "2025-03-02T09:00:00.000Z");
  assert.equal(diary.conversation.updated_at, "2025-03-03T09:00:00.000Z");
  assert.deepEqual(
    diary.messages.map((m: { role: string; content: string }) => [m.role, m.content]),
    [
      ["user", "How do I keep a diary?"],
      ["assistant", "Write a little every day."],
      ["user", "And in Korean? 일기"],
      ["system", "An unknown role is kept, not lost."],
      ["assistant", "Blocks from an MCP client"],
    ],
  );
  assert.equal(diary.messages[3].metadata.original_role, "critic");

  const bob = await login(server, "bob@example.com", BOB_PASSWORD);
  assert.equal(bob.status, 200);
  const bobs = await conversationsOf(server, bob.body.access_token);
  assert.deepEqual(bobs.map((c) => c.messages[0].content), ["Bob's only question"]);
  const search = await (await server.call("/api/search?q=일기", {
    token: ada.body.access_token,
  })).json();
  assert.equal(search.results.length, 1, "migrated messages are searchable");
}

const EXPECTED_FIRST = [
  /Accounts: 2 created, 0 already migrated, 2 skipped\./,
  /skipped ADA@example\.com: .*email: is another original account's address but for case/,
  /skipped user #4: .*hashed_password: is not a bcrypt hash|skipped nohash@example\.com/,
  /Conversations brought over: 2 new conversations, 0 updated, 0 unchanged, 6 messages added, 2 skipped\./,
  /skipped c-orphan: c-orphan: user_id: is someone-gone, an account that was not brought over/,
  /skipped c-broken: c-broken: messages: is not a list/,
];

Deno.test("deno task migrate: the original Pensieve's mongoexport files — accounts sign in with their old password, conversations come over, a rerun adds only what is new", async () => {
  const server = await startServer();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/users.json`, mongoexportLines(legacyUsers()));
    await Deno.writeTextFile(`${dir}/conversations.json`, mongoexportLines(legacyConversations()));
    const args = ["--users", `${dir}/users.json`, "--conversations", `${dir}/conversations.json`];
    const first = await migrate(server, args);
    assert.equal(first.code, 0, first.stderr);
    for (const line of EXPECTED_FIRST) assert.match(first.stdout, line);
    await assertMigrated(server);

    const again = await migrate(server, args);
    assert.match(again.stdout, /Accounts: 0 created, 2 already migrated/);
    assert.match(again.stdout, /0 new conversations, 0 updated, 2 unchanged, 0 messages added/);

    // A later dump of the same conversation with one more message appends only that one.
    await Deno.writeTextFile(
      `${dir}/conversations.json`,
      mongoexportLines(legacyConversations(true)),
    );
    const later = await migrate(server, args);
    assert.match(later.stdout, /0 new conversations, 1 updated, 1 unchanged, 1 messages added/);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task migrate: a mongodump .bson dump migrates the same as mongoexport", async () => {
  const server = await startServer();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/users.bson`, mongodumpFile(legacyUsers()));
    await Deno.writeFile(`${dir}/conversations.bson`, mongodumpFile(legacyConversations()));
    const run = await migrate(server, [
      "--users",
      `${dir}/users.bson`,
      "--conversations",
      `${dir}/conversations.bson`,
    ]);
    assert.equal(run.code, 0, run.stderr);
    for (const line of EXPECTED_FIRST) assert.match(run.stdout, line);
    await assertMigrated(server);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task migrate: an email already registered here keeps its account and gets nothing of the original's", async () => {
  const server = await startServer();
  const dir = await Deno.makeTempDir();
  try {
    const res = await server.call("/auth/register", {
      method: "POST",
      json: { email: "bob@example.com", password: "registered-here-first" },
    });
    assert.equal(res.status, 201);
    const token = (await res.json()).access_token;
    await Deno.writeTextFile(`${dir}/users.json`, mongoexportLines(legacyUsers()));
    await Deno.writeTextFile(`${dir}/conversations.json`, mongoexportLines(legacyConversations()));
    const run = await migrate(server, [
      "--users",
      `${dir}/users.json`,
      "--conversations",
      `${dir}/conversations.json`,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /skipped bob@example\.com: .*made here, not by this migration/);
    assert.match(run.stdout, /skipped c-bob-1: .*an account that was not brought over/);
    assert.equal((await login(server, "bob@example.com", BOB_PASSWORD)).status, 401);
    assert.equal((await login(server, "bob@example.com", "registered-here-first")).status, 200);
    assert.deepEqual(await conversationsOf(server, token), []);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task migrate --user: the original's local JSON files into one account; a damaged file is reported, the rest brought over", async () => {
  const server = await startServer();
  const dir = await Deno.makeTempDir();
  try {
    const account = await signUp(server);
    // As its load_conversation tool wrote them: json.dumps(conv, default=str), naive UTC times.
    await Deno.writeTextFile(
      `${dir}/a.json`,
      JSON.stringify(
        {
          _id: "local-1",
          user_id: "whoever",
          messages: [{ role: "user", content: "saved locally" }, {
            role: "assistant",
            content: "indeed",
          }],
          metadata: { title: "Local one" },
          created_at: "2025-06-01 08:30:00.123456",
          updated_at: "2025-06-01 09:00:00",
        },
        null,
        2,
      ),
    );
    // As its GET /api/conversations listed them: `id`, a list.
    await Deno.writeTextFile(
      `${dir}/b.json`,
      JSON.stringify([{
        id: "local-2",
        messages: [{ role: "user", content: "from the list" }],
        metadata: {},
        created_at: "2025-06-02T00:00:00",
        updated_at: "2025-06-02T00:00:00",
      }]),
    );
    await Deno.writeTextFile(`${dir}/c.json`, '{"_id": "local-3", "messages": [');
    const run = await migrate(server, ["--user", account.email, dir]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /2 new conversations, 0 updated, 0 unchanged, 3 messages added, 1 skipped/,
    );
    assert.match(run.stdout, /skipped .*c\.json: .*malformed/);
    const all = await conversationsOf(server, account.token);
    const local = all.find((c) => c.conversation.title === "Local one");
    assert.equal(local.conversation.created_at, "2025-06-01T08:30:00.123Z");
    assert.equal(local.messages.length, 2);
    assert.equal((await migrate(server, [])).code, 2);
    assert.equal((await migrate(server, ["--user", "nobody@example.com", dir])).code, 1);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("POST /api/import takes the original Pensieve's conversations too (its API's list)", async () => {
  const server = await startServer();
  try {
    const account = await signUp(server);
    const res = await server.call("/api/import", {
      method: "POST",
      token: account.token,
      body: JSON.stringify(legacyConversations().slice(0, 2)),
    });
    assert.equal(res.status, 200);
    const { summary } = await res.json();
    assert.equal(summary.conversations_created, 2);
    const all = await conversationsOf(server, account.token);
    assert.deepEqual(all.map((c) => c.conversation.source), [
      "import:pensieve-v1",
      "import:pensieve-v1",
    ]);
  } finally {
    await server.close();
  }
});

const MONGODB_URL = Deno.env.get("PENSIEVE_TEST_MONGODB_URL");
if (!MONGODB_URL) {
  console.log("skip: migration from a live MongoDB (set PENSIEVE_TEST_MONGODB_URL to run it)");
}

Deno.test({
  name: "deno task migrate --mongodb-url: straight from the original's database",
  ignore: !MONGODB_URL,
  async fn() {
    const server = await startServer();
    const client = new MongoClient(MONGODB_URL!);
    const database = `pensieve_migrate_${crypto.randomUUID().slice(0, 8)}`;
    try {
      const db = client.db(database);
      await db.collection("users").insertMany(legacyUsers() as never[]);
      await db.collection("conversations").insertMany(legacyConversations() as never[]);
      const run = await migrate(server, [
        "--mongodb-url",
        MONGODB_URL!,
        "--database",
        database,
      ]);
      assert.equal(run.code, 0, run.stderr);
      for (const line of EXPECTED_FIRST) assert.match(run.stdout, line);
      await assertMigrated(server);
    } finally {
      await client.db(database).dropDatabase().catch(() => {});
      await client.close();
      await server.close();
    }
  },
});
