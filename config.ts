import { z } from "zod";
import { dirname, join } from "node:path";
import { randomSecret } from "./core/secrets.ts";
import type { LogFormat, LogLevel } from "./core/logger.ts";

/** Where the data lives. */
export type DatabaseConfig =
  | { kind: "sqlite"; path: string; synchronous: "FULL" | "NORMAL" }
  | { kind: "mongodb"; url: string; search: MongoSearchSetting };

/** How the MongoDB store finds search candidates (db/mongo/search.ts). */
export type MongoSearchSetting = "text" | "atlas" | "scan";

/** Fixed-window limits on sign-in and sign-up attempts. */
export interface RateLimitConfig {
  /** Failed logins per account per window. */
  loginPerAccount: number;
  /** Login attempts per client address per window. */
  loginPerAddress: number;
  /** Registrations per client address per window. */
  registerPerAddress: number;
  windowSeconds: number;
}

/** Everything the service reads from its environment, validated. */
export interface Config {
  port: number;
  host: string;
  db: DatabaseConfig;
  /** Where generated state (the JWT secret) is kept. */
  dataDir: string;
  /** The origin clients reach this server at, without a trailing slash. */
  publicUrl: string;
  /** HS256 key for access tokens; at least 32 bytes. Undefined until resolved at start. */
  jwtSecret?: Uint8Array;
  corsOrigins: string[];
  accessTokenTtlSeconds: number;
  maxBodyBytes: number;
  /** Largest export file `POST /api/import` takes (it is streamed, not held). */
  maxImportBytes: number;
  /** Take the client address from X-Forwarded-For (only behind a proxy you run). */
  trustProxy: boolean;
  /** Seconds /readyz answers 503 before the server stops taking connections on shutdown. */
  drainSeconds: number;
  /**
   * Seconds in-flight requests get to finish after the drain; then whatever is still open (a
   * stalled upload, a stream) is cut off, the store closed and the process exits.
   */
  shutdownGraceSeconds: number;
  /** Open a SQLite file even on a network file system (where its locking is unreliable). */
  sqliteAllowNetworkFs: boolean;
  rateLimits: RateLimitConfig;
  /** Concurrent password hashes, and how many more may wait. */
  hashing: { concurrency: number; queue: number };
  /** Concurrent full-text searches, and how many more may wait. */
  search: { concurrency: number; queue: number };
  /** The bound on work in progress (routes/middleware/admission.ts). */
  admission: AdmissionConfig;
  mcp: McpConfig;
  /** How long an OAuth connection lasts from consent before the user must approve again. */
  oauthRefreshTtlSeconds: number;
  /** How long a browser stays signed in to the dashboard. */
  webSessionSeconds: number;
  /** How logs are written and how much. */
  log: { format: LogFormat; level: LogLevel };
  /** The bearer token `/metrics` wants; without one, `/metrics` does not exist (404). */
  metricsToken?: string;
}

/** How many requests are served at once, how many may wait, and for how long. */
export interface AdmissionConfig {
  /** Requests being served at once; health probes and streamed uploads are not counted. */
  maxInFlight: number;
  /** Requests waiting for a turn; past this, 503 with Retry-After at once. */
  maxQueued: number;
  /** Seconds a request may take, waiting included, before it is answered 503 or 504. */
  requestTimeoutSeconds: number;
  /**
   * Milliseconds the event loop may stay behind before new requests are refused (503): how an
   * overload of requests that never yield (SQLite) shows (routes/middleware/loop_delay.ts). 0: off.
   */
  maxEventLoopDelayMs: number;
}

