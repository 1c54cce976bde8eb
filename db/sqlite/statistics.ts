import type { DatabaseSync } from "node:sqlite";

/**
 * Refreshes the planner's statistics where a table has grown or shrunk a lot since they were
 * taken (SQLite's advice for long-lived connections; `0x10002` checks every table, with a bounded
 * amount of work), then drops any kept for the full-text index's own tables and reloads them.
 *
 * FTS5 runs its own queries on its shadow tables, and statistics taken while those were tiny
 * ("2 rows") make every later insert scan them: a fresh store analysed at open slowed inserts from
 * about 20,000 to about 1,500 messages a second by 100,000 messages (`deno task bench:import`).
 * Without statistics SQLite plans those queries on their keys, which is what FTS5 expects.
 */
export function refreshStatistics(db: DatabaseSync, options: { all: boolean }): void {
  db.exec("PRAGMA analysis_limit = 1000");
  db.exec(options.all ? "PRAGMA optimize = 0x10002" : "PRAGMA optimize");
  const hasStats = db.prepare(
    "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat1'",
  ).get();
  if (!hasStats) return;
  const dropped = db.prepare(
    "DELETE FROM sqlite_stat1 WHERE tbl LIKE '%\\_fts\\_%' ESCAPE '\\'",
  ).run();
  // Loads the statistics as they now are into this connection's planner.
  if (Number(dropped.changes) > 0) db.exec("ANALYZE sqlite_schema");
}
