import type { MiddlewareHandler } from "hono";
import type { AdmissionConfig } from "../../config.ts";
import type { Logger } from "../../core/logger.ts";
import { methodLabel, type Metrics } from "../../core/metrics.ts";
import type { AppEnv } from "../env.ts";
import { errorBody } from "../errors.ts";
import { LoopDelay } from "./loop_delay.ts";
import { routePattern } from "./request_log.ts";

/** Probes and scrapes: answered whatever the load, so a busy server is not taken for a dead one. */
const PROBES = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * Uploads streamed into the importer: their handler runs as long as the upload does, bounded by
 * PENSIEVE_MAX_IMPORT_BYTES and an idle limit, not by a clock; counting them would let slow
 * uploads take every slot.
 */
function isStreamedUpload(path: string): boolean {
  return path === "/settings/import" || path === "/api/import" || path.startsWith("/api/import/");
}

/** Seconds a refused client is told to wait. */
const RETRY_AFTER_SECONDS = 1;

/** How often, at most, refusals are summed up in the log. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

const BUSY = JSON.stringify(errorBody("unavailable", "The server is busy; try again shortly."));

/**
 * A refusal made as cheaply as a response can be: under overload every microsecond spent saying
 * no is taken from the requests being served.
 */
function busy(): Response {
  return new Response(BUSY, {
    status: 503,
    headers: {
      "Content-Type": "application/json",
      "Retry-After": String(RETRY_AFTER_SECONDS),
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    },
  });
}

/**
 * The bound on work in progress, and the first middleware: what it refuses costs almost nothing
 * (no request log line, no request metrics; refusals are counted, and summed up in one log line
 * every ten seconds at most).
 *
 * - At most `maxInFlight` requests are served at once and `maxQueued` more wait for a turn,
 *   first come first served; beyond that a request is answered 503 with Retry-After at once.
 *   This bounds work that waits (MongoDB, password hashing, a slow client's body).
 * - A request on SQLite runs to its end without yielding, so however many wait, JavaScript
 *   holds one or two at a time, and the requests Deno.serve has parsed queue where nothing can
 *   count them. That queue shows only as an event loop that stays behind: while it stays more
 *   than `maxEventLoopDelayMs` behind (./loop_delay.ts), new requests are refused at once too.
 * - A request not answered `requestTimeoutSeconds` after it arrived is answered 504 (what it
 *   asked for may or may not have happened: a retried append with the same client_message_id or
 *   Idempotency-Key stores nothing twice), or 503 if it is still waiting for a slot. Its slot is
 *   given back then, though its handler may still be waiting: on this thread what can still be
 *   pending is a client sending its body slowly, a bounded queue (hashing, searches) or the
 *   MongoDB driver's own pool, and a client that trickles its body must not keep a slot. The
 *   clock stops once the response's headers are ready: a streamed body (an export, an SSE
 *   stream) is not timed.
 *
 * Health probes and `/metrics` pass untouched; streamed uploads (imports) pass uncounted and
 * untimed.
 */
export function admission(deps: {
  config: AdmissionConfig;
  logger: Logger;
  metrics: Metrics;
  loopDelay?: LoopDelay;
}): MiddlewareHandler<AppEnv> {
  const { config, logger, metrics } = deps;
  const loopDelay = deps.loopDelay ?? new LoopDelay();
  // setTimeout takes at most 2^31 - 1 ms (24.8 days); a longer setting means "never" anyway.
  const timeoutMs = Math.min(config.requestTimeoutSeconds * 1000, 2 ** 31 - 1);
  let inFlight = 0;
  /** Waiting requests, oldest first; each is admitted by calling it. */
  const queue = new Set<() => void>();
  let refusedSinceLog = 0;
  let lastLog = -Infinity;

  const refuse = (why: "busy" | "queue full" | "waited too long"): Response => {
    metrics.requestRefused();
    refusedSinceLog++;
    const now = performance.now();
    if (now - lastLog >= REFUSAL_LOG_INTERVAL_MS) {
      logger.warn("overload: requests refused", {
        refused: refusedSinceLog,
        last_reason: why,
        in_flight: inFlight,
        queued: queue.size,
      });
      refusedSinceLog = 0;
      lastLog = now;
    }
    return busy();
  };

  const release = () => {
    const [next] = queue;
    if (next) {
      queue.delete(next);
      next(); // the slot passes straight to the next in line
    } else inFlight--;
  };

  return async (c, next) => {
    const path = c.req.path;
    if (PROBES.has(path) || isStreamedUpload(path)) return next();
    if (config.maxEventLoopDelayMs > 0 && loopDelay.isBehind(config.maxEventLoopDelayMs)) {
      return refuse("busy");
    }

    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<"expired">((resolve) => {
      timer = setTimeout(() => resolve("expired"), timeoutMs);
    });
    try {
      if (inFlight < config.maxInFlight) {
        inFlight++;
      } else {
        if (queue.size >= config.maxQueued) return refuse("queue full");
        let admit!: () => void;
        let isAdmitted = false;
        const admitted = new Promise<"admitted">((resolve) => {
          admit = () => {
            isAdmitted = true;
            resolve("admitted");
          };
        });
        queue.add(admit);
        if (await Promise.race([admitted, expired]) === "expired") {
          // A slot handed over after the clock ran out, but before this ran, is passed on.
          if (isAdmitted) release();
          else queue.delete(admit);
          return refuse("waited too long");
        }
      }
      // Admitted: this request holds a slot until its handler ends or it is answered for lateness.
      let holding = true;
      const giveBack = () => {
        if (holding) release();
        holding = false;
      };
      const served = next().finally(giveBack);
      if (await Promise.race([served, expired]) === "expired") {
        giveBack();
        served.catch(() => {}); // it finishes unobserved; its errors were handled by onError
        // The request log line, written when the handler ends (if it does), has its real outcome.
        const log = c.get("log") as Logger | undefined;
        log?.warn("request timed out: answered 504", {
          method: methodLabel(c.req.method),
          route: routePattern(c),
          timeout_s: config.requestTimeoutSeconds,
        });
        const requestId = c.get("requestId") as string | undefined;
        return c.json(
          errorBody(
            "timeout",
            `The request took longer than ${config.requestTimeoutSeconds} s. It may still ` +
              "take effect: retry with the same client_message_id or Idempotency-Key.",
          ),
          504,
          {
            "Retry-After": String(RETRY_AFTER_SECONDS),
            "Cache-Control": "no-store",
            ...(requestId && { "X-Request-Id": requestId }),
          },
        );
      }
    } finally {
      clearTimeout(timer);
    }
  };
}
