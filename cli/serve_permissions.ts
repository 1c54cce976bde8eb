/**
 * The Deno permission flags `deno task serve` (and so the container) runs main.ts with, computed
 * from the same environment the server reads: the task runs
 * `deno run $(deno run … cli/serve_permissions.ts) main.ts`, so the grants follow the settings
 * instead of being written out by hand, and are as narrow as Deno can express:
 *
 * - net: the listen address; the database's hosts (a `mongodb+srv` cluster's parent domain,
 *   where the SRV records point); the DNS servers in /etc/resolv.conf, port 53 (SRV lookups and
 *   the client metadata documents' own DNS checks); and any IPv4 address on port 443, which is
 *   how an OAuth Client ID Metadata Document is fetched (by the public address that was checked,
 *   never by name). `PENSIEVE_ALLOW_NET` adds entries (an egress proxy, replica set members that
 *   the URL does not name).
 * - env: the variables config.ts reads (plus the ones the MongoDB driver reads, for MongoDB).
 * - read: the app folder, the data folder, the SQLite file's folder and secret files named by
 *   `PENSIEVE_*_FILE` variables; write: the data and SQLite folders.
 * - sys: what argon2 and the server ask for, `statfs` for the network file system check, and
 *   `osRelease` for the MongoDB driver's handshake.
 * - ffi: only the native modules in node_modules (argon2).
 *
 * This helper itself runs with `--allow-env --allow-read` and nothing else: it reads the
 * configuration, which may name a secret file (PENSIEVE_DB_FILE), and prints.
 */
import { dirname, resolve } from "node:path";
import { type Config, CONFIG_VARIABLES, ConfigError, parseConfig } from "../config.ts";

/** What the flags depend on besides the configuration. */
export interface ServeHost {
  /** The app folder (absolute): main.ts, static files, node_modules. */
  appDir: string;
  /** Name servers from /etc/resolv.conf. */
  nameservers: string[];
  /** Extra `--allow-net` entries (`PENSIEVE_ALLOW_NET`). */
  extraNet: string[];
  /** Files named by `PENSIEVE_*_FILE` variables. */
  secretFiles: string[];
}

/**
 * Variables the MongoDB driver (mongodb 7) reads: its log settings, and the FaaS and container
 * detection of its handshake metadata. Deno's `process.env` throws on any variable not granted.
 */
export const MONGODB_DRIVER_VARIABLES: readonly string[] = [
  "MONGODB_*",
  "KUBERNETES_SERVICE_HOST",
  "AWS_EXECUTION_ENV",
  "AWS_LAMBDA_RUNTIME_API",
  "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
  "AWS_REGION",
  "FUNCTIONS_WORKER_RUNTIME",
  "K_SERVICE",
  "FUNCTION_NAME",
  "FUNCTION_MEMORY_MB",
  "FUNCTION_REGION",
  "FUNCTION_TIMEOUT_SEC",
  "VERCEL",
  "VERCEL_REGION",
];

/** Variables the argon2 loader (napi-rs) reads to find its native module. */
export const NATIVE_MODULE_VARIABLES: readonly string[] = ["NAPI_RS_*"];

/** Any IPv4 address on 443: Client ID Metadata Documents are fetched by address, over TLS. */
export const METADATA_DOCUMENT_EGRESS = "0.0.0.0/0:443";

const DEFAULT_MONGODB_PORT = 27017;

