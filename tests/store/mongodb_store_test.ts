import { MongoClient } from "mongodb";
import { clientOptions, parseMongoUrl } from "../../db/mongo/connection.ts";
import { MongoStore } from "../../db/mongo/store.ts";
import type { SearchMode } from "../../db/mongo/search.ts";
import { runStoreContract } from "./store_contract.ts";

const url = Deno.env.get("PENSIEVE_TEST_MONGODB_URL");

if (!url) {
  Deno.test({
    name: "mongodb: store contract skipped: PENSIEVE_TEST_MONGODB_URL is not set (no MongoDB here)",
    ignore: true,
    fn() {},
  });
} else {
  // The contract's clock stands at 2026-01-01, in the past: with the usual hour of grace the
  // server's TTL monitor could delete records the contract still reads. Here it waits 50 years.
  const expiryGraceSeconds = 50 * 365 * 86_400;
  const search = (Deno.env.get("PENSIEVE_TEST_MONGODB_SEARCH") ?? "text") as SearchMode;
  runStoreContract("mongodb", async () => {
    const database = `pensieve_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
    const store = new MongoStore({ url, database, search, expiryGraceSeconds });
    await store.ping().catch(async (error) => {
      await store.close();
      throw error;
    });
    return {
      store,
      async cleanup() {
        await store.close();
        const admin = new MongoClient(url, clientOptions(parseMongoUrl(url)));
        try {
          await admin.db(database).dropDatabase();
        } finally {
          await admin.close();
        }
      },
    };
  });
}
