import assert from "node:assert/strict";
import { Unavailable } from "../../core/errors.ts";
import {
  backoffDelayMs,
  DEFAULT_RETRY_POLICY,
  retryDecision,
  throttling,
  withRetry,
} from "../../db/mongo/retry.ts";
import { isDuplicateKey, isTransient } from "../../db/mongo/server_errors.ts";

/** The shape of Cosmos DB's answer when a request is over the provisioned throughput. */
function cosmos429(retryAfterMs = 12): Error & { code: number; codeName: string } {
  return Object.assign(
    new Error(
      `Error=16500, RetryAfterMs=${retryAfterMs}, Details='Response status code does not indicate ` +
        'success: TooManyRequests (429); Substatus: 3200; Reason: (Message: {"Errors":' +
        '["Request rate is large. More Request Units may be needed, so no changes were made."]})',
    ),
    { code: 16500, codeName: "TooManyRequests" },
  );
}

Deno.test("mongo retry: Cosmos throttling is recognised with its RetryAfterMs, also inside a bulk write", () => {
  assert.deepEqual(throttling(cosmos429(40)), { retryAfterMs: 40 });
  assert.deepEqual(throttling({ code: 16500, message: "throttled" }), { retryAfterMs: null });
  assert.deepEqual(throttling({ message: "Request rate is large" }), { retryAfterMs: null });
  const bulk = {
    code: 16500,
    message: "bulk write failed",
    writeErrors: [{ code: 16500, errmsg: "Error=16500, RetryAfterMs=7, Details='…'" }],
  };
  assert.deepEqual(throttling(bulk), { retryAfterMs: 7 });
  assert.deepEqual(
    throttling({
      message: "write failed",
      writeErrors: [{ err: { code: 16500, errmsg: "RetryAfterMs=9" } }],
    }),
    { retryAfterMs: 9 },
  );
  for (const other of [new Error("E11000 duplicate key"), { code: 11000 }, null, "text", 42]) {
    assert.equal(throttling(other), null);
  }
});

Deno.test("mongo retry: back-off grows, keeps to the cap, and never undercuts the server's advice", () => {
  const policy = DEFAULT_RETRY_POLICY;
  const top = () => 1;
  const delays = Array.from({ length: 10 }, (_, n) => backoffDelayMs(n, null, policy, top));
  for (let n = 1; n < delays.length; n++) assert.ok(delays[n] >= delays[n - 1]);
  assert.equal(Math.max(...delays), policy.maxDelayMs);
  assert.ok(
    backoffDelayMs(0, null, policy, () => 0) >= policy.baseDelayMs / 2,
    "jitter keeps half",
  );
  assert.equal(backoffDelayMs(0, 500, policy, top), 500);
  assert.equal(
    backoffDelayMs(9, 5000, policy, top),
    5000,
    "the server may ask for more than the cap",
  );
});

Deno.test("mongo retry: only throttling is retried, within the attempt and time budget", () => {
  const policy = { maxAttempts: 3, maxTotalMs: 1000, baseDelayMs: 10, maxDelayMs: 100 };
  assert.deepEqual(retryDecision(cosmos429(5), 0, 0, policy, () => 1), {
    retry: true,
    delayMs: 10,
  });
  assert.equal(retryDecision(cosmos429(5), 2, 0, policy).retry, false, "out of attempts");
  assert.equal(retryDecision(cosmos429(900), 0, 200, policy).retry, false, "out of time");
  assert.equal(retryDecision({ code: 11000 }, 0, 0, policy).retry, false);
  assert.equal(
    retryDecision({ name: "MongoNetworkError", message: "reset" }, 0, 0, policy).retry,
    false,
    "an in-flight write may have happened: not the generic loop's call",
  );
});

Deno.test("mongo retry: withRetry waits as advised, then succeeds; a budget run out is a 503, other errors pass through", async () => {
  const slept: number[] = [];
  let clock = 0;
  const environment = {
    now: () => clock,
    sleep: (ms: number) => {
      slept.push(ms);
      clock += ms;
      return Promise.resolve();
    },
    random: () => 1,
  };
  let calls = 0;
  const value = await withRetry(() => {
    calls++;
    return calls < 3 ? Promise.reject(cosmos429(30)) : Promise.resolve("ok");
  }, environment);
  assert.equal(value, "ok");
  assert.deepEqual(slept, [30, 50]);

  await assert.rejects(
    withRetry(() => Promise.reject(cosmos429(3000)), {
      ...environment,
      policy: { ...DEFAULT_RETRY_POLICY, maxTotalMs: 5000 },
    }),
    (error: unknown) => error instanceof Unavailable && error.retryAfterSeconds === 3,
  );
  const duplicate = Object.assign(new Error("E11000"), { code: 11000 });
  calls = 0;
  await assert.rejects(
    withRetry(() => {
      calls++;
      return Promise.reject(duplicate);
    }, environment),
    (error: unknown) => error === duplicate,
  );
  assert.equal(calls, 1);
});

Deno.test("mongo server errors: duplicate keys and transient failures are read by shape", () => {
  assert.ok(isDuplicateKey({ code: 11000 }));
  assert.ok(isDuplicateKey({ code: 2, writeErrors: [{ code: 11000, index: 3 }] }));
  assert.ok(isDuplicateKey({ writeErrors: { err: { code: 11000 } } }));
  assert.ok(!isDuplicateKey({ code: 16500 }));
  assert.ok(!isDuplicateKey(undefined));
  assert.ok(isTransient(cosmos429()));
  assert.ok(isTransient({ name: "MongoNetworkTimeoutError" }));
  assert.ok(isTransient({ name: "MongoServerError", errorLabels: ["RetryableWriteError"] }));
  assert.ok(!isTransient({ name: "MongoServerError", code: 11000 }));
  assert.ok(!isTransient(new TypeError("bug")));
});
