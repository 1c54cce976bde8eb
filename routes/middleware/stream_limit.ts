import type { MiddlewareHandler } from "hono";
import { TooLarge } from "../../core/errors.ts";
import type { AppEnv } from "../env.ts";

/**
 * A body limit that never buffers: a declared Content-Length over the limit is refused at once;
 * a body of unknown length is passed on as a stream that fails once it goes past the limit.
 * (Hono's bodyLimit reads an unknown-length body whole into memory first.)
 */
export function streamLimit(maxSize: number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const raw = c.req.raw;
    if (!raw.body) return next();
    const declared = raw.headers.get("content-length");
    if (declared !== null && !raw.headers.has("transfer-encoding")) {
      if (Number(declared) > maxSize) {
        throw new TooLarge(`The request body is larger than ${maxSize} bytes.`);
      }
      return next();
    }
    let size = 0;
    const counted = raw.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          size += chunk.length;
          if (size > maxSize) {
            controller.error(new TooLarge(`The request body is larger than ${maxSize} bytes.`));
          } else controller.enqueue(chunk);
        },
      }),
    );
    // Built from its parts, not `new Request(raw, …)`: that would follow the request's signal,
    // and Deno warns on stderr (once per process, after the answer) that a followed request
    // signal aborts when a response completes. Nothing here listens to it.
    c.req.raw = new Request(raw.url, {
      method: raw.method,
      headers: raw.headers,
      body: counted,
      duplex: "half",
    } as RequestInit);
    await next();
  };
}
