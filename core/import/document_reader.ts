import { Invalid, PensieveError } from "../errors.ts";
import { JsonValues } from "./json_values.ts";

/** BSON documents are at most 16 MiB; a length past that means the file is not a BSON dump. */
const BSON_MAX = 16 * 1024 * 1024 + 16 * 1024;
/**
 * A JSON document may be this large: MongoDB's 16 MiB in Extended JSON, with room to spare. A
 * larger one is passed over and reported, never held.
 */
const JSON_DOCUMENT_MAX = 64 * 1024 * 1024;
/** Deeper than any document of the original Pensieve nests. */
const JSON_DEPTH_MAX = 256;

/** A document of a dump that could not be read, in its place: the reason says why. */
export class UnreadableDocument {
  constructor(readonly position: number, readonly reason: string) {}
}

/**
 * Streams the documents out of a database dump: a `mongodump` `.bson` file, or a `mongoexport`
 * file — JSON lines (its default) or one JSON list (`--jsonArray`) — or a JSON file holding one
 * document or a list of them. One document is held at a time, never the file. A JSON document
 * too large, too deep or not JSON comes out as an UnreadableDocument, and the rest still come.
 */
export async function* readDocuments(
  input: ReadableStream<Uint8Array>,
  name: string,
): AsyncGenerator<unknown> {
  const reader = input.getReader();
  const read = async () => {
    try {
      return await reader.read();
    } catch (error) {
      if (error instanceof PensieveError) throw error;
      throw new Invalid(`${name}: could not be read (${(error as Error).message}).`);
    }
  };
  try {
    // White space before JSON says nothing yet; a BSON dump never starts with a chunk of it.
    let first = await read();
    while (!first.done && first.value.every(isSpace)) first = await read();
    if (first.done) return;
    const at = first.value.findIndex((b) => !isSpace(b));
    const lead = first.value[at] === 0xef ? first.value[at + 3] : first.value[at];
    const chunks = (async function* () {
      yield first.value!;
      for (;;) {
        const next = await read();
        if (next.done) return;
        yield next.value;
      }
    })();
    if (lead === 0x5b || lead === 0x7b) yield* jsonDocuments(chunks, name);
    else yield* bsonDocuments(chunks, name);
  } finally {
    reader.cancel().catch(() => {});
  }
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

async function* jsonDocuments(
  chunks: AsyncIterable<Uint8Array>,
  name: string,
): AsyncGenerator<unknown> {
  // A list yields its items; otherwise every top-level value is one document (JSON lines).
  const values = new JsonValues(name, {
    shape: "list-or-sequence",
    maxValueBytes: JSON_DOCUMENT_MAX,
    maxDepth: JSON_DEPTH_MAX,
    noun: "document",
  });
  const ready = function* () {
    for (let value = values.next(); value; value = values.next()) {
      if (value.problem !== null) {
        yield new UnreadableDocument(value.index, `document #${value.index + 1} ${value.problem}`);
        continue;
      }
      try {
        yield JSON.parse(new TextDecoder().decode(value.bytes!));
      } catch (error) {
        yield new UnreadableDocument(
          value.index,
          `document #${value.index + 1} is not valid JSON (${(error as Error).message})`,
        );
      }
    }
  };
  for await (const chunk of chunks) {
    values.write(chunk);
    yield* ready();
  }
  values.end();
  yield* ready();
}

async function* bsonDocuments(
  chunks: AsyncIterable<Uint8Array>,
  name: string,
): AsyncGenerator<unknown> {
  // Loaded here, not at start: only a mongodump file needs it, and every module loaded at start
  // is paid on each cold start.
  const { deserialize } = await import("bson");
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
