import assert from "node:assert/strict";
import { Unavailable } from "../../core/errors.ts";
import { PasswordHasher } from "../../core/passwords.ts";
import { WorkLimiter } from "../../core/work_limiter.ts";

Deno.test("work beyond the running slots and the queue is refused at once", async () => {
  const limiter = new WorkLimiter(2, 1);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let running = 0;
  let peak = 0;
  const job = async () => {
    running++;
    peak = Math.max(peak, running);
    await gate;
    running--;
    return "done";
  };
  const accepted = [limiter.run(job), limiter.run(job), limiter.run(job)];
  await assert.rejects(limiter.run(job), Unavailable);
  release();
  assert.deepEqual(await Promise.all(accepted), ["done", "done", "done"]);
  assert.equal(peak, 2);
  assert.equal(await limiter.run(() => Promise.resolve("again")), "again");
});

Deno.test("a failing job frees its slot", async () => {
  const limiter = new WorkLimiter(1, 0);
  await assert.rejects(limiter.run(() => Promise.reject(new Error("boom"))), /boom/);
  assert.equal(await limiter.run(() => Promise.resolve(1)), 1);
});

Deno.test("a dummy check refused while busy is not remembered", async () => {
  const hasher = new PasswordHasher({ concurrency: 1, queue: 0 });
  const busy = hasher.hash("occupies the only slot");
  await assert.rejects(hasher.verifyDummy("anything"), Unavailable);
  await busy;
  await hasher.verifyDummy("anything");
});
