import { SqliteStore } from "../../db/sqlite/store.ts";
import { runStoreContract } from "./store_contract.ts";

runStoreContract("sqlite", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-store-" });
  const store = new SqliteStore({ path: `${dir}/pensieve.db`, synchronous: "NORMAL" });
  return {
    store,
    async cleanup() {
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
});
