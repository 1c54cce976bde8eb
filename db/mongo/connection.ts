import type { MongoClientOptions } from "mongodb";

/**
 * Which server a connection string points at. Azure Cosmos DB for MongoDB comes in two kinds
 * that differ in what they support: the request-unit (RU) accounts at `*.mongo.cosmos.azure.com`
 * have no text, partial or sparse indexes, expire documents only through their `_ts`/`ttl`
 * mechanism and throttle with error 16500; vCore clusters at `*.mongocluster.cosmos.azure.com`
 * behave much more like MongoDB (text indexes, TTL indexes on a date field).
 */
export type MongoFlavor = "mongodb" | "cosmos-ru" | "cosmos-vcore";

/** What Pensieve needs to know about a MongoDB connection string. */
export interface MongoTarget {
  flavor: MongoFlavor;
  /** Host names, lower-case, without ports. */
  hosts: string[];
  /** The database named in the path, or null. */
  database: string | null;
  /** The URI options, keys lower-cased (MongoDB reads them case-insensitively). */
  options: Map<string, string>;
}

/** The database Pensieve uses when the connection string names none. */
export const DEFAULT_DATABASE = "pensieve";

const COSMOS_RU = /\.mongo\.cosmos\.azure\.(com|cn)$/;
const COSMOS_VCORE = /\.mongocluster\.cosmos\.azure\.(com|cn)$/;

/**
 * Which kind of server these hosts are, by their names.
 *
 * @example
 * ```ts
 * detectFlavor(["acct.mongo.cosmos.azure.com"]); // "cosmos-ru"
 * ```
 */
export function detectFlavor(hosts: string[]): MongoFlavor {
  if (hosts.length && hosts.every((host) => COSMOS_RU.test(host))) return "cosmos-ru";
  if (hosts.length && hosts.every((host) => COSMOS_VCORE.test(host))) return "cosmos-vcore";
  return "mongodb";
}

/** Splits `mongodb://user:pass@h1:27017,h2/db?opt=v` into its parts. */
function splitUrl(
  url: string,
): { auth: string | null; hosts: string; path: string; query: string } {
  const scheme = /^mongodb(\+srv)?:\/\//.exec(url);
  if (!scheme) {
    throw new Error("A MongoDB connection string starts with mongodb:// or mongodb+srv://");
  }
  const rest = url.slice(scheme[0].length);
  // A "?" cannot appear unescaped before the options, but "@" can appear inside them (Cosmos DB
  // puts appName=@account@ there), so the credentials end at the last "@" before the "?".
  const queryAt = rest.indexOf("?");
  const head = queryAt === -1 ? rest : rest.slice(0, queryAt);
  const query = queryAt === -1 ? "" : rest.slice(queryAt + 1);
  const at = head.lastIndexOf("@");
  const auth = at === -1 ? null : head.slice(0, at);
  const location = head.slice(at + 1);
  const slash = location.indexOf("/");
  return {
    auth,
    hosts: slash === -1 ? location : location.slice(0, slash),
    path: slash === -1 ? "" : location.slice(slash + 1),
    query,
  };
}

function hostName(hostAndPort: string): string {
  const host = hostAndPort.startsWith("[")
    ? hostAndPort.slice(0, hostAndPort.indexOf("]") + 1)
    : hostAndPort.split(":")[0];
  return decodeURIComponent(host).toLowerCase();
}

/**
 * Reads a connection string without connecting.
 *
 * @example
 * ```ts
 * const target = parseMongoUrl("mongodb+srv://u:p@c.mongocluster.cosmos.azure.com/notes?tls=true");
 * target.flavor; // "cosmos-vcore"
 * target.database; // "notes"
 * ```
 */
export function parseMongoUrl(url: string): MongoTarget {
  const parts = splitUrl(url.trim());
  const hosts = parts.hosts.split(",").filter(Boolean).map(hostName);
  if (!hosts.length) throw new Error("The MongoDB connection string names no host.");
  const options = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(parts.query)) {
    options.set(key.toLowerCase(), value);
  }
  const database = decodeURIComponent(parts.path);
  return { flavor: detectFlavor(hosts), hosts, database: database || null, options };
}

/**
 * The driver options Pensieve adds to what the connection string says.
 *
 * Every write is acknowledged by a majority and journaled. On Cosmos DB retryable writes are off
 * unless the string turns them on (its connection strings say `retrywrites=false`; the RU API
 * rejects the driver's retryable-write protocol unless the account enables it), so the store
 * makes each write safe to repeat by itself. Idle connections are dropped before Azure's load
 * balancer silently drops them (its documented advice: `maxIdleTimeMS=120000`).
 *
 * @example
 * ```ts
 * clientOptions(parseMongoUrl("mongodb://a.mongo.cosmos.azure.com:10255/?ssl=true")).retryWrites;
 * // false
 * ```
 */
export function clientOptions(target: MongoTarget): MongoClientOptions {
  const options: MongoClientOptions = {
    writeConcern: { w: "majority", journal: true },
    ignoreUndefined: true,
  };
  const cosmos = target.flavor !== "mongodb";
  if (cosmos && !target.options.has("retrywrites")) options.retryWrites = false;
  if (cosmos && !target.options.has("maxidletimems")) options.maxIdleTimeMS = 120_000;
  if (!target.options.has("appname")) options.appName = "pensieve";
  if (!target.options.has("serverselectiontimeoutms")) options.serverSelectionTimeoutMS = 10_000;
  return options;
}

/**
 * The connection string with its password replaced, fit for a log line.
 *
 * @example
 * ```ts
 * redactMongoUrl("mongodb://app:s3cret@db.example.com/pensieve"); // "mongodb://app:***@db.example.com/pensieve"
 * ```
 */
export function redactMongoUrl(url: string): string {
  const scheme = /^mongodb(\+srv)?:\/\//.exec(url);
  if (!scheme) return "(not a MongoDB URL)";
  const parts = splitUrl(url);
  const user = parts.auth === null ? "" : `${parts.auth.split(":")[0]}:***@`;
  const path = parts.path ? `/${parts.path}` : "";
  // Options can carry secrets too (a TLS key password, AWS session tokens): names only.
  const names = [...new URLSearchParams(parts.query).keys()];
  const query = names.length ? `?${names.map((name) => `${name}=…`).join("&")}` : "";
  return `${scheme[0]}${user}${parts.hosts}${path}${query}`;
}
