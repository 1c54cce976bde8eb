import { LIMITS } from "../limits.ts";
import type { Metadata } from "../types.ts";

/** Room kept for the note that says what was cut. */
const NOTE_BYTES = 2048;
const NOTE_KEYS = 8;
const NOTE_KEY_CHARS = 40;
/** A string is cut to fit only when a useful part of it fits. */
const MIN_KEPT_BYTES = 256;
const TRUNCATED = "…[truncated]";

/** Sets an own member, even one named `__proto__` (which plain assignment would not set). */
function keep(target: Metadata, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** The UTF-8 size of a string, without encoding it. */
function utf8Bytes(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x800) bytes += c >= 0xd800 && c <= 0xdbff ? 1 : 2; // a pair is 4 bytes in all
    else if (c >= 0x80) bytes += 1;
  }
  return bytes;
}

/** The size of a value as stored JSON; null when it has no JSON form. */
function jsonBytes(value: unknown): number | null {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? null : utf8Bytes(text);
  } catch {
    return null; // a cycle cannot come from JSON; BigInt or a getter that throws might
  }
}

/** The longest start of `text` (marked as cut) whose JSON takes at most `room` bytes; null if none useful. */
function cutText(text: string, room: number): string | null {
  if (room < MIN_KEPT_BYTES) return null;
  let length = Math.min(text.length, room);
  for (;;) {
    const kept = text.slice(0, length).toWellFormed() + TRUNCATED;
    const size = utf8Bytes(JSON.stringify(kept));
    if (size <= room) return kept;
    length = Math.min(length - 1, Math.floor((length * room) / size) - 8);
    if (length <= 0) return null;
  }
}

/** The leading items of a list whose JSON takes at most `room` bytes; null if not even one. */
function cutList(list: unknown[], room: number): unknown[] | null {
  const kept: unknown[] = [];
  let size = 2;
  for (const item of list) {
    const bytes = jsonBytes(item);
    if (bytes === null || size + bytes + 1 > room) break;
    kept.push(item);
    size += bytes + 1;
  }
  return kept.length ? kept : null;
}

/**
 * Metadata as it may be stored: at most LIMITS.metadataBytes of JSON, like any saved through the
 * API. Metadata within the limit is returned as it is (the same object). Otherwise its members are
 * kept in order while they fit; a long string is cut (marked `…[truncated]`) and a long list keeps
 * its first items; a member that cannot fit at all is left out. `truncated_keys` names what was
 * cut or left out, so nothing goes silently.
 *
 * @example
 * ```ts
 * const stored = boundedMetadata({ thinking: "x".repeat(100_000) });
 * // stored.thinking is its first ~14 KB, stored.truncated_keys is ["thinking"]
 * ```
 */
export function boundedMetadata(metadata: Metadata, max: number = LIMITS.metadataBytes): Metadata {
  const whole = jsonBytes(metadata);
  if (whole !== null && whole <= max) return metadata;
  const budget = max - NOTE_BYTES;
  const kept: Metadata = {};
  const cut: string[] = [];
  let size = 2;
  for (const [key, value] of Object.entries(metadata)) {
    if (key === "truncated_keys") continue;
    const keyBytes = jsonBytes(key)! + 2; // "key": and a comma
    const valueBytes = jsonBytes(value);
    if (valueBytes !== null && size + keyBytes + valueBytes <= budget) {
      keep(kept, key, value);
      size += keyBytes + valueBytes;
      continue;
    }
    cut.push(key);
    const room = budget - size - keyBytes;
    const shortened = typeof value === "string"
      ? cutText(value, room)
      : Array.isArray(value)
      ? cutList(value, room)
      : null;
    if (shortened !== null) {
      keep(kept, key, shortened);
      size += keyBytes + jsonBytes(shortened)!;
    }
  }
  kept.truncated_keys = cut.slice(0, NOTE_KEYS).map((key) =>
    Array.from(key).slice(0, NOTE_KEY_CHARS).join("").toWellFormed()
  );
  return kept;
}
