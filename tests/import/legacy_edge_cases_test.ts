import assert from "node:assert/strict";
import { runCli } from "../_helpers/cli.ts";
import bcrypt from "bcryptjs";
import { startServer, type TestServer } from "../_helpers/server.ts";

function migrate(server: TestServer, args: string[]) {
  return runCli("cli/migrate.ts", args, { PENSIEVE_DB: `sqlite:${server.dbPath}` });
}

const PASSWORD = "old-password";
const HASH = bcrypt.hashSync(PASSWORD, 4);
const OID = "65a1f0c2e4b0a1b2c3d4e5f6";

/** mongoexport's lines, written by hand where Extended JSON has its odd corners. */
function lines(...documents: string[]): string {
  return documents.join("\n") + "\n";
}

Deno.test("deno task migrate: hashes no sign-in could verify in time are refused; Extended JSON times and naive ones are read; odd documents cost only themselves", async () => {
  const server = await startServer();
  const dir = await Deno.makeTempDir();
  try {
    const users = lines(
      // A cost of 31 would take the server days per sign-in; $2x$ no library verifies.
      JSON.stringify({
        _id: "u-slow",
        email: "slow@example.com",
        hashed_password: `$2b$31$${HASH.slice(7)}`,
      }),
      JSON.stringify({
        _id: "u-2x",
        email: "buggy@example.com",
        hashed_password: `$2x$${HASH.slice(4)}`,
      }),
      JSON.stringify({
        _id: { $oid: OID },
        email: "times@example.com",
        hashed_password: HASH,
        created_at: { $date: { $numberLong: "1704164645123" } },
      }),
    );
    const deep = "[".repeat(1_000_000) + "]".repeat(1_000_000);
    const conversations = lines(
      JSON.stringify({
        _id: { $oid: "65a1f0c2e4b0a1b2c3d4e001" },
        user_id: OID,
        messages: [
          { role: "__proto__", content: "an odd role, kept" },
          { role: "user", content: "naive", timestamp: "2024-01-02 03:04:05.123456" },
          { role: "assistant", content: "offset", timestamp: "2024-01-02T03:04:05.123456+05:30" },
        ],
        metadata: { title: "Times" },
        created_at: { $date: { $numberLong: "not a number" } },
        updated_at: { $date: "2024-01-03T00:00:00.000Z" },
      }),
      `{"_id": "deep", "user_id": "${OID}", "messages": [{"role": "user", "content": ${deep}}]}`,
      JSON.stringify({
        _id: "after",
        user_id: OID,
        messages: [{ role: "user", content: "after the deep one" }],
        metadata: { title: "After" },
        created_at: 1.7e12 + 0.5, // epoch milliseconds, not whole
      }),
    );
    await Deno.writeTextFile(`${dir}/users.json`, users);
    await Deno.writeTextFile(`${dir}/conversations.json`, conversations);
    const run = await migrate(server, [
      "--users",
      `${dir}/users.json`,
      "--conversations",
      `${dir}/conversations.json`,
    ]);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.match(run.stdout, /Accounts: 1 created, 0 already migrated, 2 skipped\./);
    assert.match(
      run.stdout,
      /skipped slow@example\.com: .*bcrypt cost of 31; this server verifies 4 to 16/,
    );
    assert.match(run.stdout, /skipped buggy@example\.com: .*is not a bcrypt hash/);
    assert.match(run.stdout, /2 new conversations, .* 1 skipped\./);
    assert.match(
      run.stdout,
      /skipped conversation #2: .*document #2 is nested deeper than 256 levels/,
    );

    const login = await server.call("/auth/login", {
      method: "POST",
      json: { email: "times@example.com", password: PASSWORD },
    });
    assert.equal(login.status, 200);
    const { access_token: token, user } = await login.json();
    assert.equal(user.created_at, "2024-01-02T03:04:05.123Z");
    const list = await (await server.call("/api/conversations", { token })).json();
    const times = list.conversations.find((c: { title: string }) => c.title === "Times");
    // No creation time it could read: the update time stands in.
    assert.equal(times.created_at, "2024-01-03T00:00:00.000Z");
    const full = await (await server.call(`/api/conversations/${times.id}`, { token })).json();
    assert.deepEqual(
      full.messages.map((m: { role: string; created_at: string }) => [m.role, m.created_at]),
      [
        ["system", "2024-01-03T00:00:00.000Z"],
        ["user", "2024-01-02T03:04:05.123Z"],
        ["assistant", "2024-01-01T21:34:05.123Z"],
      ],
    );
    assert.equal(full.messages[0].metadata.original_role, "__proto__");
    const after = list.conversations.find((c: { title: string }) => c.title === "After");
    assert.equal(after.created_at, new Date(1.7e12 + 1).toISOString());
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task migrate: accounts whose ids are UUIDs kept as BSON binary or $uuid find their conversations, whatever the case", async () => {
  const server = await startServer();
  const dir = await Deno.makeTempDir();
  try {
    const id = "6f1c7a52-3a0e-4c55-9a43-0c1f3f0e8a11";
    const base64 = btoa(
      String.fromCharCode(...id.replaceAll("-", "").match(/../g)!.map((h) => parseInt(h, 16))),
    );
    await Deno.writeTextFile(
      `${dir}/users.json`,
      lines(JSON.stringify({
        _id: { $binary: { base64, subType: "04" } },
        email: "binary@example.com",
        hashed_password: HASH,
      })),
    );
    await Deno.writeTextFile(
      `${dir}/conversations.json`,
      lines(
        JSON.stringify({
          _id: "c1",
          user_id: { $uuid: id },
          messages: [{ role: "user", content: "by $uuid" }],
        }),
        JSON.stringify({
          _id: "c2",
          user_id: id.toUpperCase(),
          messages: [{ role: "user", content: "by text" }],
        }),
        JSON.stringify({
          _id: "c3",
          user_id: { $binary: base64, $type: "03" },
          messages: [{ role: "user", content: "by legacy binary" }],
        }),
      ),
    );
    const run = await migrate(server, [
      "--users",
      `${dir}/users.json`,
      "--conversations",
      `${dir}/conversations.json`,
    ]);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.match(run.stdout, /Accounts: 1 created/);
    assert.match(run.stdout, /3 new conversations, .* 0 skipped\./);
    const login = await server.call("/auth/login", {
      method: "POST",
      json: { email: "binary@example.com", password: PASSWORD },
    });
    const body = await login.json();
    assert.equal(body.user.id, id, "the account keeps its UUID");
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task migrate --user: an address that is not an email is told plainly, not as a schema dump", async () => {
  const server = await startServer();
  try {
    const run = await migrate(server, ["--user", "not an email", "nowhere.json"]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^No account with the email not an email\./);
  } finally {
    await server.close();
  }
});
