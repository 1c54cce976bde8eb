/**
 * A body of unknown length (chunked) is read by the body limit before its handler runs. A client
 * that goes away mid-body (typically after its 504) used to be logged as an unhandled server
 * error with status 500 (Deno's BadResource); it is a client's cut-off body: 400, no error line.
 */
import assert from "node:assert/strict";
import { signUp, startServer } from "../_helpers/server.ts";

Deno.test("a chunked body the client abandons mid-way is a 400 in the log, not an unhandled 500", async () => {
  const lines: { line: string; level: string }[] = [];
  const server = await startServer({
    env: { PENSIEVE_REQUEST_TIMEOUT: "1" },
    logSink: (line, level) => lines.push({ line, level }),
  });
  try {
    const { token } = await signUp(server);
    let stalled: ReadableStreamDefaultController<Uint8Array> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        stalled = controller;
        controller.enqueue(new TextEncoder().encode('{"title": "never fin'));
      },
    });
    const slow = await fetch(`${server.url}/api/conversations`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
    assert.equal(slow.status, 504);
    await slow.body?.cancel();
    // The client gives up on the rest of its body.
    stalled!.error(new Error("client gone"));

    const logged = () =>
      lines.filter(({ line }) =>
        line.includes('"msg":"request"') && line.includes('"route":"/api/conversations"') &&
        line.includes('"method":"POST"')
      );
    for (let i = 0; i < 400 && logged().length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const all = lines.map(({ line }) => line).join("\n");
    assert.equal(logged().length, 1, all);
    assert.match(logged()[0].line, /"status":400/, all);
    assert.ok(!lines.some(({ level }) => level === "error"), all);
  } finally {
    await server.close();
  }
});
