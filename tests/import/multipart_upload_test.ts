import assert from "node:assert/strict";
import { zipSync } from "fflate";
import { signUp, type TestServer, withServer } from "../_helpers/server.ts";
import { chatgptBranched, chatgptOddParts, claudeConversation, json } from "./_fixtures.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const encoder = new TextEncoder();

/** A form with the given parts, as `fetch` (and so a browser or curl -F) would send it. */
function form(...parts: [field: string, value: string | Uint8Array, filename?: string][]) {
  const data = new FormData();
  for (const [field, value, filename] of parts) {
    if (typeof value === "string") data.append(field, value);
    else data.append(field, new Blob([new Uint8Array(value)]), filename);
  }
  return data;
}

async function upload(server: TestServer, token: string, body: BodyInit, headers?: HeadersInit) {
  const res = await server.call("/api/import", { method: "POST", token, body, headers });
  return { status: res.status, body: await res.json() };
}

async function conversationsOf(server: TestServer, token: string): Promise<Json[]> {
  const res = await server.call("/api/conversations", { token });
  return (await res.json()).conversations;
}

/** An account's export without what differs between accounts: ids and the edit counter. */
async function comparableExport(server: TestServer, token: string) {
  const doc = await (await server.call("/api/export", { token })).json();
  return doc.conversations.map(({ id: _id, version: _v, ...rest }: Json) => rest)
    .sort((a: Json, b: Json) => a.title.localeCompare(b.title));
}

/** A multipart body sent in pieces, without a Content-Length, so only the stream limit sees it. */
function chunked(...pieces: (string | Uint8Array)[]) {
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = pieces.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(typeof next === "string" ? encoder.encode(next) : next);
    },
  });
}

Deno.test("multipart import: a file part imports exactly what the raw body does", () =>
  withServer(async (server) => {
    const file = json([chatgptBranched(), chatgptOddParts(), claudeConversation()]);
    const raw = await signUp(server);
    const viaRaw = await upload(server, raw.token, new Uint8Array(file));
    assert.equal(viaRaw.status, 200, JSON.stringify(viaRaw.body));

    const multi = await signUp(server);
    const viaForm = await upload(
      server,
      multi.token,
      form(["note", "a field before the file is skipped"], ["file", file, "conversations.json"]),
    );
    assert.equal(viaForm.status, 200, JSON.stringify(viaForm.body));
    assert.deepEqual(viaForm.body.summary, viaRaw.body.summary);
    assert.equal(viaForm.body.summary.conversations_created, 3);
    assert.deepEqual(
      await comparableExport(server, multi.token),
      await comparableExport(server, raw.token),
    );

    // A zip under any field name; again adds nothing.
    const zipped = await signUp(server);
    const zip = zipSync({ "conversations.json": file, "user.json": json({}) });
    const first = await upload(server, zipped.token, form(["export", zip, "export.zip"]));
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.summary.conversations_created, 3);
    const again = await upload(server, zipped.token, form(["export", zip, "export.zip"]));
    assert.equal(again.body.summary.conversations_unchanged, 3);
    assert.equal(again.body.summary.conversations_created, 0);
  }));

Deno.test("multipart import: the part's filename names the file in error messages", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const res = await upload(
      server,
      token,
      form(["file", encoder.encode('{"not": "a list"}'), "mine.json"]),
    );
    assert.equal(res.status, 400);
    assert.match(res.body.error.message, /^mine\.json: expected a list of conversations/);
  }));

Deno.test("multipart import: a job takes the file as a form too", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const created = await server.call("/api/import/jobs", { method: "POST", token });
    const { job } = await created.json();
    const put = await server.call(`/api/import/jobs/${job.id}`, {
      method: "PUT",
      token,
      body: form(["file", json([chatgptBranched(), claudeConversation()]), "conversations.json"]),
    });
    const done = (await put.json()).job;
    assert.equal(put.status, 200, JSON.stringify(done));
    assert.equal(done.status, "done");
    assert.equal(done.summary.conversations_created, 2);
    const read = await (await server.call(`/api/import/jobs/${job.id}`, { token })).json();
    assert.equal(read.job.status, "done");

    // A form without a file leaves a fresh job waiting, to be sent the file again.
    const fresh =
      (await (await server.call("/api/import/jobs", { method: "POST", token })).json()).job;
    const empty = await server.call(`/api/import/jobs/${fresh.id}`, {
      method: "PUT",
      token,
      body: form(["note", "no file here"]),
    });
    assert.equal(empty.status, 400);
    assert.match((await empty.json()).error.message, /no file/);
    const still = await (await server.call(`/api/import/jobs/${fresh.id}`, { token })).json();
    assert.equal(still.job.status, "waiting");
  }));