/** How the MCP endpoints behave. */
export interface McpConfig {
  /** `json`: one JSON body per request; `sse`: always a stream; `auto`: JSON unless streaming. */
  responseMode: "auto" | "json" | "sse";
  /** Tool calls, resource reads and prompt gets one user may make per minute. */
  callsPerMinute: number;
  /** New MCP sessions (initialize, SSE streams) per user, or per address on `/open`, a minute. */
  sessionsPerMinute: number;
  /** An idle MCP session (Streamable HTTP or SSE) ends after this many seconds. */
  sessionIdleSeconds: number;
  /** Open legacy SSE streams per user (and per address on `/open/sse` before login). */
  sseStreamsPerUser: number;
  /** Seconds between SSE keep-alive comments. */
  sseKeepAliveSeconds: number;
  /** Host names MCP requests may be addressed to, besides the public URL's and loopback. */
  allowedHosts: string[];
}

/** A bad setting: the message names the variable and what is wrong, in one line. */
export class ConfigError extends Error {}

const DURATION = /^(\d+)\s*(s|m|h|d)?$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

function duration(name: string) {
  return z.string().transform((value, ctx) => {
    const match = DURATION.exec(value.trim());
    if (!match || Number(match[1]) <= 0) {
      ctx.addIssue({ code: "custom", message: `${name} must be a duration like 900, 15m or 1h` });
      return z.NEVER;
    }
    return Number(match[1]) * UNIT_SECONDS[(match[2] ?? "s") as keyof typeof UNIT_SECONDS];
  });
}

function integer(name: string, min: number, max: number) {
  return z.string().transform((value, ctx) => {
    const n = Number(value.trim());
    if (!Number.isInteger(n) || n < min || n > max) {
      ctx.addIssue({
        code: "custom",
        message: `${name} must be a whole number from ${min} to ${max}`,
      });
      return z.NEVER;
    }
    return n;
  });
}

function bool(name: string) {
  return z.string().transform((value, ctx) => {
    const v = value.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(v)) return true;
    if (["0", "false", "no", "off", ""].includes(v)) return false;
    ctx.addIssue({ code: "custom", message: `${name} must be true or false` });
    return z.NEVER;
  });
}

function origin(name: string) {
  return (value: string, ctx: z.RefinementCtx): string => {
    let url: URL;
    try {
      url = new URL(value.trim());
    } catch {
      ctx.addIssue({ code: "custom", message: `${name}: "${value}" is not a URL` });
      return z.NEVER;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      ctx.addIssue({ code: "custom", message: `${name} must use http or https` });
      return z.NEVER;
    }
    return url.origin;
  };
}

