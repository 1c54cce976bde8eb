/**
 * What the service tells its metrics. They are kept (core/prometheus_metrics.ts) only when
 * `PENSIEVE_METRICS_TOKEN` lets a scraper read them; otherwise nothing is counted and prom-client
 * (with its dependencies, one of the slowest imports at start-up) is never loaded.
 */

/** How an MCP tool call ended: a result, an `isError` result, or a thrown protocol error. */
export type ToolOutcome = "ok" | "error" | "exception";

/** What the metrics read from the running app when they are scraped. */
export interface MetricsSources {
  /** The store's kind: "sqlite" or "mongodb". */
  storeKind: string;
  /** Pensieve's version, as the MCP server announces it. */
  version: string;
  /** Milliseconds since the epoch when this app was built. */
  startedAt: number;
  /** Legacy SSE streams open on this instance now. */
  openSseStreams: () => number;
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** A method as a label: the known ones, else "other", so a client cannot grow the series. */
export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : "other";
}

/** The events the service counts. */
export interface Metrics {
  /** A request is being handled. Pair with `requestEnded`. */
  requestStarted(): void;
  /** A request was refused by the admission limit, before it was logged or counted. */
  requestRefused(): void;
  /** A request was answered: `route` is the matched pattern, never the raw path. */
  requestEnded(route: string, method: string, status: number, seconds: number): void;
  mcpSessionStarted(transport: string): void;
  toolCalled(tool: string, outcome: ToolOutcome): void;
  importStarted(): void;
  importEnded(status: "done" | "failed"): void;
}

/** Metrics nobody can read, so none are kept. */
export const UNREAD_METRICS: Metrics = {
  requestStarted() {},
  requestRefused() {},
  requestEnded() {},
  mcpSessionStarted() {},
  toolCalled() {},
  importStarted() {},
  importEnded() {},
};
