/**
 * The cases the fuzzers found (tests/api/hostile_input_test.ts, valid_input_test.ts and
 * tests/mcp/hostile_input_test.ts), pinned as plain examples.
 */
import assert from "node:assert/strict";
import { callTool, connectMcp } from "../_helpers/mcp_client.ts";
import { signUp, signUpForMcp, withServer } from "../_helpers/server.ts";

// JSON.parse makes "__proto__" an own key; a body written by hand keeps it.
const PROTO_METADATA = '{"__proto__":{"admin":true},"kept":1}';

Deno.test("metadata with a __proto__ key is refused, not stored without it", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const send = (method: string, path: string, body: string) =>
      fetch(server.url + path, {
        method,
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body,
      });
    const saved = await send("POST", "/api/conversations", `{"metadata":${PROTO_METADATA}}`);
    assert.equal(saved.status, 400);
    assert.match((await saved.json()).error.message, /metadata: must not have a "__proto__" key/);

    const id = (await (await server.call("/api/conversations", {
      method: "POST",
      token,
      json: { metadata: { kept: 0 } },
    })).json()).conversation.id;
    const patched = await send(
      "PATCH",
      `/api/conversations/${id}`,
      `{"metadata":${PROTO_METADATA}}`,
    );
    assert.equal(patched.status, 400);
    await patched.body?.cancel();
    const appended = await send(
      "POST",
      `/api/conversations/${id}/messages`,
      `{"messages":[{"role":"user","content":"x","metadata":${PROTO_METADATA}}]}`,
    );
    assert.equal(appended.status, 400);
    await appended.body?.cancel();

    // Deeper down it is an ordinary key, kept as sent.
    const nested = await send(
      "PATCH",
      `/api/conversations/${id}`,
      `{"metadata":{"a":${PROTO_METADATA}}}`,
    );
    assert.equal(nested.status, 200);
    const text = await (await server.call(`/api/conversations/${id}`, { token })).text();
    assert.ok(text.includes(`"metadata":{"a":${PROTO_METADATA}}`), text);
  }));

Deno.test("mcp: metadata with a __proto__ key is a tool error, not stored without it", () =>
  withServer(async (server) => {
    const { token, accessToken } = await signUpForMcp(server);
    const client = await connectMcp(server, { mode: "modern", token });
    try {
      const result = await callTool(client, "save_conversation", {
        messages: [{ role: "user", content: "x" }],
        metadata: JSON.parse(PROTO_METADATA),
      });
      assert.equal(result.isError, true);
      const listed = await (await server.call("/api/conversations", { token: accessToken }))
        .json();
      assert.equal(listed.conversations.length, 0);
    } finally {
      await client.close();
    }
  }));

Deno.test("an import with times out of range or with fractions of a millisecond is stored, never a 500", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const upload = [
      // The original Pensieve's documents carry epoch milliseconds; these ones are broken.
      {
        _id: "legacy-1",
        messages: [{ role: "user", content: "far future", timestamp: 1e300 }],
        created_at: 1.5,
        updated_at: -1e300,
      },
      {
        _id: "legacy-2",
        messages: [{ role: "user", content: "long number", timestamp: { $numberLong: "x" } }],
        created_at: { $date: 7.2e-96 },
      },
      // ChatGPT's are seconds.
      {
        id: "chatgpt-1",
        title: "seconds",
        create_time: 1e300,
        update_time: 1700000000.1234567,
        mapping: {
          a: {
            id: "a",
            parent: null,
            children: [],
            message: {
              id: "m",
              author: { role: "user" },
              create_time: 1e300,
              content: { content_type: "text", parts: ["hello"] },
            },
          },
        },
        current_node: "a",
      },
    ];
    for (const path of ["/api/import", "job"]) {
      let url = path;
      if (path === "job") {
        const job = await (await server.call("/api/import/jobs", { method: "POST", token })).json();
        url = `/api/import/jobs/${job.job.id}`;
      }
      const response = await server.call(url, {
        method: path === "job" ? "PUT" : "POST",
        token,
        json: upload,
      });
      const body = await response.json();
      assert.equal(response.status, 200, JSON.stringify(body));
      const summary = body.summary ?? body.job.summary;
      assert.equal(summary.skipped.length, 0, JSON.stringify(summary));
    }
    const { conversations } = await (await server.call("/api/conversations", { token })).json();
    assert.equal(conversations.length, 3);
    for (const c of conversations) {
      assert.ok(Number.isFinite(Date.parse(c.created_at)), c.created_at);
      const loaded = await (await server.call(`/api/conversations/${c.id}`, { token })).json();
      for (const m of loaded.messages) assert.ok(Number.isFinite(Date.parse(m.created_at)));
    }
  }));

Deno.test("an import job whose upload is refused answers in the one error shape, with the job", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const { job } = await (await server.call("/api/import/jobs", { method: "POST", token })).json();
    const response = await server.call(`/api/import/jobs/${job.id}`, {
      method: "PUT",
      token,
      body: "not an export",
    });
    assert.equal(response.status, 400);
    const body = await response.json();
    assert.equal(body.error.code, "invalid_request");
    assert.equal(typeof body.error.message, "string");
    assert.equal(body.error.message, body.job.error);
    assert.equal(body.job.status, "failed");
  }));