Deno.test("multipart import: no file, two files or a broken form is a 400 and nothing is stored", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const file = json([chatgptBranched()]);
    const cases: [string, BodyInit, HeadersInit | undefined, RegExp][] = [
      ["no file", form(["note", "just a field"]), undefined, /no file/],
      [
        "two files",
        form(["file", file, "a.json"], ["file", json([claudeConversation()]), "b.json"]),
        undefined,
        /more than one file/,
      ],
      [
        "a boundary the body never uses",
        `--other\r\nContent-Disposition: form-data; name="file"; filename="a.json"\r\n\r\n` +
        `${new TextDecoder().decode(file)}\r\n--other--\r\n`,
        { "Content-Type": "multipart/form-data; boundary=garbage" },
        /malformed/,
      ],
      [
        "no closing boundary",
        `--b\r\nContent-Disposition: form-data; name="file"; filename="a.json"\r\n\r\n` +
        new TextDecoder().decode(file),
        { "Content-Type": "multipart/form-data; boundary=b" },
        /malformed.*Unexpected end of form/,
      ],
      [
        "a broken part header",
        `--b\r\nContent-Disposition form-data\r\n\r\n[]\r\n--b--\r\n`,
        { "Content-Type": "multipart/form-data; boundary=b" },
        /malformed/,
      ],
      ["no boundary", "[]", { "Content-Type": "multipart/form-data" }, /boundary/],
      ["not form-data", "[]", { "Content-Type": "multipart/mixed; boundary=b" }, /form-data/],
      ["an empty body", "", { "Content-Type": "multipart/form-data; boundary=b" }, /./],
    ];
    for (const [what, body, headers, message] of cases) {
      const res = await upload(server, token, body, headers);
      assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, "invalid_request", what);
      assert.match(res.body.error.message, message, what);
    }
    assert.deepEqual(await conversationsOf(server, token), []);

    // The raw body still works after all that.
    const raw = await upload(server, token, new Uint8Array(file));
    assert.equal(raw.status, 200);
    assert.equal((await conversationsOf(server, token)).length, 1);
  }));

Deno.test("multipart import: a form over the import limit is a 413, declared or streamed", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const big = json(Array.from({ length: 30 }, (_, i) => ({ ...chatgptBranched(), id: `b${i}` })));
    assert.ok(big.length > 4096);
    const declared = await upload(server, token, form(["file", big, "big.json"]));
    assert.equal(declared.status, 413, JSON.stringify(declared.body));
    assert.equal(declared.body.error.code, "too_large");

    const head = (filename: string) =>
      `--b\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n` +
      `Content-Type: application/json\r\n\r\n`;
    const headers = { "Content-Type": "multipart/form-data; boundary=b" };
    // Past the limit before the file begins (a large field first) …
    const field = `--b\r\nContent-Disposition: form-data; name="note"\r\n\r\n${
      "x".repeat(5000)
    }\r\n`;
    const early = await upload(
      server,
      token,
      chunked(field.slice(0, 3000), field.slice(3000), head("big.json"), big, "\r\n--b--\r\n"),
      headers,
    );
    assert.equal(early.status, 413, JSON.stringify(early.body));
    // … and inside the file, before its first conversation is whole.
    const late = await upload(
      server,
      token,
      chunked(head("big.json"), big.slice(0, 200), big.slice(200), "\r\n--b--\r\n"),
      headers,
    );
    assert.equal(late.status, 413, JSON.stringify(late.body));
    assert.equal(late.body.error.code, "too_large");
    assert.deepEqual(await conversationsOf(server, token), []);

    // Within the limit, the same streamed form imports.
    const small = json([chatgptBranched()]);
    const ok = await upload(
      server,
      token,
      chunked(head("small.json"), small.slice(0, 100), small.slice(100), "\r\n--b--\r\n"),
      headers,
    );
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.summary.conversations_created, 1);
  }, { env: { PENSIEVE_MAX_IMPORT_BYTES: "4096" } }));

Deno.test("multipart import: the file streams in: conversations are stored while the form is still arriving", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const job = (await (await server.call("/api/import/jobs", { method: "POST", token })).json())
      .job;
    // Over a MiB of conversations, then the form waits until the test has seen progress.
    const many = Array.from({ length: 1200 }, (_, i) => ({ ...chatgptOddParts(), id: `m${i}` }));
    const text = JSON.stringify(many);
    const cut = text.indexOf(',{"id":"m1100",');
    assert.ok(cut > 1024 * 1024 + 100_000, "the first piece is past the multipart lookahead");
    // Resolved once the test has looked for progress, found or not, so a buffering server fails
    // the test rather than hanging it.
    let seen!: () => void;
    const progressSeen = new Promise<void>((resolve) => (seen = resolve));
    const pieces: (() => Promise<string>)[] = [
      () =>
        Promise.resolve(
          `--b\r\nContent-Disposition: form-data; name="file"; filename="many.json"\r\n\r\n` +
            text.slice(0, cut),
        ),
      async () => {
        await progressSeen;
        return `${text.slice(cut)}\r\n--b--\r\n`;
      },
    ];
    const put = server.call(`/api/import/jobs/${job.id}`, {
      method: "PUT",
      token,
      headers: { "Content-Type": "multipart/form-data; boundary=b" },
      body: new ReadableStream<Uint8Array>({
        async pull(controller) {
          const next = pieces.shift();
          if (next) controller.enqueue(encoder.encode(await next()));
          else controller.close();
        },
      }),
    });
    let during = 0;
    try {
      for (let i = 0; i < 30 && during === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const now = await (await server.call(`/api/import/jobs/${job.id}`, { token })).json();
        if (now.job.status === "running") during = now.job.summary.conversations_created;
      }
    } finally {
      seen();
    }
    assert.ok(during > 0 && during < 1200, `stored while the form was arriving: ${during}`);
    const done = await put;
    const final = (await done.json()).job;
    assert.equal(done.status, 200, JSON.stringify(final));
    assert.equal(final.summary.conversations_created, 1200);
  }));
