/**
 * Files built to hurt the server: nesting, one giant conversation, zip bombs, floods of tiny
 * items, uploads cut off or stalled. Each must end in a summary or a 4xx, with the memory held
 * bounded by one conversation, and what can be imported imported.
 */
import assert from "node:assert/strict";
import { Zip, ZipDeflate } from "fflate";
import { idleLimited } from "../../core/import/idle_upload.ts";
import { signUp, startServer, type TestServer, withServer } from "../_helpers/server.ts";
import { claudeConversation, json } from "./_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const encoder = new TextEncoder();

async function importFile(server: TestServer, token: string, body: Uint8Array) {
  const res = await server.call("/api/import", {
    method: "POST",
    token,
    headers: { "Content-Type": "application/octet-stream" },
    body: new Uint8Array(body),
  });
  return { status: res.status, body: await res.json() };
}

/**
 * A zip holding `conversations.json` made of parts, some repeated many times: deflated as it is
 * made, so not even the test holds the inflated file.
 */
function zipOf(...parts: (string | [string, number])[]): Uint8Array {
  const out: Uint8Array[] = [];
  const zip = new Zip((error, chunk) => {
    if (error) throw error;
    out.push(chunk);
  });
  const file = new ZipDeflate("conversations.json", { level: 1 });
  zip.add(file);
  const batch = 1024 * 1024;
  for (const part of parts) {
    const [text, times] = typeof part === "string" ? [part, 1] : part;
    // Repeated text goes in batches of about a MiB.
    const per = Math.max(1, Math.floor(batch / text.length));
    for (let done = 0; done < times; done += per) {
      file.push(encoder.encode(text.repeat(Math.min(per, times - done))));
    }
  }
  file.push(new Uint8Array(), true);
  zip.end();
  const size = out.reduce((n, c) => n + c.length, 0);
  const joined = new Uint8Array(size);
  let at = 0;
  for (const chunk of out) {
    joined.set(chunk, at);
    at += chunk.length;
  }
  return joined;
}

/** A Claude conversation named `uuid`, as its JSON text. */
function claude(uuid: string): string {
  return JSON.stringify({ ...claudeConversation(), uuid, name: uuid });
}

async function titles(server: TestServer, token: string): Promise<string[]> {
  const list = await (await server.call("/api/conversations?limit=100", { token })).json();
  return list.conversations.map((c: Json) => c.title).sort();
}

Deno.test("import: a conversation nested millions deep is skipped with its reason, never built; the rest is imported", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const depth = 2_000_000;
    // 4 MB of brackets, a few KB zipped: the old reader built two million arrays from it.
    const file = zipOf(`[${claude("before")},`, ["[", depth], ["]", depth], `,${claude("after")}]`);
    const { status, body } = await importFile(server, token, file);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.summary.conversations_created, 2);
    assert.equal(body.summary.skipped.length, 1);
    assert.match(
      body.summary.skipped[0].reason,
      /conversation #2: .*nested deeper than 256 levels/,
    );
    assert.deepEqual(await titles(server, token), ["after", "before"]);
  }));

Deno.test("import: one conversation larger than 64 MiB is skipped with its reason, never held; the rest is imported", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const huge = 65 * 1024 * 1024;
    const head =
      `{"uuid":"huge","name":"huge","chat_messages":[{"uuid":"m","sender":"human","text":"`;
    const file = zipOf(`[${claude("before")},${head}`, ["x", huge], `"}]},${claude("after")}]`);
    const { status, body } = await importFile(server, token, file);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.summary.conversations_created, 2);
    assert.match(body.summary.skipped[0].reason, /conversation #2: .*larger than 64 MiB/);
    assert.deepEqual(await titles(server, token), ["after", "before"]);
  }));

Deno.test("import: a zip bomb (a tiny archive inflating past 100-fold) is refused with a 400", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    // 300 MiB of white space around an empty list, deflated to a few hundred KB.
    const file = zipOf("[", [" ".repeat(1024), 300 * 1024], "]");
    assert.ok(file.length < 1024 * 1024);
    const { status, body } = await importFile(server, token, file);
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error.code, "invalid_request");
    assert.match(body.error.message, /expands more than 100-fold/);
  }));

