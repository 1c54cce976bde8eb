import { Unavailable } from "./errors.ts";

/**
 * Runs at most `concurrency` jobs at once and lets at most `queue` more wait; past that a job is
 * refused at once, so a burst of expensive work (password hashing) cannot pile up without bound.
 */
export class WorkLimiter {
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly concurrency: number, readonly queue: number) {}

  /** Runs `job` when a slot is free; throws Unavailable when too many are already waiting. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#running >= this.concurrency) {
      if (this.#waiting.length >= this.queue) {
        throw new Unavailable("The server is busy; try again shortly.", 1);
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await job();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
