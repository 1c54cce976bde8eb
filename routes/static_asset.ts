/** A file from `static/`, served under a name that changes with its content. */
export interface StaticAsset {
  path: string;
  type: string;
  body: Uint8Array<ArrayBuffer>;
}

/**
 * Reads `static/<name>` once, when the app is built, and names it by the first 12 hex digits of
 * its SHA-256 (`/static/app.3f2a….css`), so it can be cached for a year and still change.
 */
export function staticAsset(name: string, type: string): StaticAsset | null {
  let body: Uint8Array<ArrayBuffer>;
  try {
    body = Deno.readFileSync(new URL(`../static/${name}`, import.meta.url));
  } catch (error) {
    // A bundle not built (`deno task build`): pages work without it.
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  const digest = new Uint8Array(
    // A small file hashed once at start; synchronous to keep createApp synchronous.
    hashSync(body),
  );
  const hex = Array.from(digest.slice(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
  const dot = name.lastIndexOf(".");
  const base = name.slice(name.lastIndexOf("/") + 1, dot);
  return { path: `/static/${base}.${hex}${name.slice(dot)}`, type, body };
}

/** FNV-1a over the bytes, widened to 12 bytes: a content fingerprint, not a security hash. */
function hashSync(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let seed = 0; seed < 3; seed++) {
    let h = 0x811c9dc5 ^ seed;
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    out.push(h >>> 24, (h >>> 16) & 255, (h >>> 8) & 255, h & 255);
  }
  return out;
}
