/**
 * Structured logs: one line per event, as JSON (for log collectors) or as text (for a terminal).
 * What a line carries is chosen by its caller; nothing here copies headers, bodies or queries.
 */
import type { Clock } from "./clock.ts";

/** How much is logged: each level includes those after it. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** `json`: one JSON object a line; `text`: `time LEVEL message key=value…`. */
export type LogFormat = "json" | "text";

/** The values a log line may carry. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Where finished lines go: stdout in production, a test's array in tests. */
export type LogSink = (line: string, level: LogLevel) => void;

/** The levels, least to most severe. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

const encoder = new TextEncoder();

/**
 * Writes each line to stdout, whole, in one write.
 *
 * @example
 * ```ts
 * const logger = new Logger({ format: "json", level: "info", sink: stdoutSink, clock });
 * ```
 */
export const stdoutSink: LogSink = (line) => {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
};

/**
 * A logger bound to some fields (a request id, say); `child` adds more.
 *
 * @example
 * ```ts
 * const logger = new Logger({ format: "json", level: "info", sink: stdoutSink, clock });
 * logger.child({ request_id: "abc" }).info("request", { status: 200 });
 * // {"time":"…","level":"info","msg":"request","request_id":"abc","status":200}
 * ```
 */
export class Logger {
  readonly #minimum: number;

  constructor(
    private readonly options: {
      format: LogFormat;
      level: LogLevel;
      sink: LogSink;
      clock: Clock;
    },
    private readonly bound: LogFields = {},
  ) {
    this.#minimum = LOG_LEVELS.indexOf(options.level);
  }

  /** A logger whose every line also carries `fields`. */
  child(fields: LogFields): Logger {
    return new Logger(this.options, { ...this.bound, ...fields });
  }

  /** Whether a line at `level` would be written. */
  isEnabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= this.#minimum;
  }

  debug(msg: string, fields?: LogFields): void {
    this.log("debug", msg, fields);
  }

  info(msg: string, fields?: LogFields): void {
    this.log("info", msg, fields);
  }

  warn(msg: string, fields?: LogFields): void {
    this.log("warn", msg, fields);
  }

  error(msg: string, fields?: LogFields): void {
    this.log("error", msg, fields);
  }

  log(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (!this.isEnabled(level)) return;
    const time = new Date(this.options.clock.now()).toISOString();
    const all: LogFields = { ...this.bound, ...fields };
    let line: string;
    if (this.options.format === "json") {
      line = JSON.stringify({ time, level, msg, ...all });
    } else {
      const pairs = Object.entries(all).filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${textValue(v)}`);
      line = [time, level.toUpperCase().padEnd(5), msg, ...pairs].join(" ");
    }
    this.options.sink(line, level);
  }
}

function textValue(value: LogFields[string]): string {
  const s = String(value);
  // A stack trace stays readable on its own lines; anything else with spaces is quoted.
  if (s.includes("\n")) return "\n" + s;
  return /[\s"=]/.test(s) || s === "" ? JSON.stringify(s) : s;
}

/**
 * What a log may say about an unexpected error: its name, message and stack, for the server's
 * operators only (it is never sent to a client).
 */
export function errorFields(error: unknown): LogFields {
  if (error instanceof Error) {
    return { error: error.name, error_message: error.message, stack: error.stack };
  }
  return { error: typeof error, error_message: String(error) };
}
