import assert from "node:assert/strict";
import { clientOptions, parseMongoUrl, redactMongoUrl } from "../../db/mongo/connection.ts";

const RU = "mongodb://acct:a%2Bkey%3D%3D@acct.mongo.cosmos.azure.com:10255/?ssl=true" +
  "&replicaSet=globaldb&retrywrites=false&maxIdleTimeMS=120000&appName=@acct@";
const VCORE = "mongodb+srv://app:p%40ss@c1.mongocluster.cosmos.azure.com/" +
  "?tls=true&authMechanism=SCRAM-SHA-256&retrywrites=false&maxIdleTimeMS=120000";

Deno.test("mongo connection: Cosmos DB RU and vCore are told apart by host, anything else is MongoDB", () => {
  assert.equal(parseMongoUrl(RU).flavor, "cosmos-ru");
  assert.equal(parseMongoUrl(VCORE).flavor, "cosmos-vcore");
  assert.equal(
    parseMongoUrl("mongodb+srv://u:p@c2.global.mongocluster.cosmos.azure.com/").flavor,
    "cosmos-vcore",
  );
  assert.equal(parseMongoUrl("mongodb+srv://u:p@cluster0.abcde.mongodb.net/x").flavor, "mongodb");
  assert.equal(parseMongoUrl("mongodb://localhost:27017").flavor, "mongodb");
  assert.equal(
    parseMongoUrl("mongodb://a.example.com:27017,b.example.com:27018/?replicaSet=rs").flavor,
    "mongodb",
  );
  // A host that only contains the Cosmos name is not Cosmos.
  assert.equal(parseMongoUrl("mongodb://mongo.cosmos.azure.com.evil.example/").flavor, "mongodb");
});

Deno.test("mongo connection: hosts, database and options are read without being confused by credentials or appName=@acct@", () => {
  const ru = parseMongoUrl(RU);
  assert.deepEqual(ru.hosts, ["acct.mongo.cosmos.azure.com"]);
  assert.equal(ru.database, null);
  assert.equal(ru.options.get("retrywrites"), "false");
  assert.equal(ru.options.get("appname"), "@acct@");
  const seeds = parseMongoUrl("mongodb://u:p@[::1]:27017,Db2.Example.com/notes?w=1");
  assert.deepEqual(seeds.hosts, ["[::1]", "db2.example.com"]);
  assert.equal(seeds.database, "notes");
  assert.equal(parseMongoUrl(VCORE).database, null);
  assert.throws(() => parseMongoUrl("postgres://x"));
  assert.throws(() => parseMongoUrl("mongodb:///db"));
});

Deno.test("mongo connection: every write is majority and journaled; Cosmos gets retryWrites=false unless its URL says otherwise", () => {
  for (const url of [RU, VCORE, "mongodb://localhost/?w=1"]) {
    assert.deepEqual(clientOptions(parseMongoUrl(url)).writeConcern, {
      w: "majority",
      journal: true,
    });
  }
  const bare = clientOptions(
    parseMongoUrl("mongodb://acct.mongo.cosmos.azure.com:10255/?ssl=true"),
  );
  assert.equal(bare.retryWrites, false);
  assert.equal(bare.maxIdleTimeMS, 120_000);
  const vcore = clientOptions(parseMongoUrl("mongodb+srv://u:p@c1.mongocluster.cosmos.azure.com/"));
  assert.equal(vcore.retryWrites, false);
  // The connection string's own setting stands (the driver reads it from the URL).
  const enabled = clientOptions(
    parseMongoUrl("mongodb://acct.mongo.cosmos.azure.com:10255/?retryWrites=true"),
  );
  assert.equal(enabled.retryWrites, undefined);
  // Plain MongoDB keeps the driver's default: retryable writes on.
  const mongo = clientOptions(parseMongoUrl("mongodb://localhost:27017"));
  assert.equal(mongo.retryWrites, undefined);
  assert.equal(mongo.maxIdleTimeMS, undefined);
  assert.equal(mongo.appName, "pensieve");
  assert.equal(clientOptions(parseMongoUrl(RU)).appName, undefined, "the URL's appName stands");
});

Deno.test("mongo connection: a redacted URL keeps hosts and option names, never the password or option values", () => {
  assert.equal(
    redactMongoUrl("mongodb://app:s3cret@db.example.com:27017/pensieve"),
    "mongodb://app:***@db.example.com:27017/pensieve",
  );
  const ru = redactMongoUrl(RU);
  assert.ok(!ru.includes("key"), ru);
  assert.ok(ru.includes("acct.mongo.cosmos.azure.com:10255"), ru);
  assert.ok(ru.includes("retrywrites="), ru);
  assert.ok(!ru.includes("false"), ru);
  assert.equal(redactMongoUrl("mongodb://localhost"), "mongodb://localhost");
  assert.equal(redactMongoUrl("not a url"), "(not a MongoDB URL)");
});
