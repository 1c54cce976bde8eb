import assert from "node:assert/strict";
import { expiredQuery, expiryFields, expiryStyle, restatedExpiry } from "../../db/mongo/expiry.ts";
import { NEWEST_FIRST } from "../../db/mongo/filters.ts";
import {
  atlasIndexSpecs,
  COLLECTIONS,
  EXPIRING,
  type IndexSpec,
  indexSpecs,
  textIndexSpecs,
} from "../../db/mongo/indexes.ts";

function find(specs: IndexSpec[], collection: string, key: Record<string, unknown>) {
  return specs.find((spec) =>
    spec.collection === collection && JSON.stringify(spec.key) === JSON.stringify(key)
  );
}

Deno.test("mongo indexes: the uniqueness the store relies on, on every kind of server", () => {
  for (const style of ["ttl-index", "cosmos-ttl"] as const) {
    const specs = indexSpecs(style, 3600);
    assert.equal(find(specs, "users", { email: 1 })?.options.unique, true);
    assert.equal(find(specs, "personal_tokens", { secret_hash: 1 })?.options.unique, true);
    assert.equal(find(specs, "messages", { conversation_id: 1, seq: 1 })?.options.unique, true);
    assert.equal(
      find(specs, "messages", { conversation_id: 1, client_key: 1 })?.options.unique,
      true,
      "one message per client id (or, without one, per seq) in a conversation",
    );
    assert.ok(
      specs.every((spec) => !("partialFilterExpression" in spec.options)),
      "Cosmos DB RU has no partial indexes",
    );
    assert.ok(specs.every((spec) => !("sparse" in spec.options)), "nor sparse ones");
    assert.ok(specs.every((spec) => COLLECTIONS.includes(spec.collection)));
    const names = specs.map((spec) => `${spec.collection}.${spec.options.name}`);
    assert.equal(new Set(names).size, names.length, "index names are unique per collection");
  }
});

Deno.test("mongo indexes: every listing order has an index that starts with the user (Cosmos DB will not sort without one)", () => {
  const specs = indexSpecs("cosmos-ttl", 3600);
  assert.ok(find(specs, "conversations", { user_id: 1, updated_at: -1, _id: -1 }));
  assert.ok(find(specs, "conversations", NEWEST_FIRST), "the listing sorts by exactly that key");
  assert.ok(find(specs, "personal_tokens", { user_id: 1, created_at: -1, _id: 1 }));
  assert.ok(find(specs, "oauth_grants", { user_id: 1, created_at: -1, _id: 1 }));
  // Everything an account owns is found by its user id when the account is deleted.
  for (
    const collection of [
      "revoked_access_tokens",
      "mcp_sessions",
      "oauth_codes",
      "oauth_refresh_tokens",
      "import_jobs",
      "messages",
    ]
  ) {
    assert.ok(
      specs.some((spec) =>
        spec.collection === collection && Object.keys(spec.key)[0] === "user_id"
      ),
      collection,
    );
  }
});

Deno.test("mongo indexes: expiring records get a TTL index on MongoDB and vCore, the _ts TTL on Cosmos DB RU", () => {
  assert.equal(expiryStyle("mongodb"), "ttl-index");
  assert.equal(expiryStyle("cosmos-vcore"), "ttl-index");
  assert.equal(expiryStyle("cosmos-ru"), "cosmos-ttl");
  const expiring = Object.keys(EXPIRING);
  assert.deepEqual(expiring.sort(), [
    "mcp_sessions",
    "oauth_codes",
    "oauth_grants",
    "oauth_refresh_tokens",
    "rate_limits",
    "revoked_access_tokens",
  ]);
  const mongo = indexSpecs("ttl-index", 600);
  for (const collection of expiring) {
    assert.equal(find(mongo, collection, { expire_at: 1 })?.options.expireAfterSeconds, 600);
    assert.equal(find(mongo, collection, { _ts: 1 }), undefined);
  }
  const cosmos = indexSpecs("cosmos-ttl", 600);
  for (const collection of expiring) {
    assert.ok(find(cosmos, collection, { _ts: 1 })?.options.expireAfterSeconds! > 0);
    assert.equal(find(cosmos, collection, { expire_at: 1 }), undefined);
    const field = EXPIRING[collection as keyof typeof EXPIRING]!;
    assert.ok(find(cosmos, collection, { [field]: 1 }), `purge reads ${collection}.${field}`);
  }
});

Deno.test("mongo expiry: the fields written for a record, restated on updates, and the purge query", () => {
  const at = Date.UTC(2026, 5, 1);
  assert.deepEqual(expiryFields("ttl-index", 3600, at, 0), { expire_at: new Date(at) });
  // Cosmos DB counts a document's ttl from its last write.
  assert.deepEqual(expiryFields("cosmos-ttl", 3600, at, at - 90_500), { ttl: 91 + 3600 });
  assert.deepEqual(expiryFields("cosmos-ttl", 0, at, at + 5000), { ttl: 1 }, "already expired");
  assert.deepEqual(expiryFields("cosmos-ttl", 10, 1e15, 0), { ttl: 2_147_483_647 }, "an int32");
  assert.deepEqual(restatedExpiry("ttl-index", 3600, at, 0), {});
  assert.deepEqual(restatedExpiry("cosmos-ttl", 0, at, at - 2000), { ttl: 2 });
  assert.deepEqual(expiredQuery("ttl-index", "reset_at", at), {
    expire_at: { $lte: new Date(at) },
  });
  assert.deepEqual(expiredQuery("cosmos-ttl", "reset_at", at), { reset_at: { $lte: at } });
});

Deno.test("mongo indexes: text indexes cover the search tokens with no language rules, with the user first when possible", () => {
  for (const withUser of [true, false]) {
    const specs = textIndexSpecs(withUser);
    assert.deepEqual(specs.map((spec) => spec.collection).sort(), ["conversations", "messages"]);
    for (const spec of specs) {
      assert.equal(spec.options.default_language, "none", "no stemming, no stop words");
      assert.equal(spec.key.search_text, "text");
      assert.equal(spec.key.search_chars, "text");
      assert.equal(Object.keys(spec.key)[0] === "user_id", withUser);
    }
  }
  const atlas = atlasIndexSpecs();
  assert.deepEqual(atlas.map((spec) => spec.name).sort(), ["pensieve_messages", "pensieve_titles"]);
  for (const spec of atlas) {
    const fields = (spec.definition.mappings as { fields: Record<string, { type: string }> })
      .fields;
    assert.equal(fields.user_id.type, "token", "the user filter is exact");
  }
});
