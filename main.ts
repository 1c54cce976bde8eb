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

  // Requests whose response is not yet delivered: what a shutdown past its grace cuts off.
  let unfinished = 0;
  const finish = () => void unfinished--;
  const server = Deno.serve({
    port: config.port,
    hostname: config.host,
    onListen: ({ hostname, port }) => {
      console.log(
        `pensieve: listening on http://${hostname}:${port} (${store.kind}); public URL ${config.publicUrl}`,
      );
    },
  }, (request, info) => {
    unfinished++;
    info.completed.then(finish, finish);
    return app.hono.fetch(request, { remoteAddr: info.remoteAddr });
  });

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
    // A graceful shutdown waits for every open connection, and one whose request body was never
    // read to its end (a stalled upload) holds it for ever; Deno.serve can't be made to drop its
    // connections once one has begun (its abort signal then throws). So the wait is bounded, and
    // what is left is cut off by the exit below. Closing the store first loses no acknowledged
    // write: each was committed before it was answered, node:sqlite runs a statement start to end
    // between two turns of the event loop, and a handler that reaches the store after this gets
    // an error (its client, a closed connection), not a half-done write.
    let grace: ReturnType<typeof setTimeout> | undefined;
    const inTime = await Promise.race([
      server.shutdown().then(() => true, (error) => {
        console.error("pensieve: shutdown failed", error);
        return true;
      }),
      new Promise<false>((resolve) => {
        grace = setTimeout(() => resolve(false), config.shutdownGraceSeconds * 1000);
      }),
    ]);
    clearTimeout(grace);
    if (!inTime) {
      const requests = unfinished === 1 ? "1 request" : `${unfinished} requests`;
      console.log(
        `pensieve: shutdown grace of ${config.shutdownGraceSeconds} s is over: closing the ` +
          `connections still open (${requests} unfinished)`,
      );
    }
    await store.close();
    console.log("pensieve: stopped cleanly");
    // 0 even after a cut-off: the stop that was asked for happened and the store closed cleanly;
    // a client that outstayed the grace is the log line above, not a failed process to restart.
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  await server.finished;
}

if (import.meta.main) await main();
