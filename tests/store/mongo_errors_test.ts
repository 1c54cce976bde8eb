import assert from "node:assert/strict";
import { Conflict, TooLarge, Unavailable } from "../../core/errors.ts";
import { checkDocumentSizes, messageDocs, planAppend } from "../../db/mongo/append.ts";
import { bestOf } from "../../db/mongo/search.ts";
import { driverError, isTooLarge } from "../../db/mongo/server_errors.ts";

Deno.test("mongo errors: an unreachable or throttled database is a 503 that names nothing of the driver", () => {
  for (
    const error of [
      { name: "MongoServerSelectionError", message: "connect ECONNREFUSED 10.0.0.5:27017" },
      { name: "MongoNetworkError", message: "connection 4 to db.internal:27017 closed" },
      { name: "MongoServerError", code: 189, errorLabels: ["RetryableWriteError"] },
      { code: 16500, message: "Error=16500, RetryAfterMs=2500, Details='…'" },
      // What the driver throws when the connection drops during insertMany.
      {
        name: "MongoBulkWriteError",
        errorLabelSet: new Set(["ResetPool"]),
        errorResponse: { name: "MongoNetworkError", message: "connection 1 to 10.0.0.5 closed" },
        writeErrors: [],
      },
    ]
  ) {
    const mapped = driverError(error);
    assert.ok(mapped instanceof Unavailable, JSON.stringify(error));
    assert.doesNotMatch(mapped.message, /Mongo|10\.0\.0\.5|db\.internal|16500/);
  }
  assert.equal(
    (driverError({ code: 16500, message: "RetryAfterMs=2500" }) as Unavailable)
      .retryAfterSeconds,
    3,
  );
});

Deno.test("mongo errors: a document over the server's limit is a 413; duplicates and our own errors pass unchanged", () => {
  for (
    const error of [
      { code: 10334, message: "BSONObjectTooLarge" },
      { name: "BSONError", message: "Document is larger than the maximum size 16777216" },
      {
        code: 16,
        message:
          "Error=16, Details='Response status code does not indicate success: RequestEntityTooLarge (413)'",
      },
      {
        name: "MongoBulkWriteError",
        writeErrors: [{ code: 10334, errmsg: "object to insert too large" }],
      },
    ]
  ) {
    assert.ok(isTooLarge(error), JSON.stringify(error));
    assert.ok(driverError(error) instanceof TooLarge);
  }
  assert.equal(isTooLarge({ code: 2, message: "bad value" }), false);
  const duplicate = { code: 11000, message: "E11000 duplicate key" };
  assert.equal(driverError(duplicate), duplicate);
  const conflict = new Conflict("x");
  assert.equal(driverError(conflict), conflict);
});

Deno.test("mongo errors: a message Cosmos DB RU could not store is refused before anything is written", () => {
  const big = "数".repeat(800_000); // 2.4 MB in UTF-8
  const plan = planAppend("c", [{ role: "user", content: big }], new Map(), 0, 0);
  const docs = messageDocs("u", plan.inserts, "a", "i");
  assert.throws(() => checkDocumentSizes(docs, 2 * 1024 * 1024), TooLarge);
  checkDocumentSizes(docs, 16 * 1024 * 1024);
});

Deno.test("mongo search: a conversation's best hit is its best committed message, unless its title is better", () => {
  const hit = (score: number, seq: number) => ({ score, messageId: `m${seq}`, seq });
  assert.deepEqual(bestOf([hit(1, 0), hit(3, 2), hit(3, 1)], 0, 10), hit(3, 1), "ties: earliest");
  assert.deepEqual(bestOf([hit(1, 0), hit(3, 5)], 0, 5), hit(1, 0), "seq 5 is not committed");
  assert.equal(bestOf([hit(3, 5)], 0, 5), null, "nothing committed matched");
  assert.deepEqual(bestOf([hit(1, 0)], 2, 5), { score: 2, messageId: null, seq: -1 });
  assert.deepEqual(bestOf([hit(2, 0)], 2, 5), hit(2, 0), "a tie keeps the message");
});
