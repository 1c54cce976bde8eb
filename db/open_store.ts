import type { DatabaseConfig } from "../config.ts";
import { SqliteStore } from "./sqlite/store.ts";
import type { Store } from "./store.ts";

/** Opens the store the configuration names. */
export function openStore(db: DatabaseConfig): Store {
  if (db.kind === "sqlite") return new SqliteStore({ path: db.path, synchronous: db.synchronous });
  throw new Error(
    "PENSIEVE_DB names MongoDB, but this build has only the SQLite store; the MongoDB adapter is not written yet.",
  );
}