const envSchema = z.object({
  PORT: integer("PORT", 0, 65535).default(8000),
  HOST: z.string().min(1).default("0.0.0.0"),
  PENSIEVE_DB: z.string().min(1).default("sqlite:./data/pensieve.db"),
  PENSIEVE_DB_FILE: z.string().min(1).optional(),
  PENSIEVE_MONGODB_SEARCH: z.enum(["text", "atlas", "scan"], {
    message: "PENSIEVE_MONGODB_SEARCH must be text, atlas or scan",
  }).default("text"),
  PENSIEVE_DATA_DIR: z.string().min(1).optional(),
  PENSIEVE_SQLITE_SYNCHRONOUS: z.enum(["FULL", "NORMAL", "full", "normal"], {
    message: "PENSIEVE_SQLITE_SYNCHRONOUS must be FULL or NORMAL",
  }).default("FULL"),
  PENSIEVE_SQLITE_ALLOW_NETWORK_FS: bool("PENSIEVE_SQLITE_ALLOW_NETWORK_FS").default(false),
  PENSIEVE_PUBLIC_URL: z.string().transform(origin("PENSIEVE_PUBLIC_URL")).optional(),
  PENSIEVE_JWT_SECRET: z.string().min(32, {
    message: "PENSIEVE_JWT_SECRET must be at least 32 characters",
  }).optional(),
  PENSIEVE_CORS_ORIGINS: z.string().default(""),
  PENSIEVE_ACCESS_TOKEN_TTL: duration("PENSIEVE_ACCESS_TOKEN_TTL").default(3600),
  PENSIEVE_MAX_BODY_BYTES: integer("PENSIEVE_MAX_BODY_BYTES", 1024, 1024 ** 3).default(
    10 * 1024 * 1024,
  ),
  PENSIEVE_MAX_IMPORT_BYTES: integer("PENSIEVE_MAX_IMPORT_BYTES", 1024, 64 * 1024 ** 3).default(
    2 * 1024 ** 3,
  ),
  PENSIEVE_TRUST_PROXY: bool("PENSIEVE_TRUST_PROXY").default(false),
  PENSIEVE_DRAIN_SECONDS: integer("PENSIEVE_DRAIN_SECONDS", 0, 300).default(0),
  PENSIEVE_SHUTDOWN_GRACE_SECONDS: integer("PENSIEVE_SHUTDOWN_GRACE_SECONDS", 0, 300).default(10),
  PENSIEVE_LOGIN_LIMIT_PER_ACCOUNT: integer("PENSIEVE_LOGIN_LIMIT_PER_ACCOUNT", 1, 1_000_000)
    .default(10),
  PENSIEVE_LOGIN_LIMIT_PER_ADDRESS: integer("PENSIEVE_LOGIN_LIMIT_PER_ADDRESS", 1, 1_000_000)
    .default(100),
  PENSIEVE_REGISTER_LIMIT_PER_ADDRESS: integer(
    "PENSIEVE_REGISTER_LIMIT_PER_ADDRESS",
    1,
    1_000_000,
  ).default(20),
  PENSIEVE_RATE_LIMIT_WINDOW: duration("PENSIEVE_RATE_LIMIT_WINDOW").default(900),
  PENSIEVE_HASH_CONCURRENCY: integer("PENSIEVE_HASH_CONCURRENCY", 1, 64).default(2),
  PENSIEVE_SEARCH_CONCURRENCY: integer("PENSIEVE_SEARCH_CONCURRENCY", 1, 256).default(4),
  PENSIEVE_SEARCH_QUEUE: integer("PENSIEVE_SEARCH_QUEUE", 0, 10_000).default(32),
  PENSIEVE_MAX_IN_FLIGHT: integer("PENSIEVE_MAX_IN_FLIGHT", 1, 100_000).default(64),
  PENSIEVE_MAX_QUEUED: integer("PENSIEVE_MAX_QUEUED", 0, 100_000).default(256),
  PENSIEVE_REQUEST_TIMEOUT: duration("PENSIEVE_REQUEST_TIMEOUT").default(30),
  PENSIEVE_MAX_EVENT_LOOP_DELAY_MS: integer("PENSIEVE_MAX_EVENT_LOOP_DELAY_MS", 0, 60_000)
    .default(100),
  PENSIEVE_MCP_RESPONSE_MODE: z.enum(["auto", "json", "sse"], {
    message: "PENSIEVE_MCP_RESPONSE_MODE must be auto, json or sse",
  }).default("auto"),
  PENSIEVE_MCP_CALLS_PER_MINUTE: integer("PENSIEVE_MCP_CALLS_PER_MINUTE", 1, 1_000_000)
    .default(300),
  PENSIEVE_MCP_SESSIONS_PER_MINUTE: integer("PENSIEVE_MCP_SESSIONS_PER_MINUTE", 1, 1_000_000)
    .default(30),
  PENSIEVE_MCP_SESSION_IDLE: duration("PENSIEVE_MCP_SESSION_IDLE").default(86_400),
  PENSIEVE_SSE_STREAMS_PER_USER: integer("PENSIEVE_SSE_STREAMS_PER_USER", 1, 1000).default(10),
  PENSIEVE_SSE_KEEPALIVE: duration("PENSIEVE_SSE_KEEPALIVE").default(15),
  PENSIEVE_ALLOWED_HOSTS: z.string().default(""),
  PENSIEVE_OAUTH_REFRESH_TTL: duration("PENSIEVE_OAUTH_REFRESH_TTL").default(90 * 86_400),
  PENSIEVE_WEB_SESSION_TTL: duration("PENSIEVE_WEB_SESSION_TTL").default(7 * 86_400),
  PENSIEVE_LOG_FORMAT: z.enum(["json", "text"], {
    message: "PENSIEVE_LOG_FORMAT must be json or text",
  }).default("json"),
  PENSIEVE_LOG_LEVEL: z.enum(["debug", "info", "warn", "error"], {
    message: "PENSIEVE_LOG_LEVEL must be debug, info, warn or error",
  }).default("info"),
  PENSIEVE_METRICS_TOKEN: z.string().trim().min(16, {
    message: "PENSIEVE_METRICS_TOKEN must be at least 16 characters",
  }).optional(),
});

