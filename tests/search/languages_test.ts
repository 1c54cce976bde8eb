import assert from "node:assert/strict";
import { signUp, type TestServer, withServer } from "../_helpers/server.ts";

const CONVERSATIONS = [
  { title: "Korean subject", content: "오늘 대화가 정말 길었어요" },
  { title: "Korean object", content: "어제 나눈 대화를 저장했습니다" },
  { title: "Chinese", content: "我们今天讨论了数据库的设计" },
  { title: "Japanese", content: "私は東京に住んでいます" },
  { title: "French", content: "Nous avons parlé au Café de la Résumé" },
  { title: "English", content: "The Quick Brown Fox jumps over the lazy dog" },
];

async function seed(server: TestServer, token: string): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const c of CONVERSATIONS) {
    const res = await server.call("/api/conversations", {
      method: "POST",
      token,
      json: { title: c.title, messages: [{ role: "user", content: c.content }] },
    });
    assert.equal(res.status, 201);
    ids.set(c.title, (await res.json()).conversation.id);
  }
  return ids;
}

async function titlesFor(server: TestServer, token: string, q: string): Promise<string[]> {
  const res = await server.call(`/api/search?q=${encodeURIComponent(q)}`, { token });
  assert.equal(res.status, 200, q);
  const body = await res.json();
  return body.results.map((r: { conversation: { title: string } }) => r.conversation.title)
    .sort();
}

Deno.test("search finds words across languages through GET /api/search", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    await seed(server, token);
    const cases: [string, string[]][] = [
      ["대화", ["Korean object", "Korean subject"]],
      ["대화가", ["Korean subject"]],
      ["数据库", ["Chinese"]],
      ["讨论", ["Chinese"]],
      ["東京", ["Japanese"]],
      ["住んで", ["Japanese"]],
      ["cafe", ["French"]],
      ["RESUME", ["French"]],
      ["quick brown", ["English"]],
      ['"brown fox"', ["English"]],
      ['"fox brown"', []],
      ["QUICK", ["English"]],
      ["qui", ["English"]],
    ];
    for (const [q, expected] of cases) {
      assert.deepEqual(await titlesFor(server, token, q), expected, `query ${q}`);
    }
  }));

Deno.test("snippets highlight the matched Korean word inside its suffixed form", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    await seed(server, token);
    const res = await server.call(`/api/search?q=${encodeURIComponent("대화")}`, { token });
    const body = await res.json();
    for (const result of body.results) {
      const [[start, end]] = result.highlights;
      assert.equal(result.snippet.slice(start, end), "대화");
      assert.equal(result.role, "user");
      assert.equal(result.seq, 0);
    }
  }));

Deno.test("titles are searched and rank above a single body mention", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const save = (title: string, content: string) =>
      server.call("/api/conversations", {
        method: "POST",
        token,
        json: { title, messages: [{ role: "user", content }] },
      }).then((r) => r.json());
    await save("Notes", "one mention of kubernetes among many other words in a long message");
    await save("Kubernetes upgrade plan", "nothing relevant here");
    const res = await server.call("/api/search?q=kubernetes", { token });
    const body = await res.json();
    assert.equal(body.results.length, 2);
    assert.equal(body.results[0].conversation.title, "Kubernetes upgrade plan");
    assert.equal(body.results[0].seq, null);
  }));

Deno.test("search pages through results with a cursor, each conversation once", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    for (let i = 0; i < 7; i++) {
      const res = await server.call("/api/conversations", {
        method: "POST",
        token,
        json: {
          title: `Conversation ${i}`,
          tags: i % 2 ? ["odd"] : ["even"],
          messages: [
            { role: "user", content: `pagination marker ${i}` },
            { role: "assistant", content: `the pagination reply ${i}` },
          ],
        },
      });
      await res.body?.cancel();
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `/api/search?q=pagination&limit=3${cursor ? `&cursor=${cursor}` : ""}`;
      const body = await (await server.call(query, { token })).json();
      for (const r of body.results) seen.push(r.conversation.id);
      cursor = body.next_cursor;
    } while (cursor);
    assert.equal(seen.length, 7);
    assert.equal(new Set(seen).size, 7);

    const odd = await (await server.call("/api/search?q=pagination&tag=odd", { token })).json();
    assert.equal(odd.results.length, 3);
    const other = await server.call(
      `/api/search?q=other&cursor=${
        (await (await server.call("/api/search?q=pagination&limit=3", { token })).json())
          .next_cursor
      }`,
      { token },
    );
    assert.equal(other.status, 400);
    await other.body?.cancel();
  }));
