// @ts-types="@types/busboy"
import type busboy from "busboy";
import { Readable } from "node:stream";
import type { ReadableStream as NodeWebReadableStream } from "node:stream/web";
import { Invalid, PensieveError } from "../core/errors.ts";

/** A file sent in a form: the name the form gave it, and its bytes as they arrive. */
export interface UploadedFile {
  name: string | null;
  stream: ReadableStream<Uint8Array>;
  /** The form's text fields that came before the file (a CSRF token, say); small and few. */
  fields: Record<string, string>;
}

/**
 * How much of the file is held back until more of the form has arrived: a form that turns out
 * broken (a second file, no closing boundary, too large) within this many bytes of its file's end
 * errors the file's stream before the importer has seen those bytes, so a file up to this size
 * in a broken form stores nothing.
 */
const LOOKAHEAD_BYTES = 1024 * 1024;

/** Whether the request's body is a multipart form rather than the file itself. */
export function isMultipart(request: Request): boolean {
  return (request.headers.get("Content-Type") ?? "").toLowerCase().startsWith("multipart/");
}

/** A parser error in words a caller can act on; our own errors (a body too large) pass as they are. */
function asPensieveError(error: unknown): PensieveError {
  if (error instanceof PensieveError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new Invalid(`The multipart form is malformed (${detail}).`);
}

/**
 * The one file part of a `multipart/form-data` request, streamed: it resolves as soon as the file
 * part begins, and its bytes are read from the request only as fast as the returned stream is
 * read, so no file is ever held whole. Text fields before the file are kept (few and small); later ones are skipped. The stream ends only once
 * the whole form has been read, so a second file or a cut-off form errors it (Invalid) rather
 * than ending it cleanly; a body over the route's stream limit errors it with TooLarge.
 *
 * Rejects with Invalid when the form is malformed or has no file part, and with the stream
 * limit's TooLarge when the body goes past it before the file begins.
 *
 * @example
 * ```ts
 * const upload = await multipartFile(c.req.raw);
 * await importer.import(userId, upload.stream, { name: upload.name ?? "upload" });
 * ```
 */
export async function multipartFile(
  request: Request,
  options: { idleMs?: number } = {},
): Promise<UploadedFile> {
  if (!request.body) throw new Invalid("The body is empty: send the export file.");
  // Loaded with the first multipart upload, not at start-up: few requests are one.
  const createParser = (await import("busboy")).default as typeof busboy;
  let parser: busboy.Busboy;
  try {
    parser = createParser({
      headers: { "content-type": request.headers.get("Content-Type") ?? "" },
      // A second file is refused (filesLimit below); text fields are kept only before the file,
      // and only a few small ones.
      limits: { files: 1, fields: 20, fieldSize: 4096 },
    });
  } catch (error) {
    throw new Invalid(
      `Send the file as multipart/form-data with a boundary, or as the body itself (${
        error instanceof Error ? error.message : String(error)
      }).`,
    );
  }
  const source = Readable.fromWeb(request.body as unknown as NodeWebReadableStream<Uint8Array>);

  return new Promise<UploadedFile>((resolve, reject) => {
    // Set once the file part begins: its bytes go here, and any failure after that errors it.
    let file: ReadableStreamDefaultController<Uint8Array> | null = null;
    let settled = false; // ended or failed: nothing more happens
    const stop = () => {
      settled = true;
      source.unpipe(parser);
      source.destroy();
      parser.destroy();
    };
    const fail = (error: unknown) => {
      if (settled) return;
      const reason = asPensieveError(error);
      stop();
      clearTimeout(idle);
      if (file) file.error(reason);
      else reject(reason);
    };
    // Until the file begins, a form that sends nothing for idleMs is given up; once it has begun,
    // whoever reads the file's stream keeps the time.
    let idle: ReturnType<typeof setTimeout> | undefined;
    const waitForMore = () => {
      clearTimeout(idle);
      if (options.idleMs === undefined || file) return;
      const seconds = Math.round(options.idleMs / 1000);
      idle = setTimeout(
        () => fail(new Invalid(`Nothing arrived for ${seconds} s: the upload stalled.`)),
        options.idleMs,
      );
    };
    waitForMore();
    source.on("data", waitForMore);
    // The newest LOOKAHEAD_BYTES of the file wait here until more of the form has been read.
    const held: Uint8Array[] = [];
    let heldBytes = 0;
    const release = (all: boolean) => {
      while (held.length && (all || heldBytes - held[0].byteLength >= LOOKAHEAD_BYTES)) {
        const chunk = held.shift()!;
        heldBytes -= chunk.byteLength;
        file!.enqueue(chunk);
      }
    };
    const fields: Record<string, string> = {};
    parser.on("field", (name, value, info) => {
      if (!file && !info.valueTruncated && !(name in fields)) fields[name] = value;
    });
    parser.on("file", (_field, part, info) => {
      source.off("data", waitForMore);
      clearTimeout(idle);
      part.on("error", () => {}); // the parser reports the same failure
      part.on("data", (chunk: Uint8Array) => {
        if (settled) return;
        held.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        heldBytes += chunk.byteLength;
        release(false);
        // Holding the part holds the parser, which stops reading the request.
        if (file!.desiredSize! <= 0) part.pause();
      });
      resolve({
        name: info.filename || null,
        fields,
        stream: new ReadableStream<Uint8Array>({
          start: (controller) => {
            file = controller;
          },
          pull: () => {
            part.resume();
          },
          cancel: stop,
        }, { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength }),
      });
    });
    parser.on("filesLimit", () => {
      fail(new Invalid("The form has more than one file: send one export per upload."));
    });
    // Only after the whole form is read, so a second file or a cut-off form is never a clean end.
    parser.on("finish", () => {
      if (settled) return;
      if (file) {
        settled = true;
        release(true);
        file.close();
      } else {
        fail(
          new Invalid(
            "The form has no file: send the export as a file part (curl -F file=@export.zip).",
          ),
        );
      }
    });
    parser.on("error", fail);
    source.on("error", (error) => {
      // The request's body failed: the client went away, or the body went past its limit.
      if (error instanceof PensieveError) return fail(error);
      const detail = error instanceof Error ? error.message : String(error);
      fail(new Invalid(`The upload was cut off before its end (${detail}).`));
    });
    source.pipe(parser);
  });
}