/** Every environment variable the configuration reads: main.ts reads these and no others. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

function databaseConfig(
  url: string,
  synchronous: "FULL" | "NORMAL",
  search: MongoSearchSetting,
): DatabaseConfig {
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length);
    if (!path) throw new ConfigError("PENSIEVE_DB: sqlite: needs a file path");
    return { kind: "sqlite", path, synchronous };
  }
  if (url.startsWith("mongodb://") || url.startsWith("mongodb+srv://")) {
    return { kind: "mongodb", url, search };
  }
  throw new ConfigError(
    "PENSIEVE_DB must be sqlite:PATH, mongodb://… or mongodb+srv://…",
  );
}

/**
 * The database URL from PENSIEVE_DB, or from the file PENSIEVE_DB_FILE names (a Docker or Key
 * Vault secret mounted as a file), never both. The file's content is never put in an error.
 */
function databaseUrl(
  env: Record<string, string>,
  readFile: (path: string) => string,
): string | undefined {
  const path = env.PENSIEVE_DB_FILE;
  if (path === undefined) return env.PENSIEVE_DB;
  if (env.PENSIEVE_DB !== undefined) {
    throw new ConfigError("PENSIEVE_DB and PENSIEVE_DB_FILE are both set; set one of them");
  }
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    const reason = error instanceof Error ? error.name : "unreadable";
    throw new ConfigError(`PENSIEVE_DB_FILE: cannot read ${path} (${reason})`);
  }
  const url = text.trim();
  if (!url) throw new ConfigError(`PENSIEVE_DB_FILE: ${path} is empty`);
  return url;
}

/**
 * Reads and validates the configuration from environment variables. Touches no file but the
 * secret file PENSIEVE_DB_FILE may name (read with `readFile`).
 */
