import { z } from "zod";
import { OAuthError } from "../errors.ts";
import { isAllowedRedirectUri } from "./redirect_uris.ts";

/** A Client ID Metadata Document, as far as Pensieve reads one. */
export interface ClientMetadataDocument {
  clientName: string;
  redirectUris: string[];
  clientUri: string | null;
}

/** How a document is fetched; tests and deployments behind an egress proxy can supply their own. */
export interface MetadataFetcher {
  /** Resolves a host name to its addresses (A and AAAA). */
  resolve(hostname: string): Promise<string[]>;
  fetch(url: string, init: RequestInit): Promise<Response>;
}

const MAX_BYTES = 64 * 1024;
const TIMEOUT_MS = 5_000;

export const systemMetadataFetcher: MetadataFetcher = {
  async resolve(hostname) {
    const found = await Promise.allSettled([
      Deno.resolveDns(hostname, "A"),
      Deno.resolveDns(hostname, "AAAA"),
    ]);
    return found.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
  },
  fetch: (url, init) => fetch(url, init),
};

const documentSchema = z.object({
  client_id: z.string(),
  client_name: z.string().trim().min(1).max(200).optional(),
  client_uri: z.url().max(2000).optional(),
  redirect_uris: z.array(z.string().max(2000)).min(1).max(20),
  token_endpoint_auth_method: z.string().optional(),
});

/**
 * Whether an address is one a server on the public internet could not legitimately be:
 * loopback, private, link-local, carrier-grade NAT, unique-local, multicast or unspecified.
 */
export function isPrivateAddress(address: string): boolean {
  const ip = address.replace(/^\[|\]$/g, "").toLowerCase();
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip.replace(/^::ffff:/, ""));
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return a === 0 || a === 10 || a === 127 || a >= 224 ||
      (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) ||
      (a === 192 && b === 0) || (a === 198 && (b === 18 || b === 19));
  }
  if (!ip.includes(":")) return true; // not an address at all: refuse
  return ip === "::" || ip === "::1" || /^f[cd]/.test(ip) || /^fe[89ab]/.test(ip) ||
    /^ff/.test(ip) || ip.startsWith("::ffff:") || ip.startsWith("64:ff9b:");
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
  let response: Response;
  try {
    response = await fetcher.fetch(url.href, {
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
      headers: { Accept: "application/json" },
    });
  } catch {
    throw new OAuthError("invalid_client", "The client metadata document could not be fetched.");
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new OAuthError(
      "invalid_client",
      `The client metadata document answered ${response.status}.`,
    );
  }
  const text = await readLimited(response, MAX_BYTES);
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

async function readLimited(response: Response, max: number): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      throw new OAuthError("invalid_client", "The client metadata document is too large.");
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return new TextDecoder().decode(all);
}
