/** Random and hashed secrets. Secrets are stored only as their SHA-256. */
import { createHash } from "node:crypto";

/** 256 random bits, base64url without padding. */
export function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return base64url(bytes);
}

export function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replaceAll("=", "");
}

/**
 * Hex SHA-256 of a secret, the form in which it is stored and looked up. Every authenticated
 * request hashes its token: node:crypto does it in about 3 µs, WebCrypto's digest (an async op
 * and copies) in about 40.
 */
export function sha256Hex(secret: string): Promise<string> {
  return Promise.resolve(createHash("sha256").update(secret, "utf8").digest("hex"));
}

/** A UUID (version-8 layout) derived from a text: the same text always gives the same id. */
export async function uuidFromText(text: string): Promise<string> {
  const hex = (await sha256Hex(text)).slice(0, 32).split("");
  hex[12] = "8";
  hex[16] = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  const h = hex.join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Compares two strings in time that does not depend on where they differ. */
export function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** HMAC-SHA256 with one server key, imported once: base64url of the MAC of a text. */
export class Hmac {
  #key?: Promise<CryptoKey>;

  constructor(private readonly secret: Uint8Array) {}

  async sign(text: string): Promise<string> {
    this.#key ??= crypto.subtle.importKey(
      "raw",
      new Uint8Array(this.secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const mac = await crypto.subtle.sign("HMAC", await this.#key, new TextEncoder().encode(text));
    return base64url(new Uint8Array(mac));
  }
}
