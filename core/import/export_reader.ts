import { JSONParser } from "@streamparser/json";
import { Unzip, UnzipInflate } from "fflate";
import { Invalid } from "../errors.ts";

/** A conversation object as it appears in an export file, not yet interpreted. */
export interface RawConversation {
  value: unknown;
  /** Its place in its file, for error messages. */
  position: number;
  file: string;
}

/** The files of an export archive that hold conversations (one, or sharded). */
const CONVERSATION_FILE = /(^|\/)conversations(-\d+)?\.json$/;

/**
 * Streams the conversations out of an export: a `.zip` (ChatGPT or Claude), or one
 * `conversations*.json`. Each conversation object is parsed as its bytes arrive and handed on;
 * the file is never held whole in memory.
 */
export async function* readExport(
  input: ReadableStream<Uint8Array>,
  name = "upload",
): AsyncGenerator<RawConversation> {
  const reader = input.getReader();
  const first = await reader.read();
  if (first.done) throw new Invalid("The file is empty.");
  const isZip = first.value[0] === 0x50 && first.value[1] === 0x4b;
  const queue: RawConversation[] = [];
  let failure: unknown = null;

  /** A streaming parser for one file's list of conversations, fed by `write(chunk, final)`. */
  const jsonParser = (file: string) => {
    // A list of conversations (ChatGPT, Claude), or Pensieve's own {"conversations": [...]}.
    let parser = new JSONParser({ paths: ["$.*"], keepStack: false });
    let position = 0;
    let started = false;
    // Set for a {…} file: it must say it is a Pensieve export before its conversations count.
    let format: "unknown" | "pensieve" | null = null;
    const notAnExport = () =>
      new Invalid(`${file}: expected a list of conversations or a Pensieve export.`);
    const listen = (p: JSONParser) => {
      p.onValue = ({ value, key }) => {
        if (key === "format") {
          if (value === "pensieve-export") format = "pensieve";
          else failure ??= notAnExport();
          return;
        }
        if (format === "unknown") {
          failure ??= notAnExport();
          return;
        }
        queue.push({ value, position: position++, file });
      };
      p.onError = (error) => {
        failure ??= new Invalid(`${file}: the JSON is malformed (${error.message}).`);
      };
    };
    listen(parser);
    return (chunk: Uint8Array, final: boolean) => {
      if (failure) return;
      if (!started) {
        const at = chunk.findIndex((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
        if (at >= 0) {
          started = true;
          // The file must hold a list of conversations; anything else is not an export.
          const first = chunk[at] === 0xef ? chunk[at + 3] : chunk[at];
          if (first === 0x7b) {
            format = "unknown";
            parser = new JSONParser({ paths: ["$.format", "$.conversations.*"], keepStack: false });
            listen(parser);
          } else if (first !== 0x5b) {
            failure = notAnExport();
            return;
          }
        }
      }
      try {
        if (chunk.length && !parser.isEnded) parser.write(chunk);
        if (final && !parser.isEnded) {
          if (!started) throw new Error("the file is empty");
          parser.end();
        }
        if (final && format === "unknown") failure ??= notAnExport();
      } catch (e) {
        failure ??= new Invalid(`${file}: the JSON is malformed (${(e as Error).message}).`);
      }
    };
  };

  let feed: (chunk: Uint8Array, final: boolean) => void;
  let entries = 0;
  if (isZip) {
    const unzip = new Unzip();
    unzip.register(UnzipInflate);
    unzip.onfile = (file) => {
      if (!CONVERSATION_FILE.test(file.name)) return;
      entries++;
      const write = jsonParser(file.name);
      file.ondata = (error, data, final) => {
        if (error) failure ??= new Invalid(`${file.name}: the archive is damaged.`);
        else write(data, final);
      };
      file.start();
    };
    feed = (chunk, final) => {
      try {
        unzip.push(chunk, final);
      } catch {
        failure ??= new Invalid(`${name}: the archive is damaged.`);
      }
    };
  } else {
    entries = 1;
    feed = jsonParser(name);
  }

  let chunk: Uint8Array | undefined = first.value;
  for (;;) {
    feed(chunk ?? new Uint8Array(), false);
    while (queue.length) yield queue.shift()!;
    if (failure) throw failure;
    const next = await reader.read();
    if (next.done) break;
    chunk = next.value;
  }
  feed(new Uint8Array(), true);
  while (queue.length) yield queue.shift()!;
  if (failure) throw failure;
  if (isZip && entries === 0) {
    throw new Invalid("The archive holds no conversations.json.");
  }
}
