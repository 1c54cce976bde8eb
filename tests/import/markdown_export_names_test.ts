import assert from "node:assert/strict";
import { unzipSync } from "fflate";
import { signUp, withServer } from "../_helpers/server.ts";

Deno.test("export as Markdown: every conversation gets its own file name, even alike titles whose ids start alike, whatever the case", () =>
  withServer(async (server) => {
    const a = await signUp(server);
    // Ids that share their first eight characters, as two of thousands of "New chat"s may.
    const ids = ["abcdef12-0000-4000-8000-000000000001", "abcdef12-0000-4000-8000-000000000002"];
    const titles = ["New chat", "new chat", "New chat", "../../etc/passwd", "CON", "\n"];
    for (const [i, title] of titles.entries()) {
      await server.store.createConversation(a.userId, {
        id: i < 3 ? ids[0].replace(/1$/, String(i + 1)) : crypto.randomUUID(),
        title,
        tags: [],
        source: "api",
        metadata: {},
        messages: [{ role: "user", content: `message ${i}` }],
        now: 1_700_000_000_000 + i,
      });
    }
    const res = await server.call("/api/export?format=markdown", { token: a.token });
    assert.equal(res.status, 200);
    const files = unzipSync(new Uint8Array(await res.arrayBuffer()));
    const names = Object.keys(files);
    assert.equal(names.length, titles.length, names.join(", "));
    assert.equal(new Set(names.map((n) => n.toLowerCase())).size, titles.length, names.join(", "));
    for (const name of names) {
      assert.match(name, /^[\p{L}\p{N}-]+\.md$/u, "no path, no dot but the extension");
    }
    const contents = names.map((n) => new TextDecoder().decode(files[n]));
    for (let i = 0; i < titles.length; i++) {
      assert.ok(contents.some((c) => c.includes(`message ${i}`)), `conversation ${i} is there`);
    }
    // A title's line break does not end its heading.
    const blank = contents.find((c) => c.includes("message 5"))!;
    assert.match(blank, /^# \n\n- source: api\n/);
  }));
