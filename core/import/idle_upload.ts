import { Invalid } from "../errors.ts";

/** An upload that sends nothing for this long is given up (a stalled or trickling client). */
export const UPLOAD_IDLE_MS = 120_000;

/**
 * An upload that is given up when it sends nothing for `idleMs` while it is being read: a client
 * that stalls (or trickles a byte a minute) cannot hold an import, and its job, open for ever.
 * Time the reader spends elsewhere (storing what it read) does not count.
 *
 * @example
 * ```ts
 * const file = idleLimited(request.body!, 120_000);
 * await importer.import(userId, file, { name: "upload" });
 * ```
 */
export function idleLimited(
  upload: ReadableStream<Uint8Array>,
  idleMs: number,
): ReadableStream<Uint8Array> {
  const reader = upload.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const reading = reader.read();
      reading.catch(() => {}); // after a stall, its end is of no interest
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(
            new Invalid(
              `Nothing arrived for ${Math.round(idleMs / 1000)} s: the upload stalled.`,
            ),
          );
        }, idleMs);
      });
      try {
        const next = await Promise.race([reading, idle]);
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch (error) {
        controller.error(error);
        reader.cancel(error).catch(() => {});
      } finally {
        clearTimeout(timer);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
