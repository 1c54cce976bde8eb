import { Invalid, PensieveError } from "../errors.ts";
import { type JsonValueBytes, JsonValues } from "./json_values.ts";

/** A conversation object as it appears in an export file, not yet interpreted. */
export interface RawConversation {
  value: unknown;
  /** Its place in its file, for error messages. */
  position: number;
  file: string;
  /** Why it could not be read (too large, too deep, not JSON); `value` is then undefined. */
  problem?: string;
}

/** The files of an export archive that hold conversations (one, or sharded). */
const CONVERSATION_FILE = /(^|\/)conversations(-\d+)?\.json$/;

/**
 * One conversation's JSON may be this large; a larger one is passed over (reported, never held),
 * so memory stays bounded whatever a file holds. Real conversations are far smaller: a message is
 * stored up to 1 MiB, and ChatGPT's largest conversations are a few tens of MiB with every branch.
 */
export const MAX_CONVERSATION_BYTES = 64 * 1024 * 1024;
/** Deeper than any export nests; a deeper value is passed over (it would only cost memory). */
export const MAX_DEPTH = 256;
/** Compressed bytes handed to the inflater at a time: at most ~1000× this comes out at once. */
const ZIP_SLICE = 16 * 1024;
/** An archive may expand this much past its size once this much JSON has come out of it. */
const ZIP_FREE_BYTES = 256 * 1024 * 1024;
const ZIP_MAX_RATIO = 100;

/** The file being read, one chunk at a time. */
class Source {
  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly name: string,
  ) {}

  /** The next chunk; a failure of the transport (a client gone) is an Invalid, ours pass. */
  async read(): Promise<ReadableStreamReadResult<Uint8Array>> {
    try {
      return await this.reader.read();
    } catch (error) {
      if (error instanceof PensieveError) throw error;
      const detail = error instanceof Error ? error.message : String(error);
      throw new Invalid(`${this.name}: the upload was cut off before its end (${detail}).`);
    }
  }
}

/**
 * Streams the conversations out of an export: a `.zip` (ChatGPT or Claude), or one
 * `conversations*.json`, or Pensieve's own export. Each conversation's bytes are parsed once
 * they are whole and handed on one at a time; the file is never held in memory, nor is more than
 * one conversation (up to MAX_CONVERSATION_BYTES). A conversation too large, too deep or not JSON
 * comes out with its `problem`, and the ones after it still come.
 */
export async function* readExport(
  input: ReadableStream<Uint8Array>,
  name = "upload",
): AsyncGenerator<RawConversation> {
  const reader = input.getReader();
  const source = new Source(reader, name);
  try {
    let first = await source.read();
    while (!first.done && first.value.length === 0) first = await source.read();
    if (first.done) throw new Invalid("The file is empty.");
    const isZip = first.value[0] === 0x50 && first.value[1] === 0x4b;
    if (isZip) yield* zipConversations(first.value, source, name);
    else yield* jsonConversations(first.value, source, name);
  } finally {
    // Stops the upload when the import ends early (a broken file): nothing more is read.
    reader.cancel().catch(() => {});
  }
}

/** Reads the values of one conversations file: a list, or a Pensieve export's object. */
class ConversationsFile {
  readonly values: JsonValues;
  #isPensieve = false;

  constructor(readonly file: string) {
    this.values = new JsonValues(file, {
      shape: "list-or-object",
      listKey: "conversations",
      maxValueBytes: MAX_CONVERSATION_BYTES,
      maxDepth: MAX_DEPTH,
      noun: "conversation",
    });
  }

