import { createApp } from "./app.ts";
import { CONFIG_VARIABLES, ConfigError, parseConfig, resolveJwtSecret } from "./config.ts";
import { systemClock } from "./core/clock.ts";
import { openStore } from "./db/open_store.ts";
import { refuseNetworkFileSystem } from "./db/sqlite/network_fs.ts";

const PURGE_INTERVAL_MS = 10 * 60 * 1000;

async function main(): Promise<void> {
  let config;
  try {
    // Only the variables the configuration names: `deno task serve` grants no others.
    config = parseConfig(
      Object.fromEntries(CONFIG_VARIABLES.map((name) => [name, Deno.env.get(name)])),
    );
    if (config.db.kind === "sqlite") {
      const fs = await refuseNetworkFileSystem(config.db.path, config.sqliteAllowNetworkFs);
      if (fs === "allowed") {
        console.error(
          "pensieve: SQLite on a network file system, as PENSIEVE_SQLITE_ALLOW_NETWORK_FS says",
        );
      }
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`pensieve: configuration error: ${error.message}`);
      Deno.exit(2);
    }
    throw error;
  }
  config.jwtSecret = await resolveJwtSecret(config);
  const store = await openStore(config.db);
  const clock = systemClock;
  const app = await createApp({ config, store, clock });

  const server = Deno.serve({
    port: config.port,
    hostname: config.host,
    onListen: ({ hostname, port }) => {
      console.log(
        `pensieve: listening on http://${hostname}:${port} (${store.kind}); public URL ${config.publicUrl}`,
      );
    },
  }, (request, info) => app.hono.fetch(request, { remoteAddr: info.remoteAddr }));

  const purge = setInterval(() => {
    store.purgeExpired(clock.now()).catch((error) => console.error("purge failed", error));
  }, PURGE_INTERVAL_MS);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`pensieve: ${signal}: draining`);
    app.startDraining();
    clearInterval(purge);
    // Give load balancers time to see /readyz fail before connections are refused.
    if (config.drainSeconds > 0) {
      await new Promise((resolve) => setTimeout(resolve, config.drainSeconds * 1000));
    }
    await app.closeStreams();
    await server.shutdown();
    await store.close();
    console.log("pensieve: stopped cleanly");
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  await server.finished;
}

if (import.meta.main) await main();