export function parseConfig(
  env: Record<string, string | undefined>,
  readFile: (path: string) => string = Deno.readTextFileSync,
): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([key, value]) =>
      value !== undefined && (key in envSchema.shape) && value !== ""
    ),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue.path[0] ?? "");
    const message = issue.message.startsWith(key) ? issue.message : `${key}: ${issue.message}`;
    throw new ConfigError(message);
  }
  const e = parsed.data;
  const synchronous = e.PENSIEVE_SQLITE_SYNCHRONOUS.toUpperCase() as "FULL" | "NORMAL";
  const url = databaseUrl(present as Record<string, string>, readFile) ?? e.PENSIEVE_DB;
  const db = databaseConfig(url, synchronous, e.PENSIEVE_MONGODB_SEARCH);
  const dataDir = e.PENSIEVE_DATA_DIR ??
    (db.kind === "sqlite" && db.path !== ":memory:" ? dirname(db.path) : "./data");
  const corsOrigins = e.PENSIEVE_CORS_ORIGINS.split(",").map((s) => s.trim()).filter(Boolean)
    .map((value) => {
      const result = z.string().transform(origin("PENSIEVE_CORS_ORIGINS")).safeParse(value);
      if (!result.success) throw new ConfigError(result.error.issues[0].message);
      return result.data;
    });
  const localHost = e.HOST === "0.0.0.0" || e.HOST === "::" ? "localhost" : e.HOST;
  return {
    port: e.PORT,
    host: e.HOST,
    db,
    dataDir,
    publicUrl: e.PENSIEVE_PUBLIC_URL ?? `http://${localHost}:${e.PORT}`,
    jwtSecret: e.PENSIEVE_JWT_SECRET ? new TextEncoder().encode(e.PENSIEVE_JWT_SECRET) : undefined,
    corsOrigins,
    accessTokenTtlSeconds: e.PENSIEVE_ACCESS_TOKEN_TTL,
    maxBodyBytes: e.PENSIEVE_MAX_BODY_BYTES,
    maxImportBytes: e.PENSIEVE_MAX_IMPORT_BYTES,
    trustProxy: e.PENSIEVE_TRUST_PROXY,
    drainSeconds: e.PENSIEVE_DRAIN_SECONDS,
    shutdownGraceSeconds: e.PENSIEVE_SHUTDOWN_GRACE_SECONDS,
    sqliteAllowNetworkFs: e.PENSIEVE_SQLITE_ALLOW_NETWORK_FS,
    rateLimits: {
      loginPerAccount: e.PENSIEVE_LOGIN_LIMIT_PER_ACCOUNT,
      loginPerAddress: e.PENSIEVE_LOGIN_LIMIT_PER_ADDRESS,
      registerPerAddress: e.PENSIEVE_REGISTER_LIMIT_PER_ADDRESS,
      windowSeconds: e.PENSIEVE_RATE_LIMIT_WINDOW,
    },
    hashing: { concurrency: e.PENSIEVE_HASH_CONCURRENCY, queue: 64 },
    search: { concurrency: e.PENSIEVE_SEARCH_CONCURRENCY, queue: e.PENSIEVE_SEARCH_QUEUE },
    admission: {
      maxInFlight: e.PENSIEVE_MAX_IN_FLIGHT,
      maxQueued: e.PENSIEVE_MAX_QUEUED,
      requestTimeoutSeconds: e.PENSIEVE_REQUEST_TIMEOUT,
      maxEventLoopDelayMs: e.PENSIEVE_MAX_EVENT_LOOP_DELAY_MS,
    },
    oauthRefreshTtlSeconds: e.PENSIEVE_OAUTH_REFRESH_TTL,
    webSessionSeconds: e.PENSIEVE_WEB_SESSION_TTL,
    log: { format: e.PENSIEVE_LOG_FORMAT, level: e.PENSIEVE_LOG_LEVEL },
    metricsToken: e.PENSIEVE_METRICS_TOKEN,
    mcp: {
      responseMode: e.PENSIEVE_MCP_RESPONSE_MODE,
      callsPerMinute: e.PENSIEVE_MCP_CALLS_PER_MINUTE,
      sessionsPerMinute: e.PENSIEVE_MCP_SESSIONS_PER_MINUTE,
      sessionIdleSeconds: e.PENSIEVE_MCP_SESSION_IDLE,
      sseStreamsPerUser: e.PENSIEVE_SSE_STREAMS_PER_USER,
      sseKeepAliveSeconds: e.PENSIEVE_SSE_KEEPALIVE,
      allowedHosts: e.PENSIEVE_ALLOWED_HOSTS.split(",").map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    },
  };
}

/**
 * The JWT secret from config, or else from `<dataDir>/jwt-secret`, created once with 256 random
 * bits and mode 0600. There is never a built-in default secret.
 */
export async function resolveJwtSecret(config: Config): Promise<Uint8Array> {
  if (config.jwtSecret) return config.jwtSecret;
  const file = join(config.dataDir, "jwt-secret");
  try {
    const text = (await Deno.readTextFile(file)).trim();
    if (text.length < 43) throw new ConfigError(`${file} is too short to be a secret; delete it`);
    return new TextEncoder().encode(text);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  await Deno.mkdir(config.dataDir, { recursive: true });
  const text = randomSecret();
  // Written whole under another name, then linked into place (which fails if the file exists):
  // another process never reads it half-written, and a kill meanwhile leaves no empty secret.
  const temp = `${file}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(temp, text + "\n", { createNew: true, mode: 0o600 });
  let theirs = false;
  try {
    await Deno.link(temp, file);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    theirs = true;
  } finally {
    await Deno.remove(temp);
  }
  // Another process created it first: use theirs, so both sign with one key.
  if (theirs) return resolveJwtSecret(config);
  return new TextEncoder().encode(text);
}