Deno.test("a new password with unpaired surrogates is refused: each would be hashed as U+FFFD", () =>
  withServer(async (server) => {
    const register = await server.call("/auth/register", {
      method: "POST",
      json: { email: "surrogates@example.com", password: "\ud800".repeat(10) },
    });
    assert.equal(register.status, 400);
    assert.match((await register.json()).error.message, /unpaired surrogates/);
    // Had it been taken, another such password (or ten U+FFFD) would have signed in.
    const login = await server.call("/auth/login", {
      method: "POST",
      json: { email: "surrogates@example.com", password: "\udfff".repeat(10) },
    });
    assert.equal(login.status, 401);
    await login.body?.cancel();

    const { token, password } = await signUp(server);
    const change = await server.call("/auth/password", {
      method: "POST",
      token,
      json: { current_password: password, new_password: `${"\udc00".repeat(8)}abc` },
    });
    assert.equal(change.status, 400);
    await change.body?.cancel();
  }));

Deno.test("a time that is past 9999 or before 0000 in UTC is refused: no ISO time could show it", () =>
  withServer(async (server) => {
    const { token, accessToken } = await signUpForMcp(server);
    for (const created_at of ["9999-12-31T23:59:58.987-11:00", "0000-01-01T00:00:00+01:00"]) {
      const saved = await server.call("/api/conversations", {
        method: "POST",
        token: accessToken,
        json: { messages: [{ role: "user", content: "when?", created_at }] },
      });
      assert.equal(saved.status, 400, created_at);
      assert.match((await saved.json()).error.message, /years 0000 to 9999/);
      const listed = await server.call(
        `/api/conversations?updated_from=${encodeURIComponent(created_at)}`,
        {
          token: accessToken,
        },
      );
      assert.equal(listed.status, 400);
      await listed.body?.cancel();
    }
    // At the edges it is taken, and every client reads it back (MCP checks its output schema).
    const client = await connectMcp(server, { mode: "modern", token });
    try {
      const saved = await callTool(client, "save_conversation", {
        messages: [
          { role: "user", content: "first", created_at: "0000-01-01T00:00:00Z" },
          { role: "user", content: "last", created_at: "9999-12-31T23:59:59.999Z" },
        ],
      });
      assert.equal(saved.isError, undefined, JSON.stringify(saved.content));
      const id = (saved.structuredContent as { conversation: { id: string } }).conversation.id;
      const loaded = await callTool(client, "load_conversation", { conversation_id: id });
      assert.equal(loaded.isError, undefined, JSON.stringify(loaded.content));
      const times = (loaded.structuredContent as { messages: { created_at: string }[] }).messages
        .map((m) => m.created_at);
      assert.deepEqual(times, ["0000-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"]);
    } finally {
      await client.close();
    }
  }));

Deno.test("an imported time past 9999 is left out, so every conversation still lists over MCP", () =>
  withServer(async (server) => {
    const { token, accessToken } = await signUpForMcp(server);
    const imported = await server.call("/api/import", {
      method: "POST",
      token: accessToken,
      json: [{
        _id: "legacy-far",
        messages: [{ role: "user", content: "far", timestamp: "+275760-09-13T00:00:00Z" }],
        created_at: "-000001-01-01T00:00:00Z",
        updated_at: "+275760-09-13T00:00:00Z",
      }],
    });
    assert.equal(imported.status, 200);
    assert.equal((await imported.json()).summary.conversations_created, 1);
    const client = await connectMcp(server, { mode: "modern", token });
    try {
      const listed = await callTool(client, "list_conversations", {});
      assert.equal(listed.isError, undefined, JSON.stringify(listed.content));
      const [conversation] = (listed.structuredContent as { conversations: { id: string }[] })
        .conversations;
      const loaded = await callTool(client, "load_conversation", {
        conversation_id: conversation.id,
      });
      assert.equal(loaded.isError, undefined, JSON.stringify(loaded.content));
    } finally {
      await client.close();
    }
  }));

Deno.test("an import whose values trip a reader (toString not a function) is read around or skipped, never a 500", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const odd = { toString: null, valueOf: null };
    const response = await server.call("/api/import", {
      method: "POST",
      token,
      json: [
        {
          id: "chatgpt-odd",
          title: "odd part",
          mapping: {
            a: {
              id: "a",
              parent: null,
              children: [],
              message: {
                id: "m",
                author: { role: "user" },
                content: { content_type: "multimodal_text", parts: [{ content_type: odd }] },
              },
            },
          },
          current_node: "a",
        },
        {
          uuid: odd,
          name: "odd claude",
          chat_messages: [{ uuid: odd, sender: "human", text: "x" }],
        },
        { uuid: "fine", name: "fine", chat_messages: [{ sender: "human", text: "kept" }] },
      ],
    });
    const body = await response.json();
    assert.equal(response.status, 200, JSON.stringify(body));
    // The ChatGPT one keeps its readable part; the Claude one without a usable id is skipped.
    assert.equal(body.summary.conversations_created, 2, JSON.stringify(body.summary));
    assert.deepEqual(body.summary.skipped.map((s: { reason: string }) => s.reason), [
      "conversation #2: uuid: is missing",
    ]);
  }));
