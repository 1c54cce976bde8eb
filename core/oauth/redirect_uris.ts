const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Where an authorization response may be sent: any https URL, or http on a loopback host (native
 * and CLI clients listen on a local port). No fragments, no credentials in the URL, nothing else.
 */
export function isAllowedRedirectUri(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.hash || url.username || url.password) return false;
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && LOOPBACK.has(url.hostname);
}

/**
 * Whether `asked` is one of the registered URIs. Exact string match, except that a loopback
 * redirect may use any port (RFC 8252 §7.3): native clients pick a free port at each sign-in.
 */
export function matchesRegisteredRedirect(asked: string, registered: string[]): boolean {
  if (!isAllowedRedirectUri(asked)) return false;
  if (registered.includes(asked)) return true;
  let url: URL;
  try {
    url = new URL(asked);
  } catch {
    return false;
  }
  if (url.protocol !== "http:" || !LOOPBACK.has(url.hostname)) return false;
  return registered.some((r) => {
    try {
      const known = new URL(r);
      return known.protocol === "http:" && known.hostname === url.hostname &&
        known.pathname === url.pathname && known.search === url.search;
    } catch {
      return false;
    }
  });
}
