import { MongoStore } from "../../db/mongo/store.ts";
import { runStoreContract } from "./store_contract.ts";
import { memoryEngine, startWireServer } from "./_wire_mongo.ts";

/**
 * The whole store contract on the MongoDB store through the real driver, against a loopback
 * server with an in-memory engine (_wire_mongo.ts): no MongoDB runs here. This checks the store's
 * use of the driver (what it sends, how it reads the answers) on every method; it cannot check
 * a real server's semantics, which the same contract does when PENSIEVE_TEST_MONGODB_URL is set
 * (mongodb_store_test.ts). The engine has no text index, so search runs as the scan.
 */
runStoreContract("mongodb (driver, in-memory wire server)", async () => {
  const server = startWireServer(memoryEngine());
  const store = new MongoStore({ url: server.url, warn: () => {} });
  await store.ping();
  return {
    store,
    async cleanup() {
      await store.close();
      await server.close();
    },
  };
});
