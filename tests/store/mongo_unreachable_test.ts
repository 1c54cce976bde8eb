import assert from "node:assert/strict";
import { MongoClient } from "mongodb";
import { Unavailable } from "../../core/errors.ts";
import { clientOptions, parseMongoUrl } from "../../db/mongo/connection.ts";
import { MongoStore } from "../../db/mongo/store.ts";

/** A loopback port with nothing listening on it. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("mongo store: the driver takes the options given for MongoDB and both Cosmos DB kinds", async () => {
  const urls = [
    "mongodb://127.0.0.1:27017/pensieve",
    "mongodb://acct:a%2Bkey%3D%3D@acct.mongo.cosmos.azure.com:10255/?ssl=true" +
    "&replicaSet=globaldb&retrywrites=false&maxIdleTimeMS=120000&appName=@acct@",
    "mongodb://app:pw@c1.mongocluster.cosmos.azure.com:10260/?tls=true" +
    "&authMechanism=SCRAM-SHA-256&retrywrites=false&maxIdleTimeMS=120000",
  ];
  for (const url of urls) {
    // Constructing a client validates the URL and options; nothing connects until it is used.
    const client = new MongoClient(url, clientOptions(parseMongoUrl(url)));
    assert.equal(client.options.writeConcern?.w, "majority", url);
    assert.equal(client.options.writeConcern?.journal, true, url);
    if (url.includes("cosmos")) assert.equal(client.options.retryWrites, false, url);
    await client.close();
  }
});

Deno.test("mongo store: an unreachable server fails ping and calls within the selection timeout, and close leaves nothing open", async () => {
  const url = `mongodb://127.0.0.1:${closedPort()}/pensieve?serverSelectionTimeoutMS=300`;
  const warnings: string[] = [];
  const store = new MongoStore({ url, warn: (message) => warnings.push(message) });
  try {
    assert.equal(store.kind, "mongodb");
    assert.equal(store.flavor, "mongodb");
    assert.equal(store.searchMode, "text");
    const started = performance.now();
    // A 503 with Retry-After that names nothing of the driver, not a 500.
    const unavailable = (error: unknown) =>
      error instanceof Unavailable && !/127\.0\.0\.1|Mongo/.test(error.message);
    await assert.rejects(store.ping(), unavailable);
    // The next call connects again (the server may be up by now), rather than failing for good.
    await assert.rejects(store.getUser(crypto.randomUUID()), unavailable);
    await assert.rejects(store.ping(), unavailable);
    assert.ok(performance.now() - started < 5000, "bounded by the selection timeout");
    assert.equal(store.searchMode, "text", "an unreachable server turns no search mode off");
    const outages = warnings.filter((w) => w.includes("database unavailable"));
    assert.equal(outages.length, 1, "the outage is logged, once a minute at most");
    assert.doesNotMatch(outages[0], /:[^@/]*@/, "no credentials in the log line");
  } finally {
    await store.close();
  }
});