function hostPort(host: string, port: number | string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

function isIpAddress(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.startsWith("[") || host.includes(":");
}

/** `*.example.com` for `cluster0.example.com`: where the hosts of one cluster live. */
function parentDomainWildcard(host: string): string {
  const labels = host.split(".");
  return labels.length >= 3 ? `*.${labels.slice(1).join(".")}` : `*.${host}`;
}

/**
 * The `--allow-net` entries a MongoDB URL needs. `mongodb+srv://cluster0.example.com` may point
 * anywhere under `example.com` (the URI spec requires SRV targets to share the parent domain);
 * `mongodb://a:27017,b:27018/?replicaSet=rs` names its seeds, and a replica set's members may
 * be announced under other names in the same domain.
 *
 * @example
 * ```ts
 * mongoNetEntries("mongodb+srv://u:p@c1.mongocluster.cosmos.azure.com/?tls=true");
 * // → ["*.mongocluster.cosmos.azure.com"]
 * ```
 */
export function mongoNetEntries(url: string): string[] {
  const srv = url.startsWith("mongodb+srv://");
  const rest = url.slice(srv ? "mongodb+srv://".length : "mongodb://".length);
  const end = rest.search(/[/?]/);
  const authority = end < 0 ? rest : rest.slice(0, end);
  const query = end < 0 ? "" : rest.slice(end);
  const hostList = authority.slice(authority.lastIndexOf("@") + 1);
  const entries = new Set<string>();
  for (const raw of hostList.split(",").filter(Boolean)) {
    const hostname = decodeURIComponent(
      raw.startsWith("[") ? raw.slice(0, raw.indexOf("]") + 1) : raw.split(":")[0],
    ).toLowerCase();
    if (srv) {
      entries.add(parentDomainWildcard(hostname));
      continue;
    }
    const port = raw.startsWith("[")
      ? raw.slice(raw.indexOf("]") + 2) || DEFAULT_MONGODB_PORT
      : raw.split(":")[1] || DEFAULT_MONGODB_PORT;
    entries.add(hostPort(hostname, port));
    if (/[?&]replicaSet=/i.test(query) && !isIpAddress(hostname) && hostname.includes(".")) {
      entries.add(parentDomainWildcard(hostname));
    }
  }
  return [...entries];
}

/** The name servers of an /etc/resolv.conf text. */
export function nameserversOf(resolvConf: string): string[] {
  return [...resolvConf.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1].split("%")[0]);
}

/**
 * Pure: the permission flags for running main.ts with `config` on `host`.
 *
 * @example
 * ```ts
 * servePermissions(parseConfig({ PORT: "8000" }), {
 *   appDir: "/app", nameservers: ["127.0.0.11"], extraNet: [], secretFiles: [],
 * });
 * // → ["--allow-net=0.0.0.0:8000,127.0.0.11:53,0.0.0.0/0:443", "--allow-env=PORT,HOST,…", …]
 * ```
 */
export function servePermissions(config: Config, host: ServeHost): string[] {
  const net = [
    hostPort(config.host, config.port),
    ...host.nameservers.map((ns) => hostPort(ns, 53)),
    METADATA_DOCUMENT_EGRESS,
  ];
  const env = [...CONFIG_VARIABLES, ...NATIVE_MODULE_VARIABLES];
  const sys = ["cpus", "networkInterfaces", "hostname", "statfs"];
  const dataDir = resolve(host.appDir, config.dataDir);
  const read = [host.appDir, dataDir, ...host.secretFiles.map((f) => resolve(host.appDir, f))];
  const write = [dataDir];
  if (config.db.kind === "sqlite") {
    if (config.db.path !== ":memory:") {
      const dbDir = resolve(host.appDir, dirname(config.db.path));
      if (!read.includes(dbDir)) read.push(dbDir);
      if (!write.includes(dbDir)) write.push(dbDir);
    }
  } else {
    net.push(...mongoNetEntries(config.db.url));
    env.push(...MONGODB_DRIVER_VARIABLES);
    sys.push("osRelease");
  }
  net.push(...host.extraNet);
  return [
    `--allow-net=${[...new Set(net)].join(",")}`,
    `--allow-env=${env.join(",")}`,
    `--allow-sys=${sys.join(",")}`,
    `--allow-ffi=${resolve(host.appDir, "node_modules")}`,
    `--allow-read=${[...new Set(read)].join(",")}`,
    `--allow-write=${write.join(",")}`,
  ];
}

function readResolvConf(): string {
  try {
    return Deno.readTextFileSync("/etc/resolv.conf");
  } catch {
    return "";
  }
}

/** The flags for this process's environment, on one line for the task's `$(…)`. */
function main(): void {
  const env = Deno.env.toObject();
  let config: Config;
  try {
    config = parseConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Let main.ts read the settings and report the bad one, once, in its own words.
    console.log(`--allow-env=${CONFIG_VARIABLES.join(",")}`);
    return;
  }
  const flags = servePermissions(config, {
    appDir: Deno.cwd(),
    nameservers: nameserversOf(readResolvConf()),
    extraNet: (env.PENSIEVE_ALLOW_NET ?? "").split(",").map((s) => s.trim()).filter(Boolean),
    secretFiles: Object.entries(env)
      .filter(([name, value]) => /^PENSIEVE_\w+_FILE$/.test(name) && value)
      .map(([, value]) => value!),
  });
  // The task shell splits this line at spaces: paths with spaces cannot be granted this way.
  const spaced = flags.find((flag) => /\s/.test(flag));
  if (spaced) {
    console.error(`serve: a path in ${spaced} has a space; use paths without spaces`);
    Deno.exit(2);
  }
  console.log(flags.join(" "));
}

if (import.meta.main) main();