Deno.test("import: a flood of tiny items is read one at a time and its summary lists the first 1000 skipped, counting all", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const items = 150_000;
    const file = zipOf(`[${claude("real")}`, [",{}", items], "]");
    const { status, body } = await importFile(server, token, file);
    assert.equal(status, 200, JSON.stringify(body).slice(0, 300));
    assert.equal(body.summary.conversations_created, 1);
    assert.equal(body.summary.skipped_count, items);
    assert.equal(body.summary.skipped.length, 1000);
    assert.match(body.summary.skipped[0].reason, /neither a ChatGPT nor a Claude conversation/);
  }));

Deno.test("import: a file that breaks down mid-way keeps what came before and names the conversation it stopped in", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const { status, body } = await importFile(
      server,
      token,
      encoder.encode(`[${claude("whole")},{"uuid": "cut", "chat_mess`),
    );
    assert.equal(status, 400);
    assert.match(body.error.message, /ends in the middle of conversation #2/);
    assert.deepEqual(await titles(server, token), ["whole"]);
    // A broken value between good ones is that conversation's problem only.
    const second = await importFile(
      server,
      token,
      encoder.encode(`[${claude("one")}, {"uuid": "x" "name": 1}, ${claude("two")}]`),
    );
    assert.equal(second.status, 200);
    assert.match(second.body.summary.skipped[0].reason, /conversation #2: .*not valid JSON/);
    assert.deepEqual(await titles(server, token), ["one", "two", "whole"]);
  }));

Deno.test("import: a client that goes away mid-upload is a 400 in the log, raw or multipart, never a 500", async () => {
  const lines: string[] = [];
  const server = await startServer({ logSink: (line) => void lines.push(line) });
  try {
    const { token } = await signUp(server);
    for (const multipart of [false, true]) {
      const abort = new AbortController();
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent === 0 && multipart) {
            controller.enqueue(encoder.encode(
              '--b\r\nContent-Disposition: form-data; name="file"; filename="c.json"\r\n\r\n',
            ));
          }
          if (sent++ < 3) {
            controller.enqueue(encoder.encode(`${sent === 1 ? "[" : ""}${claude(`c${sent}`)},`));
            await new Promise((resolve) => setTimeout(resolve, 30));
          } else abort.abort();
        },
      });
      const response = await fetch(`${server.url}/api/import`, {
        method: "POST",
        body,
        signal: abort.signal,
        headers: {
          Authorization: `Bearer ${token}`,
          "Content-Type": multipart ? "multipart/form-data; boundary=b" : "application/json",
        },
      }).catch((error) => error);
      assert.equal(response.name, "AbortError");
    }
    // The server sees the cut when it next reads; give it a moment.
    for (let i = 0; i < 50 && lines.filter((l) => l.includes('"/api/import"')).length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const imports = lines.filter((l) => l.includes('"route":"/api/import"'));
    assert.equal(imports.length, 2, lines.join("\n"));
    for (const line of imports) assert.equal(JSON.parse(line).status, 400, line);
    assert.ok(!lines.some((l) => l.includes("unhandled error")), lines.join("\n"));
  } finally {
    await server.close();
  }
});

Deno.test("import: an upload that stalls is given up after its idle time, with a clear reason", async () => {
  let pulls = 0;
  const stalled = new ReadableStream<Uint8Array>({
    pull(controller) {
      // One chunk, then nothing ever again.
      if (pulls++ === 0) controller.enqueue(json([]));
      return new Promise(() => {});
    },
  });
  const reader = idleLimited(stalled, 50).getReader();
  assert.deepEqual((await reader.read()).value, json([]));
  await assert.rejects(reader.read(), /the upload stalled/);

  // Time spent by the reader between reads does not count.
  const slowReader = idleLimited(ReadableStream.from([json([]), json([])]), 50).getReader();
  await slowReader.read();
  await new Promise((resolve) => setTimeout(resolve, 120));
  assert.deepEqual((await slowReader.read()).value, json([]));
  assert.equal((await slowReader.read()).done, true);
});
