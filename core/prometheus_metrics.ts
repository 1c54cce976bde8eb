/**
 * This instance's metrics in the Prometheus text format. Counters live in this process's memory:
 * Prometheus scrapes every replica and adds them up, so nothing here needs to be shared.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { methodLabel, type Metrics, type MetricsSources, type ToolOutcome } from "./metrics.ts";

/**
 * Every metric Pensieve exports, in a registry of its own (never prom-client's global one, so
 * two apps in one process, as in tests, count apart).
 *
 * @example
 * ```ts
 * const metrics = new PrometheusMetrics({ storeKind: "sqlite", version, startedAt, openSseStreams });
 * metrics.requestEnded("/api/conversations/:id", "GET", 200, 0.004);
 * const text = await metrics.render();
 * ```
 */
export class PrometheusMetrics implements Metrics {
  /** The Content-Type of `render()`'s text. */
  readonly contentType: string;
  readonly #registry = new Registry();
  readonly #requests: Counter<"route" | "method" | "status_class">;
  readonly #duration: Histogram<"route" | "method">;
  readonly #inFlight: Gauge;
  readonly #mcpSessions: Counter<"transport">;
  readonly #toolCalls: Counter<"tool" | "outcome">;
  readonly #importsStarted: Counter;
  readonly #importsEnded: Counter<"status">;
  readonly #importsRunning: Gauge;
  readonly #refused: Counter;

  constructor(sources: MetricsSources) {
    const registers = [this.#registry];
    this.contentType = this.#registry.contentType;
    this.#requests = new Counter({
      name: "pensieve_http_requests_total",
      help: "HTTP requests answered, by route pattern, method and status class (2xx, 4xx …).",
      labelNames: ["route", "method", "status_class"],
      registers,
    });
    this.#duration = new Histogram({
      name: "pensieve_http_request_duration_seconds",
      help: "Time from a request's arrival to its response headers, by route pattern.",
      labelNames: ["route", "method"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#refused = new Counter({
      name: "pensieve_overload_refusals_total",
      help: "Requests answered 503 by the admission limit before being served (not in the " +
        "request counts above).",
      registers,
    });
    this.#inFlight = new Gauge({
      name: "pensieve_http_requests_in_flight",
      help: "Requests being handled now (until their response headers are sent).",
      registers,
    });
    this.#mcpSessions = new Counter({
      name: "pensieve_mcp_sessions_started_total",
      help: "MCP sessions started on this instance, by transport (streamable, sse).",
      labelNames: ["transport"],
      registers,
    });
    this.#toolCalls = new Counter({
      name: "pensieve_mcp_tool_calls_total",
      help: "MCP tool calls, by tool and outcome (ok, error: an isError result, exception).",
      labelNames: ["tool", "outcome"],
      registers,
    });
    new Gauge({
      name: "pensieve_mcp_sse_streams_open",
      help: "Legacy SSE streams open on this instance.",
      registers,
      collect() {
        this.set(sources.openSseStreams());
      },
    });
    this.#importsStarted = new Counter({
      name: "pensieve_import_jobs_started_total",
      help: "Import jobs that started running on this instance.",
      registers,
    });
    this.#importsEnded = new Counter({
      name: "pensieve_import_jobs_finished_total",
      help: "Import jobs that finished on this instance, by status (done, failed).",
      labelNames: ["status"],
      registers,
    });
    this.#importsRunning = new Gauge({
      name: "pensieve_import_jobs_running",
      help: "Import jobs running on this instance now.",
      registers,
    });
    new Gauge({
      name: "pensieve_store_info",
      help: "The kind of store this instance uses (always 1).",
      labelNames: ["kind"],
      registers,
    }).set({ kind: sources.storeKind }, 1);
    new Gauge({
      name: "pensieve_build_info",
      help: "Pensieve's version and the Deno it runs on (always 1).",
      labelNames: ["version", "deno", "v8"],
      registers,
    }).set({ version: sources.version, deno: Deno.version.deno, v8: Deno.version.v8 }, 1);
    new Gauge({
      name: "process_start_time_seconds",
      help: "When this instance started, in seconds since the Unix epoch.",
      registers,
    }).set(sources.startedAt / 1000);
    const memory = (name: string, help: string, read: (m: Deno.MemoryUsage) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read(Deno.memoryUsage()));
        },
      });
    memory("process_resident_memory_bytes", "Resident memory size in bytes.", (m) => m.rss);
    memory("pensieve_heap_used_bytes", "V8 heap in use, in bytes.", (m) => m.heapUsed);
    memory("pensieve_heap_total_bytes", "V8 heap reserved, in bytes.", (m) => m.heapTotal);
    memory("pensieve_external_memory_bytes", "Memory held outside the V8 heap.", (m) => m.external);
  }

  /** A request is being handled. Pair with `requestEnded`. */
  requestStarted(): void {
    this.#inFlight.inc();
  }

  /** A request was refused by the admission limit, before it was logged or counted. */
  requestRefused(): void {
    this.#refused.inc();
  }

  /** A request was answered: `route` is the matched pattern, never the raw path. */
  requestEnded(route: string, method: string, status: number, seconds: number): void {
    this.#inFlight.dec();
    const m = methodLabel(method);
    this.#requests.inc({ route, method: m, status_class: `${Math.floor(status / 100)}xx` });
    this.#duration.observe({ route, method: m }, seconds);
  }

  mcpSessionStarted(transport: string): void {
    this.#mcpSessions.inc({ transport });
  }

  toolCalled(tool: string, outcome: ToolOutcome): void {
    this.#toolCalls.inc({ tool, outcome });
  }

  importStarted(): void {
    this.#importsStarted.inc();
    this.#importsRunning.inc();
  }

  importEnded(status: "done" | "failed"): void {
    this.#importsRunning.dec();
    this.#importsEnded.inc({ status });
  }

  /** Everything, in the Prometheus text exposition format. */
  render(): Promise<string> {
    return this.#registry.metrics();
  }
}
