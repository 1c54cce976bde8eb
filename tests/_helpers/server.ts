import { type App, createApp } from "../../app.ts";
import { type Config, parseConfig } from "../../config.ts";
import { type Clock, systemClock } from "../../core/clock.ts";
import { SqliteStore } from "../../db/sqlite/store.ts";
import type { MetadataFetcher } from "../../core/oauth/client_metadata_document.ts";
import type { LogSink } from "../../core/logger.ts";
import type { Store } from "../../db/store.ts";

/** A whole Pensieve on a temp SQLite file, served by a real HTTP server on 127.0.0.1. */
export interface TestServer {
  url: string;
  app: App;
  store: SqliteStore;
  config: Config;
  dbPath: string;
  /** fetch against the server: `call("/api/x", { token, json })`. */
  call(path: string, init?: CallInit): Promise<Response>;
  close(): Promise<void>;
}

export interface CallInit extends Omit<RequestInit, "body"> {
  token?: string;
  json?: unknown;
  body?: BodyInit;
}

/** `call` against a server at `url`: in this process (startServer) or a spawned one. */
export function callAt(url: string): TestServer["call"] {
  return (path, init = {}) => {
    const { token, json, headers, ...rest } = init;
    const h = new Headers(headers);
    if (token) h.set("Authorization", `Bearer ${token}`);
    let body = init.body;
    if (json !== undefined) {
      h.set("Content-Type", "application/json");
      body = JSON.stringify(json);
    }
    return fetch(url + path, { ...rest, headers: h, body });
  };
}

/** Test-only JWT key: 32 bytes, never used outside tests. */
export const TEST_SECRET = new TextEncoder().encode("test-secret-test-secret-test-secret!");

/** Request lines would drown test output: only warnings and errors are shown, on stderr. */
const quietSink: LogSink = (line, level) => {
  if (level === "warn" || level === "error") console.error(line);
};

/**
 * Starts a server. `env` takes the same variables as production; rate limits are high by default
 * so suites that register many accounts from 127.0.0.1 are not throttled. `logSink` receives every
 * log line (by default only warnings and errors are printed).
 */
export async function startServer(
  options: {
    env?: Record<string, string>;
    clock?: Clock;
    metadataFetcher?: MetadataFetcher;
    logSink?: LogSink;
    /** What the app is given in place of the store (a wrapper that holds some calls back). */
    wrapStore?: (store: SqliteStore) => Store;
  } = {},
): Promise<TestServer> {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-test-" });
  const ownPath = `${dir}/pensieve.db`;
  // Listen first, so the public URL (OAuth issuer, resource, links) is the one tests reach.
  const built: { app?: App } = {};
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request, info) => built.app!.hono.fetch(request, { remoteAddr: info.remoteAddr }),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const config = parseConfig({
    PENSIEVE_DB: `sqlite:${ownPath}`,
    PENSIEVE_PUBLIC_URL: url,
    PENSIEVE_LOGIN_LIMIT_PER_ADDRESS: "100000",
    PENSIEVE_REGISTER_LIMIT_PER_ADDRESS: "100000",
    PENSIEVE_SQLITE_SYNCHRONOUS: "NORMAL",
    ...options.env,
  });
  config.jwtSecret = TEST_SECRET;
  // A test may point PENSIEVE_DB at another server's file, to run two instances on one database.
  const dbPath = config.db.kind === "sqlite" ? config.db.path : ownPath;
  const store = new SqliteStore({
    path: dbPath,
    synchronous: config.db.kind === "sqlite" ? config.db.synchronous : "FULL",
  });
  const app = await createApp({
    config,
    store: options.wrapStore ? options.wrapStore(store) : store,
    clock: options.clock ?? systemClock,
    metadataFetcher: options.metadataFetcher,
    logSink: options.logSink ?? quietSink,
  });
  built.app = app;
  return {
    url,
    app,
    store,
    config,
    dbPath,
    call: callAt(url),
    async close() {
      await app.closeStreams();
      await server.shutdown();
      await store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

let counter = 0;

/** A fresh account on `server`; returns its access token and id. */
export async function signUp(
  server: Pick<TestServer, "call">,
  password = "correct horse battery",
): Promise<{ token: string; userId: string; email: string; password: string }> {
  const email = `user${++counter}-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const res = await server.call("/auth/register", { method: "POST", json: { email, password } });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`);
  const body = await res.json();
  return { token: body.access_token, userId: body.user.id, email, password };
}

/** Runs `fn` against a fresh server and always closes it. */
export async function withServer(
  fn: (server: TestServer) => Promise<void>,
  options: Parameters<typeof startServer>[0] = {},
): Promise<void> {
  const server = await startServer(options);
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

/**
 * A fresh account whose `token` is a personal access token, which `/mcp` accepts (the access
 * token sign-in returns is for the API and dashboard only); `accessToken` is that one.
 */
export async function signUpForMcp(
  server: Pick<TestServer, "call">,
): Promise<
  { token: string; accessToken: string; userId: string; email: string; password: string }
> {
  const account = await signUp(server);
  const res = await server.call("/api/tokens", {
    method: "POST",
    token: account.token,
    json: { name: "mcp tests" },
  });
  if (res.status !== 201) throw new Error(`token failed: ${res.status} ${await res.text()}`);
  return { ...account, accessToken: account.token, token: (await res.json()).secret };
}
