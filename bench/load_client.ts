/**
 * The client side of the load benchmarks, run as its own process so that it does not share an
 * event loop with the server: `deno run --allow-all bench/load_client.ts`, one {@link LoadTarget}
 * as JSON on stdin, one {@link LoadResult} as JSON on the last line of stdout.
 *
 * Three ways to drive a server:
 * - `closed`: autocannon 9 with a fixed number of connections, each sending its next request when
 *   the last one is answered (how much the server can take);
 * - `rate`: autocannon with many connections and a cap on the requests sent per second over all
 *   of them (`overallRate`): as long as connections ÷ latency stays above the cap, the server
 *   gets the cap whatever it answers, as an overloaded server does in production;
 * - `open`: requests sent at a fixed rate, each at its due time whatever happened to earlier
 *   ones, over raw kept-alive sockets (as many as it takes): an overloaded server in production
 *   meets clients that do not slow down because it does.
 *
 * Latencies are kept per status class, so that the latency of admitted requests is not mixed with
 * that of quick refusals.
 */

/** One load run, as the parent asks for it. */
export interface LoadTarget {
  mode: "closed" | "rate" | "open";
  url: string;
  method: "GET" | "POST";
  headers?: Record<string, string>;
  /** `[<id>]` in the body is replaced by a fresh id on every request. */
  body?: string;
  /** A 2xx body must include this (and no `"isError":true`) to count as a success. */
  expect?: string;
  /** Seconds measured. */
  duration: number;
  /** Seconds run first, and not counted (closed mode only). */
  warmup?: number;
  /** Closed mode: concurrent connections. */
  connections?: number;
  /** Rate and open modes: requests sent per second. */
  rate?: number;
  /**
   * Report what 2xx answers acknowledged, to check none is lost: every first capture group of
   * this regular expression in their bodies.
   */
  acknowledge?: string;
}

/** Latency summary in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** What a run measured. */
export interface LoadResult {
  /** Answered requests per second, any status. */
  requestsPerSecond: number;
  /** 2xx answers per second. */
  okPerSecond: number;
  answered: number;
  /** Answers by HTTP status. */
  statuses: Record<string, number>;
  /** 2xx answers whose body was not the expected one. */
  mismatches: number;
  /** Connection errors (refused, reset) and client time-outs, never answered. */
  socketErrors: number;
  timeouts: number;
  /** Latency of 2xx answers, of 429/503/504 answers, and of all answers. */
  ok: LatencySummary;
  refused: LatencySummary;
  all: LatencySummary;
  /** How many 429/503 answers carried a Retry-After header. */
  retryAfter: number;
  acknowledged?: string[];
  /** Rate and open modes: requests sent per second, as achieved. */
  offeredPerSecond?: number;
  /** Open mode: connections opened. */
  connections?: number;
}

/** Collects answers. */
class Recorder {
  readonly statuses: Record<string, number> = {};
  readonly ok: number[] = [];
  readonly refused: number[] = [];
  readonly all: number[] = [];
  readonly acknowledged: string[] = [];
  mismatches = 0;
  socketErrors = 0;
  timeouts = 0;
  retryAfter = 0;
  counting = true;

  answer(status: number, ms: number): void {
    if (!this.counting) return;
    this.statuses[status] = (this.statuses[status] ?? 0) + 1;
    this.all.push(ms);
    if (status >= 200 && status < 300) this.ok.push(ms);
    else if (status === 429 || status === 503 || status === 504) this.refused.push(ms);
  }

  result(seconds: number, target: LoadTarget, offered?: number): LoadResult {
    const summary = (samples: number[]): LatencySummary => {
      const sorted = Float64Array.from(samples).sort();
      const at = (q: number) =>
        sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] : 0;
      return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 };
    };
    return {
      requestsPerSecond: this.all.length / seconds,
      okPerSecond: this.ok.length / seconds,
      answered: this.all.length,
      statuses: this.statuses,
      mismatches: this.mismatches,
      socketErrors: this.socketErrors,
      timeouts: this.timeouts,
      ok: summary(this.ok),
      refused: summary(this.refused),
      all: summary(this.all),
      retryAfter: this.retryAfter,
      ...(target.acknowledge !== undefined && { acknowledged: this.acknowledged }),
      ...(offered !== undefined && { offeredPerSecond: offered / seconds }),
    };
  }
}

function isExpected(body: string, expect: string | undefined): boolean {
  return (expect === undefined || body.includes(expect)) && !body.includes('"isError":true');
}

async function runClosed(target: LoadTarget): Promise<LoadResult> {
  const { default: autocannon } = await import("autocannon");
  const recorder = new Recorder();
  const acknowledge = target.acknowledge === undefined ? null : new RegExp(target.acknowledge, "g");
  const onResponse = (status: number, body: string, _context: unknown, headers: unknown) => {
    if (!recorder.counting) return;
    if (status >= 200 && status < 300) {
      if (!isExpected(body, target.expect)) recorder.mismatches++;
      if (acknowledge) {
        for (const m of body.matchAll(acknowledge)) recorder.acknowledged.push(m[1]);
      }
    } else if (
      (status === 429 || status === 503) &&
      Object.keys(headers as Record<string, string>).some((k) => k.toLowerCase() === "retry-after")
    ) recorder.retryAfter++;
  };
  const options = {
    url: target.url,
    connections: target.connections ?? 10,
    ...(target.mode === "rate" && { overallRate: target.rate }),
    idReplacement: target.body?.includes("[<id>]") ?? false,
    requests: [{
      method: target.method,
      headers: target.headers,
      body: target.body,
      onResponse,
    }],
  };
  if (target.warmup) {
    recorder.counting = false;
    await autocannon({ ...options, duration: target.warmup });
    recorder.counting = true;
  }
  const instance = autocannon({ ...options, duration: target.duration });
  instance.on(
    "response",
    (_client: unknown, status: number, _bytes: number, ms: number) => recorder.answer(status, ms),
  );
  instance.on("reqError", (error: Error) => {
    if (error.message === "request timed out") recorder.timeouts++;
    else recorder.socketErrors++;
  });
  const started = performance.now();
  const done = await instance;
  const seconds = (performance.now() - started) / 1000;
  return recorder.result(seconds, target, target.mode === "rate" ? done.requests.sent : undefined);
}

