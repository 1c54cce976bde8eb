/**
 * The overload signal for requests that never yield: the event loop staying behind. Driven by a
 * hand-moved clock and a hand-run timer, so nothing here depends on how fast anything runs.
 */
import assert from "node:assert/strict";
import { LoopDelay } from "../../routes/middleware/loop_delay.ts";

function manual() {
  let now = 0;
  const timers: (() => void)[] = [];
  const delay = new LoopDelay(() => now, (probe) => timers.push(probe));
  return {
    delay,
    advance: (ms: number) => now += ms,
    /** The event loop gets round to its timers. */
    runTimers: () => timers.splice(0).forEach((probe) => probe()),
  };
}

Deno.test("a loop that keeps up is never behind, whatever the request rate", () => {
  const { delay, advance, runTimers } = manual();
  for (let i = 0; i < 1000; i++) {
    assert.equal(delay.isBehind(50), false);
    advance(1);
    if (i % 5 === 4) runTimers();
  }
});

Deno.test("one long piece of work does not turn away the requests that waited for it", () => {
  const { delay, advance, runTimers } = manual();
  assert.equal(delay.isBehind(50), false); // starts a probe
  advance(300); // a search for a common word holds the loop
  for (let i = 0; i < 10; i++) {
    assert.equal(delay.isBehind(50), false, "the last probe was on time");
  }
  runTimers(); // that probe fired 300 ms late
  assert.equal(delay.isBehind(50), false, "a new probe; not behind yet");
  advance(10);
  runTimers();
  for (let i = 0; i < 10; i++) {
    assert.equal(delay.isBehind(50), false, "the loop caught up");
    advance(1);
  }
});

Deno.test("a loop that stays behind refuses once the waiting probe is late as well", () => {
  const { delay, advance, runTimers } = manual();
  delay.isBehind(50);
  advance(200);
  runTimers(); // 200 ms late
  assert.equal(delay.isBehind(50), false, "starts the next probe");
  advance(40);
  assert.equal(delay.isBehind(50), false, "40 ms: within the limit");
  advance(20);
  assert.equal(delay.isBehind(50), true, "60 ms, after a late probe: behind");
  assert.equal(delay.isBehind(80), false, "a higher limit is not reached");
  runTimers(); // 60 ms late
  assert.equal(delay.isBehind(50), false, "each new probe is given its chance");
  advance(10);
  runTimers();
  advance(60);
  assert.equal(delay.isBehind(50), false, "the last probe was on time again");
});
