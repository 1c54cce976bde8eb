/**
 * An upload streamed in pieces (chunked: `curl -T -`, a browser's streaming fetch, the dashboard
 * island) leaves nothing on the server's stderr, whatever becomes of it: stored, refused, or cut
 * off by a client that goes away. It used to leave Deno's warning that a followed request signal
 * aborts on a completed response, once per process, after the client had its answer.
 */
import assert from "node:assert/strict";
import { spawnServer } from "../_helpers/process.ts";
import { callAt, signUp } from "../_helpers/server.ts";
import { claudeConversation, json } from "./_fixtures.ts";

const encoder = new TextEncoder();

/** A body of unknown length: fetch sends it chunked, so the import's stream limit counts it. */
function inPieces(...pieces: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  return ReadableStream.from(pieces.map((p) => typeof p === "string" ? encoder.encode(p) : p));
}

Deno.test("import: a streamed upload, stored, refused or cut off, leaves nothing on the server's stderr", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-stderr-" });
  const server = await spawnServer({ PENSIEVE_DB: `sqlite:${dir}/pensieve.db` }, { stderr: true });
  try {
    const { token } = await signUp({ call: callAt(server.url) });
    const auth = { Authorization: `Bearer ${token}` };
    const file = json([claudeConversation()]);

    const raw = await fetch(`${server.url}/api/import`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: inPieces(file.subarray(0, 10), file.subarray(10)),
    });
    assert.equal(raw.status, 200, await raw.clone().text());
    await raw.body?.cancel();

    const form = await fetch(`${server.url}/api/import`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "multipart/form-data; boundary=b" },
      body: inPieces(
        '--b\r\nContent-Disposition: form-data; name="file"; filename="conversations.json"\r\n\r\n',
        file,
        "\r\n--b--\r\n",
      ),
    });
    assert.equal(form.status, 200, await form.clone().text());
    await form.body?.cancel();

    const created = await fetch(`${server.url}/api/import/jobs`, { method: "POST", headers: auth });
    assert.equal(created.status, 201);
    const { job } = await created.json();
    const put = await fetch(`${server.url}/api/import/jobs/${job.id}`, {
      method: "PUT",
      headers: { ...auth, "Content-Type": "application/json" },
      body: inPieces(file.subarray(0, 10), file.subarray(10)),
    });
    assert.equal(put.status, 200, await put.clone().text());
    await put.body?.cancel();

    const refused = await fetch(`${server.url}/api/import`, {
      method: "POST",
      headers: { ...auth, "Content-Type": "application/json" },
      body: inPieces("{not", " an export"),
    });
    assert.equal(refused.status, 400);
    await refused.body?.cancel();

    // A client that goes away mid-upload, raw and multipart.
    for (const multipart of [false, true]) {
      const abort = new AbortController();
      let pulls = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (pulls === 0 && multipart) {
            controller.enqueue(encoder.encode(
              '--b\r\nContent-Disposition: form-data; name="file"; filename="c.json"\r\n\r\n',
            ));
          }
          if (pulls++ < 3) {
            controller.enqueue(encoder.encode(pulls === 1 ? "[" : "{},"));
            await new Promise((resolve) => setTimeout(resolve, 30));
          } else abort.abort();
        },
      });
      const gone = await fetch(`${server.url}/api/import`, {
        method: "POST",
        headers: {
          ...auth,
          "Content-Type": multipart ? "multipart/form-data; boundary=b" : "application/json",
        },
        body,
        signal: abort.signal,
      }).catch((error) => error);
      assert.equal(gone.name, "AbortError");
    }
    // The server sees each cut when it next reads, and logs its 400 then.
    const cutOff = () =>
      server.output().split("\n").filter((line) =>
        line.includes('"route":"/api/import"') && line.includes('"status":400')
      ).length;
    for (let i = 0; i < 200 && cutOff() < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.equal(cutOff(), 3, server.output());

    server.child.kill("SIGTERM");
    const { code, stdout } = await server.wait();
    assert.equal(code, 0, stdout);
    assert.equal(server.errors(), "");
  } finally {
    await server.kill();
    await Deno.remove(dir, { recursive: true });
  }
});