  #notAnExport(): Invalid {
    return new Invalid(`${this.file}: expected a list of conversations or a Pensieve export.`);
  }

  /** The conversations that are ready, one at a time. */
  *ready(): Generator<RawConversation> {
    for (let value = this.#next(); value; value = this.#next()) {
      const conversation = this.#interpret(value);
      if (conversation) yield conversation;
    }
    if (this.values.done) {
      if (!this.values.started) throw new Invalid(`${this.file}: the file is empty.`);
      if (this.values.shape === "object" && !this.#isPensieve) throw this.#notAnExport();
    }
  }

  #next(): JsonValueBytes | null {
    try {
      return this.values.next();
    } catch (error) {
      // A file that does not even start as a list or an object is not an export at all.
      if (!this.values.started) throw this.#notAnExport();
      throw error;
    }
  }

  #interpret(value: JsonValueBytes): RawConversation | null {
    // A {…} file must say it is a Pensieve export before its conversations count.
    if (this.values.shape === "object") {
      if (value.key === "format") {
        if (value.bytes === null || parse(value.bytes) !== "pensieve-export") {
          throw this.#notAnExport();
        }
        this.#isPensieve = true;
        return null;
      }
      if (value.key !== "conversations") return null;
      if (!this.#isPensieve) throw this.#notAnExport();
    }
    const raw: RawConversation = { value: undefined, position: value.index, file: this.file };
    if (value.problem !== null) raw.problem = value.problem;
    else {
      try {
        raw.value = parse(value.bytes!);
      } catch (error) {
        raw.problem = `is not valid JSON (${(error as Error).message})`;
      }
    }
    return raw;
  }
}

function parse(bytes: Uint8Array): unknown {
  return JSON.parse(new TextDecoder().decode(bytes));
}

async function* jsonConversations(
  first: Uint8Array,
  source: Source,
  name: string,
): AsyncGenerator<RawConversation> {
  const file = new ConversationsFile(name);
  file.values.write(first);
  for (;;) {
    yield* file.ready();
    if (file.values.done) return;
    const next = await source.read();
    if (next.done) file.values.end();
    else file.values.write(next.value);
  }
}

async function* zipConversations(
  first: Uint8Array,
  source: Source,
  name: string,
): AsyncGenerator<RawConversation> {
  const files: ConversationsFile[] = [];
  let failure: Invalid | null = null;
  let compressed = 0;
  let expanded = 0;
  // Loaded here, not at start-up: most servers rarely unzip an export.
  const { Unzip, UnzipInflate } = await import("fflate");
  const unzip = new Unzip();
  unzip.register(UnzipInflate);
  unzip.onfile = (entry) => {
    if (!CONVERSATION_FILE.test(entry.name)) return; // never inflated
    const file = new ConversationsFile(entry.name);
    files.push(file);
    entry.ondata = (error, data, final) => {
      if (error) {
        failure ??= new Invalid(`${entry.name}: the archive is damaged.`);
        return;
      }
      expanded += data.length;
      if (expanded > ZIP_FREE_BYTES && expanded > compressed * ZIP_MAX_RATIO) {
        failure ??= new Invalid(
          `${name}: ${entry.name} expands more than ${ZIP_MAX_RATIO}-fold: not an export.`,
        );
        return;
      }
      file.values.write(data);
      if (final) file.values.end();
    };
    entry.start();
  };
  const push = (chunk: Uint8Array, final: boolean) => {
    compressed += chunk.length;
    try {
      unzip.push(chunk, final);
    } catch {
      failure ??= new Invalid(`${name}: the archive is damaged.`);
    }
  };

  let current = 0;
  let chunk = first;
  let at = 0;
  let ended = false;
  for (;;) {
    // What has been inflated so far, file by file, in the archive's order.
    while (current < files.length && !failure) {
      yield* files[current].ready();
      if (!files[current].values.done) break;
      current++;
    }
    if (failure) throw failure;
    if (ended) break;
    if (at < chunk.length) {
      // A little at a time: the inflated bytes of one slice are framed before the next is inflated.
      const slice = chunk.subarray(at, at + ZIP_SLICE);
      at += slice.length;
      push(slice, false);
      continue;
    }
    const next = await source.read();
    if (next.done) {
      push(new Uint8Array(), true);
      ended = true;
    } else {
      chunk = next.value;
      at = 0;
    }
  }
  if (files.length === 0) throw new Invalid("The archive holds no conversations.json.");
  const cut = files.find((file) => !file.values.done);
  if (cut) throw new Invalid(`${cut.file}: the archive ends in the middle of this file.`);
}
