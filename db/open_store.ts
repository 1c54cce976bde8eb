import type { DatabaseConfig } from "../config.ts";
import { SqliteStore } from "./sqlite/store.ts";
import type { Store } from "./store.ts";

/**
 * Opens the store the configuration names. The MongoDB driver is loaded only when it is the one
 * named: it is the largest module the server has, and a SQLite server never needs it (a
 * scale-to-zero deployment pays every module it loads on each cold start).
 */
export async function openStore(db: DatabaseConfig): Promise<Store> {
  if (db.kind === "sqlite") return new SqliteStore({ path: db.path, synchronous: db.synchronous });
  const { MongoStore } = await import("./mongo/store.ts");
  return new MongoStore({ url: db.url, search: db.search });
}
