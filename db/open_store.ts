import type { DatabaseConfig } from "../config.ts";
import { MongoStore } from "./mongo/store.ts";
import { SqliteStore } from "./sqlite/store.ts";
import type { Store } from "./store.ts";

/** Opens the store the configuration names. */
export function openStore(db: DatabaseConfig): Store {
  if (db.kind === "sqlite") return new SqliteStore({ path: db.path, synchronous: db.synchronous });
  return new MongoStore({ url: db.url, search: db.search });
}
