import { JSONParser } from "@streamparser/json";
import { deserialize } from "bson";
import { Invalid } from "../errors.ts";

/** BSON documents are at most 16 MiB; a length past that means the file is not a BSON dump. */
const BSON_MAX = 16 * 1024 * 1024 + 16 * 1024;

/**
 * Streams the documents out of a database dump: a `mongodump` `.bson` file, or a `mongoexport`
 * file — JSON lines (its default) or one JSON list (`--jsonArray`) — or a JSON file holding one
 * document or a list of them. One document is held at a time, never the file.
 */
export async function* readDocuments(
  input: ReadableStream<Uint8Array>,
  name: string,
): AsyncGenerator<unknown> {
  const reader = input.getReader();
  let first = await reader.read();
  while (!first.done && first.value.length === 0) first = await reader.read();
  if (first.done) return;
  const at = first.value.findIndex((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  const lead = at < 0 ? -1 : first.value[at] === 0xef ? first.value[at + 3] : first.value[at];
  const chunks = (async function* () {
    yield first.value!;
    for (;;) {
      const next = await reader.read();
      if (next.done) return;
      yield next.value;
    }
  })();
  if (lead === 0x5b || lead === 0x7b) yield* jsonDocuments(chunks, name, lead === 0x5b);
  else yield* bsonDocuments(chunks, name);
}

async function* jsonDocuments(
  chunks: AsyncIterable<Uint8Array>,
  name: string,
  list: boolean,
): AsyncGenerator<unknown> {
  // A list yields its items; otherwise every top-level object is one document (JSON lines).
  const parser = list
    ? new JSONParser({ paths: ["$.*"], keepStack: false })
    : new JSONParser({ paths: ["$"], keepStack: false, separator: "" });
  const queue: unknown[] = [];
  let failure: Error | null = null;
  parser.onValue = ({ value }) => void queue.push(value);
  parser.onError = (error) => void (failure ??= error);
  const fail = (error: Error) => new Invalid(`${name}: the JSON is malformed (${error.message}).`);
  for await (const chunk of chunks) {
    try {
      parser.write(chunk);
    } catch (error) {
      failure ??= error as Error;
    }
    while (queue.length) yield queue.shift();
    if (failure) throw fail(failure);
  }
  try {
    if (!parser.isEnded) parser.end();
  } catch (error) {
    // Ending JSON lines after the last complete document is fine; a list must be closed.
    if (list) failure ??= error as Error;
  }
  while (queue.length) yield queue.shift();
  if (failure) throw fail(failure);
}

async function* bsonDocuments(
  chunks: AsyncIterable<Uint8Array>,
  name: string,
): AsyncGenerator<unknown> {
  // Chunks wait in a list until the document they start is whole, then are joined once.
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let needed = 4;
  for await (const chunk of chunks) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes < needed) continue;
    const buffer = pending.length === 1 ? pending[0] : concat(pending, pendingBytes);
    let offset = 0;
    needed = 4;
    while (buffer.length - offset >= 4) {
      const size = new DataView(buffer.buffer, buffer.byteOffset + offset, 4).getInt32(0, true);
      if (size < 5 || size > BSON_MAX) {
        throw new Invalid(`${name}: neither JSON nor a BSON dump (mongodump) file.`);
      }
      if (buffer.length - offset < size) {
        needed = size;
        break;
      }
      try {
        yield deserialize(buffer.subarray(offset, offset + size));
      } catch (error) {
        throw new Invalid(`${name}: a damaged BSON document (${(error as Error).message}).`);
      }
      offset += size;
    }
    const rest = buffer.subarray(offset);
    pending = rest.length ? [rest] : [];
    pendingBytes = rest.length;
  }
  if (pendingBytes) throw new Invalid(`${name}: the BSON dump ends in the middle of a document.`);
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  const joined = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return joined;
}
