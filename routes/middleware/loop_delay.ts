/**
 * How far behind this process's event loop is running: the one sign of overload a Deno server
 * can see. Deno.serve queues requests it has parsed until JavaScript is free to take them, and a
 * request on SQLite runs start to finish without yielding, so however many wait, JavaScript
 * never holds more than one or two at a time: the queue is out of sight, and only its effect
 * shows, as timers that fire late. A probe (a zero-delay timer) is started by the first request
 * that finds none waiting and measures how late it fires.
 *
 * @example
 * ```ts
 * const delay = new LoopDelay();
 * if (delay.isBehind(250)) throw new Unavailable("The server is busy; try again shortly.", 1);
 * ```
 */
export class LoopDelay {
  /** When the probe now waiting was started; null when none is. */
  #pendingSince: number | null = null;
  /** How late the last probe fired, in ms. */
  #lastDelay = 0;

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly schedule: (probe: () => void) => void = (probe) => setTimeout(probe, 0),
  ) {}

  /**
   * Whether the loop is more than `limitMs` behind now (the waiting probe is that late) and was
   * at the last probe too. Two in a row, so that one long piece of work (a search for a common
   * word) does not turn away the requests that waited for it: only a loop that stays behind does.
   */
  isBehind(limitMs: number): boolean {
    const now = this.now();
    if (this.#pendingSince === null) {
      const since = now;
      this.#pendingSince = since;
      this.schedule(() => {
        this.#lastDelay = this.now() - since;
        this.#pendingSince = null;
      });
      return false;
    }
    return now - this.#pendingSince > limitMs && this.#lastDelay > limitMs;
  }
}
