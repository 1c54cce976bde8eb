import assert from "node:assert/strict";
import { networkMetadataFetcher } from "../../core/oauth/client_metadata_document.ts";

const dir = new URL("../_fixtures/tls/", import.meta.url);
const cert = await Deno.readTextFile(new URL("client.test.pem", dir));
const key = await Deno.readTextFile(new URL("client.test.key", dir));
const ca = await Deno.readTextFile(new URL("ca.pem", dir));

/** An https server for `client.test` on loopback, signed by the test-only CA in tests/_fixtures. */
async function withTlsServer(
  handler: (request: Request) => Response | Promise<Response>,
  fn: (port: number) => Promise<void>,
): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, cert, key, onListen() {} }, handler);
  try {
    await fn(server.addr.port);
  } finally {
    await server.shutdown();
  }
}

Deno.test("metadata fetcher: connects to the checked address, verifies TLS for the URL's host", async () => {
  const fetcher = networkMetadataFetcher({ caCerts: [ca] });
  const seen: string[] = [];
  await withTlsServer((request) => {
    seen.push(`${request.headers.get("host")} ${new URL(request.url).pathname}`);
    return Response.json({ client_id: "x" });
  }, async (port) => {
    const got = await fetcher.fetch(
      new URL(`https://client.test:${port}/doc.json?v=1`),
      "127.0.0.1",
      AbortSignal.timeout(5_000),
    );
    assert.equal(got.status, 200);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(got.body)), { client_id: "x" });
    assert.deepEqual(seen, [`client.test:${port} /doc.json`]);
    // A certificate for another name is refused.
    await assert.rejects(
      fetcher.fetch(
        new URL(`https://other.test:${port}/doc.json`),
        "127.0.0.1",
        AbortSignal.timeout(5_000),
      ),
    );
    // Without the test CA, the self-signed chain is refused.
    await assert.rejects(
      networkMetadataFetcher().fetch(
        new URL(`https://client.test:${port}/doc.json`),
        "127.0.0.1",
        AbortSignal.timeout(5_000),
      ),
    );
  });
});

Deno.test("metadata fetcher: stops reading past the size bound and gives up at the deadline", async () => {
  const fetcher = networkMetadataFetcher({ caCerts: [ca] });
  await withTlsServer((request) => {
    if (new URL(request.url).pathname === "/big") return new Response("x".repeat(500_000));
    const body = new ReadableStream({
      async pull(controller) {
        await new Promise((r) => setTimeout(r, 300));
        controller.enqueue(new TextEncoder().encode(" "));
      },
    });
    return new Response(body);
  }, async (port) => {
    const big = await fetcher.fetch(
      new URL(`https://client.test:${port}/big`),
      "127.0.0.1",
      AbortSignal.timeout(5_000),
    );
    assert.ok(big.body.length < 200_000, `read ${big.body.length} bytes`);
    await assert.rejects(
      fetcher.fetch(
        new URL(`https://client.test:${port}/slow`),
        "127.0.0.1",
        AbortSignal.timeout(800),
      ),
    );
  });
});
