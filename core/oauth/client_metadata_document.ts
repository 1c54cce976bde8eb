import { z } from "zod";
import { OAuthError } from "../errors.ts";
import { isAllowedRedirectUri } from "./redirect_uris.ts";

/** A Client ID Metadata Document, as far as Pensieve reads one. */
export interface ClientMetadataDocument {
  clientName: string;
  redirectUris: string[];
  clientUri: string | null;
}

/** A fetched document: its HTTP status and at most `MAX_BYTES` (plus one) of its body. */
export interface FetchedDocument {
  status: number;
  body: Uint8Array;
}

/**
 * How a document is fetched. `fetch` must connect to `address`, the one that was checked, and
 * not look the name up again (a second lookup could answer with a private address). Tests and
 * deployments behind an egress proxy can supply their own.
 */
export interface MetadataFetcher {
  /** Resolves a host name to its addresses (A and AAAA). */
  resolve(hostname: string): Promise<string[]>;
  fetch(url: URL, address: string, signal: AbortSignal): Promise<FetchedDocument>;
}

const MAX_BYTES = 64 * 1024;
const TIMEOUT_MS = 5_000;

/**
 * The network: DNS, then HTTP/1.0 over TLS to the checked address, with the URL's host name for
 * SNI, certificate checks and the Host header. HTTP/1.0 keeps the body plain (no chunking).
 */
export function networkMetadataFetcher(options: { caCerts?: string[] } = {}): MetadataFetcher {
  return {
    resolve,
    fetch: (url, address, signal) => fetchPinned(url, address, signal, options.caCerts),
  };
}

export const systemMetadataFetcher: MetadataFetcher = networkMetadataFetcher();

async function resolve(hostname: string): Promise<string[]> {
  const found = await Promise.allSettled([
    Deno.resolveDns(hostname, "A"),
    Deno.resolveDns(hostname, "AAAA"),
  ]);
  return found.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
}

async function fetchPinned(
  url: URL,
  address: string,
  signal: AbortSignal,
  caCerts?: string[],
): Promise<FetchedDocument> {
  signal.throwIfAborted();
  const tcp = await Deno.connect({
    hostname: address.replace(/^\[|\]$/g, ""),
    port: Number(url.port || 443),
  });
  // startTls takes the connection over: from then on, the TLS one is what to close.
  let open: Deno.Conn = tcp;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      open.close();
    } catch {
      // already closed
    }
  };
  signal.addEventListener("abort", close, { once: true });
  try {
    const conn = await Deno.startTls(tcp, { hostname: url.hostname, caCerts });
    open = conn;
    await conn.write(new TextEncoder().encode(
      `GET ${url.pathname}${url.search} HTTP/1.0\r\nHost: ${url.host}\r\n` +
        `Accept: application/json\r\nUser-Agent: Pensieve\r\nConnection: close\r\n\r\n`,
    ));
    const raw = await readUpTo(conn.readable, MAX_BYTES + 16 * 1024);
    signal.throwIfAborted();
    const text = new TextDecoder().decode(raw);
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) return { status: 0, body: new Uint8Array() };
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
    const headerBytes = new TextEncoder().encode(text.slice(0, end + 4)).length;
    return { status, body: raw.slice(headerBytes) };
  } finally {
    signal.removeEventListener("abort", close);
    close();
  }
}

/** Reads a stream until it ends or `max` bytes have arrived. */
async function readUpTo(stream: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size <= max) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
  }
  await reader.cancel().catch(() => {});
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

const documentSchema = z.object({
  client_id: z.string(),
  client_name: z.string().trim().min(1).max(200).optional(),
  client_uri: z.url().max(2000).optional(),
  redirect_uris: z.array(z.string().max(2000)).min(1).max(20),
  token_endpoint_auth_method: z.string().optional(),
});

function privateV4(a: number, b: number, c: number): boolean {
  return a === 0 || a === 10 || a === 127 || a >= 224 ||
    (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) ||
    (a === 192 && b === 0) || (a === 198 && (b === 18 || b === 19)) ||
    (a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113);
}

