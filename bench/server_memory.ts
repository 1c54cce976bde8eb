/** Resident memory of a process, read from /proc (Linux). */

/** `VmRSS` (now) and `VmHWM` (the peak so far) of `pid`, in MB; null where /proc is unreadable. */
export function processMemory(pid: number): { rss: number; peak: number } | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
    return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
  } catch {
    return null;
  }
}

/** Samples the RSS of `pid` every `everyMs` until stopped; reports the highest sample. */
export function sampleMemory(pid: number, everyMs = 100): () => { peak: number; last: number } {
  let peak = 0;
  let last = 0;
  const take = () => {
    const memory = processMemory(pid);
    if (!memory) return;
    last = memory.rss;
    peak = Math.max(peak, memory.rss);
  };
  take();
  const timer = setInterval(take, everyMs);
  return () => {
    clearInterval(timer);
    take();
    return { peak, last };
  };
}
