import type {
  AuthInfo,
  JSONRPCMessage,
  MessageExtraInfo,
  Transport,
} from "@modelcontextprotocol/server";

const encoder = new TextEncoder();

/** Unread output a stream may hold before it is given up on. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/**
 * The 2024-11-05 HTTP+SSE transport on web streams: the server's messages go down one
 * long-lived `text/event-stream`, the client's arrive by `POST /messages?sessionId=…` and are
 * handed in with `receive`. (The SDK's own SSE transport needs Node's http module.)
 */
export class SseServerTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  /** The response body to send to the client. */
  readonly stream: ReadableStream<Uint8Array>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #keepAlive?: ReturnType<typeof setInterval>;
  #closed = false;

  constructor(
    readonly sessionId: string,
    private readonly endpointUrl: string,
    private readonly keepAliveMs: number,
  ) {
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
      },
      // The client went away.
      cancel: () => this.#finish(false),
    }, new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }));
  }

  start(): Promise<void> {
    this.#write(`event: endpoint\ndata: ${this.endpointUrl}\n\n`);
    if (this.keepAliveMs > 0) {
      this.#keepAlive = setInterval(() => this.#write(": keep-alive\n\n"), this.keepAliveMs);
    }
    return Promise.resolve();
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("The SSE stream is closed."));
    this.#write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
    return Promise.resolve();
  }

  /** A message the client POSTed for this session. */
  receive(message: JSONRPCMessage, authInfo?: AuthInfo): void {
    this.onmessage?.(message, authInfo ? { authInfo } : undefined);
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  close(): Promise<void> {
    this.#finish(true);
    return Promise.resolve();
  }

  #write(frame: string): void {
    if (this.#closed) return;
    // A client that stops reading while it keeps asking would otherwise grow this queue
    // without bound: past the limit the stream is closed, and the client must reconnect.
    if ((this.#controller.desiredSize ?? 0) < -MAX_BUFFERED_BYTES) {
      this.onerror?.(new Error("SSE client is not reading; closing the stream."));
      this.#finish(true);
      return;
    }
    try {
      this.#controller.enqueue(encoder.encode(frame));
    } catch (error) {
      this.onerror?.(error as Error);
      this.#finish(false);
    }
  }

  #finish(closeStream: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepAlive);
    if (closeStream) {
      try {
        this.#controller.close();
      } catch {
        // already cancelled by the client
      }
    }
    this.onclose?.();
  }
}
