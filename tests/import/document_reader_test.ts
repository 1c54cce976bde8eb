import assert from "node:assert/strict";
import { Invalid } from "../../core/errors.ts";
import { readDocuments, UnreadableDocument } from "../../core/import/document_reader.ts";
import { mongodumpFile } from "./_legacy_fixtures.ts";

/** The bytes as a stream of small chunks, so documents straddle chunk edges. */
function chunked(bytes: Uint8Array, size = 7): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at += size));
    },
  });
}

async function read(bytes: Uint8Array | string): Promise<unknown[]> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const out: unknown[] = [];
  for await (const doc of readDocuments(chunked(data), "dump")) out.push(doc);
  return out;
}

Deno.test("readDocuments: JSON lines, a JSON list, one object and a BSON dump give the same documents", async () => {
  const docs = [{ _id: "a", n: 1 }, { _id: "b", text: "둘" }];
  assert.deepEqual(await read(docs.map((d) => JSON.stringify(d)).join("\n") + "\n"), docs);
  assert.deepEqual(await read(JSON.stringify(docs, null, 2)), docs);
  assert.deepEqual(await read(JSON.stringify(docs[0], null, 2)), [docs[0]]);
  assert.deepEqual(await read(mongodumpFile(docs)), docs);
  assert.deepEqual(await read(""), []);
});

Deno.test("readDocuments: a damaged file is a clear Invalid, naming the file", async () => {
  const dump = mongodumpFile([{ _id: "a" }, { _id: "b" }]);
  await assert.rejects(read(dump.slice(0, dump.length - 3)), (e) => {
    assert.ok(e instanceof Invalid);
    assert.match(e.message, /^dump: the BSON dump ends in the middle of a document/);
    return true;
  });
  await assert.rejects(read('[{"_id": 1},'), Invalid);
  await assert.rejects(read('{"_id": 1} {"_id": 2'), /ends in the middle of document #2/);
  // A line that is not JSON is reported in its place; the lines after it still come.
  const [one, nonsense, two] = await read('{"_id": 1}\nnonsense\n{"_id": 2}\n');
  assert.deepEqual([one, two], [{ _id: 1 }, { _id: 2 }]);
  assert.ok(nonsense instanceof UnreadableDocument);
  assert.match(nonsense.reason, /^document #2 is not valid JSON/);
  await assert.rejects(read(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])), /neither JSON nor a BSON/);
});
