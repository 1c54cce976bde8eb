import { seedFromEnv } from "../_helpers/random.ts";
import { runCrashTrial } from "./harness.ts";

// PENSIEVE_CRASH_CYCLES runs more kills (the bench runs hundreds); PENSIEVE_CRASH_SEED replays one.
const cycles = Number(Deno.env.get("PENSIEVE_CRASH_CYCLES") ?? 20);

Deno.test("kill -9 during concurrent appends loses and duplicates nothing acknowledged", async () => {
  const seed = seedFromEnv("PENSIEVE_CRASH_SEED");
  console.log(`crash trial: seed ${seed}, ${cycles} kills (replay: PENSIEVE_CRASH_SEED=${seed})`);
  const report = await runCrashTrial({ seed, cycles, log: (line) => console.log(line) });
  console.log(JSON.stringify(report));
});
