import type { z } from "zod";
import { Invalid } from "./errors.ts";
import { base64url } from "./secrets.ts";

/** An opaque page cursor: base64url JSON that only this service reads back. */
export function encodeCursor(value: unknown): string {
  return base64url(new TextEncoder().encode(JSON.stringify(value)));
}

/** Reads a cursor made by encodeCursor; anything else is Invalid. */
export function decodeCursor<T>(cursor: string, schema: z.ZodType<T>): T {
  try {
    const padded = cursor.replaceAll("-", "+").replaceAll("_", "/");
    const json = new TextDecoder().decode(
      Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)),
    );
    const parsed = schema.safeParse(JSON.parse(json));
    if (parsed.success) return parsed.data;
  } catch {
    // fall through to the one error below
  }
  throw new Invalid("The cursor is not valid; start again without it.");
}
