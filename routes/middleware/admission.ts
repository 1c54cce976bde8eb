import type { MiddlewareHandler } from "hono";
import type { AdmissionConfig } from "../../config.ts";
import { Unavailable } from "../../core/errors.ts";
import type { AppEnv } from "../env.ts";
import { errorBody } from "../errors.ts";

/** Probes and scrapes: answered whatever the load, so a busy server is not taken for a dead one. */
const PROBES = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * Uploads streamed into the importer: their handler runs as long as the upload does, bounded by
 * PENSIEVE_MAX_IMPORT_BYTES, not by a clock; counting them would let slow uploads take every slot.
 */
function isStreamedUpload(path: string): boolean {
  return path === "/settings/import" || path === "/api/import" || path.startsWith("/api/import/");
}

/** Seconds a refused client is told to wait. */
const RETRY_AFTER_SECONDS = 1;

/**
 * The bound on work in progress. At most `maxInFlight` requests are served at once and
 * `maxQueued` more wait for a turn, first come first served; beyond that a request is answered
 * 503 with Retry-After at once, so an overloaded server answers quickly what it cannot take
 * instead of slowing down for everyone.
 *
 * A request that has not been answered `requestTimeoutSeconds` after it arrived is answered
 * 504 (what it asked for may or may not have happened: a retried append with the same
 * client_message_id or Idempotency-Key stores nothing twice), or 503 in the rare case that it is
 * still waiting for a slot (nothing was done). A timed-out request gives its slot back when it
 * is answered, though its handler may still be waiting: node:sqlite runs on this thread, so what
 * can still be pending then is a client sending its body slowly, a bounded queue (password
 * hashing, searches) or the MongoDB driver's own pool, and a client that trickles its body must
 * not keep a slot for as long as it likes. The clock stops once the response's headers are
 * ready: a streamed body (an export, an SSE stream) is not timed.
 *
 * Health probes and `/metrics` pass untouched; streamed uploads (imports) pass uncounted and
 * untimed.
 */
export function admission(config: AdmissionConfig): MiddlewareHandler<AppEnv> {
  // setTimeout takes at most 2^31 - 1 ms (24.8 days); a longer setting means "never" anyway.
  const timeoutMs = Math.min(config.requestTimeoutSeconds * 1000, 2 ** 31 - 1);
  let inFlight = 0;
  /** Waiting requests, oldest first; each is admitted by calling it. */
  const queue = new Set<() => void>();

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

    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<"expired">((resolve) => {
      timer = setTimeout(() => resolve("expired"), timeoutMs);
    });
    try {
      if (inFlight < config.maxInFlight) {
        inFlight++;
      } else {
        if (queue.size >= config.maxQueued) {
          throw new Unavailable("The server is busy; try again shortly.", RETRY_AFTER_SECONDS);
        }
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
          throw new Unavailable(
            "The server was too busy to take this request in time; try again shortly.",
            RETRY_AFTER_SECONDS,
          );
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
        c.header("Retry-After", String(RETRY_AFTER_SECONDS));
        return c.json(
          errorBody(
            "timeout",
            `The request took longer than ${config.requestTimeoutSeconds} s. It may still ` +
              "take effect: retry with the same client_message_id or Idempotency-Key.",
          ),
          504,
        );
      }
    } finally {
      clearTimeout(timer);
    }
  };
}