/** One HTTP/1.1 answer, read off a kept-alive connection. */
interface Answer {
  status: number;
  headers: string;
  body: string;
}

const CRLFCRLF = new TextEncoder().encode("\r\n\r\n");

function indexOf(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** A kept-alive connection that sends one request at a time and reads its answer. */
class Connection {
  #buffer = new Uint8Array(0);
  readonly #chunk = new Uint8Array(64 * 1024);
  closed = false;

  constructor(readonly conn: Deno.Conn) {}

  async #fill(): Promise<void> {
    const n = await this.conn.read(this.#chunk);
    if (n === null) throw new Error("connection closed");
    const joined = new Uint8Array(this.#buffer.length + n);
    joined.set(this.#buffer);
    joined.set(this.#chunk.subarray(0, n), this.#buffer.length);
    this.#buffer = joined;
  }

  async exchange(request: Uint8Array): Promise<Answer> {
    await this.conn.write(request);
    let end: number;
    while ((end = indexOf(this.#buffer, CRLFCRLF)) < 0) await this.#fill();
    const head = new TextDecoder().decode(this.#buffer.subarray(0, end));
    const status = Number(head.slice(9, 12));
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? NaN);
    if (Number.isNaN(length)) throw new Error(`no Content-Length: ${head.split("\r\n")[0]}`);
    while (this.#buffer.length < end + 4 + length) await this.#fill();
    const body = new TextDecoder().decode(this.#buffer.subarray(end + 4, end + 4 + length));
    this.#buffer = this.#buffer.slice(end + 4 + length);
    if (/\r\nconnection:\s*close/i.test(head)) this.close();
    return { status, headers: head, body };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

/**
 * Open loop over raw kept-alive sockets: a request is sent at its due time on an idle connection,
 * or on a new one, whatever the earlier ones are doing; its latency counts from that due time.
 * fetch would cost the client several times what a request costs the server on a small machine.
 */
async function runOpen(target: LoadTarget): Promise<LoadResult> {
  const recorder = new Recorder();
  const acknowledge = target.acknowledge === undefined ? null : new RegExp(target.acknowledge, "g");
  const rate = target.rate ?? 100;
  const url = new URL(target.url);
  const encoder = new TextEncoder();
  const head = `${target.method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n` +
    Object.entries(target.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  const requestFor = (): Uint8Array => {
    if (target.body === undefined) return encoder.encode(`${head}\r\n`);
    const body = encoder.encode(target.body.replaceAll("[<id>]", crypto.randomUUID()));
    const start = encoder.encode(`${head}Content-Length: ${body.length}\r\n\r\n`);
    const out = new Uint8Array(start.length + body.length);
    out.set(start);
    out.set(body, start.length);
    return out;
  };
  const idle: Connection[] = [];
  const all = new Set<Connection>();
  const pending = new Set<Promise<void>>();
  let offered = 0;
  const one = async (due: number) => {
    let connection = idle.pop();
    try {
      if (!connection) {
        connection = new Connection(
          await Deno.connect({ hostname: url.hostname, port: Number(url.port) }),
        );
        all.add(connection);
      }
      const answer = await connection.exchange(requestFor());
      recorder.answer(answer.status, performance.now() - due);
      if (!connection.closed) idle.push(connection);
      if (answer.status >= 200 && answer.status < 300) {
        if (!isExpected(answer.body, target.expect)) recorder.mismatches++;
        if (acknowledge) {
          for (const m of answer.body.matchAll(acknowledge)) recorder.acknowledged.push(m[1]);
        }
      } else if (
        (answer.status === 429 || answer.status === 503) && /\r\nretry-after:/i.test(answer.headers)
      ) recorder.retryAfter++;
    } catch {
      recorder.socketErrors++;
      connection?.close();
    }
  };
  const started = performance.now();
  const end = started + target.duration * 1000;
  // Due times are spread evenly; a tick sends what has come due since the last one.
  while (performance.now() < end) {
    const now = performance.now();
    const due = Math.floor(((now - started) / 1000) * rate);
    while (offered < due) {
      const at = started + (offered * 1000) / rate;
      offered++;
      const p = one(at).finally(() => pending.delete(p));
      pending.add(p);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(pending);
  for (const connection of all) connection.close();
  return { ...recorder.result(seconds, target, offered), connections: all.size };
}

if (import.meta.main) {
  const target: LoadTarget = JSON.parse(await new Response(Deno.stdin.readable).text());
  const result = target.mode === "open" ? await runOpen(target) : await runClosed(target);
  console.log(JSON.stringify(result));
  // autocannon may leave timers behind.
  Deno.exit(0);
}

/** Runs one load in a child process (this file) and returns what it measured. */
export async function runLoad(target: LoadTarget): Promise<LoadResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("./load_client.ts", import.meta.url).pathname],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(target)));
  await writer.close();
  const output = await child.output();
  const text = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) throw new Error(`load client failed (${output.code}): ${text}`);
  return JSON.parse(text.split("\n").at(-1)!);
}