/** An IPv6 address as eight 16-bit groups, or null when it is not one. */
function parseV6(ip: string): number[] | null {
  let text = ip;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    if ([a, b, c, d].some((n) => n > 255)) return null;
    text = text.slice(0, v4.index) +
      `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const part = (h: string) => (h ? h.split(":") : []);
  const head = part(halves[0]);
  const tail = halves.length === 2 ? part(halves[1]) : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (fill < 0 || (halves.length === 1 && head.length !== 8)) return null;
  const groups = [...head, ...Array(fill).fill("0"), ...tail];
  if (groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => parseInt(g, 16));
}

/**
 * Whether an address is one a server on the public internet could not legitimately be:
 * loopback, private, link-local, carrier-grade NAT, documentation, unique- or site-local,
 * multicast or unspecified, also when written as an IPv4-mapped, -compatible or NAT64 IPv6
 * address. Anything that does not parse as an address counts as private.
 */
export function isPrivateAddress(address: string): boolean {
  const ip = address.replace(/^\[|\]$/g, "").toLowerCase();
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    return [a, b, c, d].some((n) => n > 255) || privateV4(a, b, c);
  }
  const g = parseV6(ip);
  if (!g) return true;
  const embedded = () => privateV4(g[6] >> 8, g[6] & 255, g[7] >> 8);
  if (g.slice(0, 6).every((x) => x === 0)) return true; // ::, ::1 and IPv4-compatible forms
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return embedded(); // mapped
  if (g[0] === 0x64 && g[1] === 0xff9b) return true; // NAT64 can reach anything
  if ((g[0] & 0xfe00) === 0xfc00) return true; // unique local
  if ((g[0] & 0xffc0) === 0xfe80 || (g[0] & 0xffc0) === 0xfec0) return true; // link/site local
  if ((g[0] & 0xff00) === 0xff00) return true; // multicast
  if (g[0] === 0x2001 && g[1] === 0x0db8) return true; // documentation
  return false;
}

/**
 * Fetches and checks the metadata document at an https `client_id` URL. Refuses URLs that name
 * or resolve to a private address (the server must not be turned into a probe of its own
 * network), redirects, bodies over 64 KiB and answers slower than 5 s.
 */
export async function fetchClientMetadataDocument(
  clientId: string,
  fetcher: MetadataFetcher,
): Promise<ClientMetadataDocument> {
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    throw new OAuthError("invalid_client", "The client_id is neither registered nor a URL.");
  }
  if (
    url.protocol !== "https:" || url.hash || url.username || url.password || url.pathname === "/"
  ) {
    throw new OAuthError(
      "invalid_client",
      "A client_id URL must be https, with a path, and no fragment or credentials.",
    );
  }
  const host = url.hostname;
  const literal = /^[\d.]+$/.test(host) || host.startsWith("[");
  const addresses = literal ? [host] : await fetcher.resolve(host).catch(() => []);
  if (
    host === "localhost" || host.endsWith(".localhost") || addresses.length === 0 ||
    addresses.some(isPrivateAddress)
  ) {
    throw new OAuthError(
      "invalid_client",
      "The client_id URL does not resolve to a public address.",
    );
  }
  const unavailable = () =>
    new OAuthError("invalid_client", "The client metadata document could not be fetched.");
  let fetched: FetchedDocument;
  try {
    // Every address was checked; connect to the first, by address.
    fetched = await fetcher.fetch(url, addresses[0], AbortSignal.timeout(TIMEOUT_MS));
  } catch {
    throw unavailable();
  }
  // The status is not echoed: this endpoint must not tell strangers what third parties answer.
  if (fetched.status !== 200) throw unavailable();
  if (fetched.body.length > MAX_BYTES) {
    throw new OAuthError("invalid_client", "The client metadata document is too large.");
  }
  const text = new TextDecoder().decode(fetched.body);
  let parsed;
  try {
    parsed = documentSchema.safeParse(JSON.parse(text));
  } catch {
    throw new OAuthError("invalid_client", "The client metadata document is not JSON.");
  }
  if (!parsed.success || parsed.data.client_id !== clientId) {
    throw new OAuthError(
      "invalid_client",
      "The client metadata document is invalid or names another client_id.",
    );
  }
  const uris = parsed.data.redirect_uris;
  if (!uris.every(isAllowedRedirectUri)) {
    throw new OAuthError(
      "invalid_client",
      "The client metadata document has a refused redirect_uri.",
    );
  }
  if ((parsed.data.token_endpoint_auth_method ?? "none") !== "none") {
    throw new OAuthError(
      "invalid_client",
      "A client known by a metadata document must be public (token_endpoint_auth_method none).",
    );
  }
  return {
    clientName: parsed.data.client_name ?? host,
    redirectUris: uris,
    clientUri: parsed.data.client_uri ?? null,
  };
}
