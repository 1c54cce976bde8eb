import assert from "node:assert/strict";
import {
  Client,
  SSEClientTransport,
  StreamableHTTPClientTransport,
} from "@modelcontextprotocol/client";
import { callOk, fetchWithToken, type Json } from "../_helpers/mcp_client.ts";
import { consentInBrowser, MemoryOAuthProvider } from "../_helpers/oauth.ts";
import { type ServerProcess, spawnServer } from "../_helpers/process.ts";

/**
 * A load balancer in front of the instances: each request goes to the next instance in turn
 * (bodies stream both ways, so SSE works; a client that goes away cancels the upstream body), unless `sticky` is on and the request carries the
 * affinity cookie it handed out, as Azure Container Apps' sticky sessions do. It records which
 * instance served each request.
 */
class RoundRobinProxy {
  backends: string[] = [];
  sticky = false;
  readonly served: { instance: number; method: string; path: string; session: string | null }[] =
    [];
  #next = 0;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly url: string;

  constructor() {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request, info) => this.#forward(request, info),
    );
    this.url = `http://127.0.0.1:${this.#server.addr.port}`;
  }

  async #forward(request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> {
    const affinity = /(?:^|;\s*)pensieve_affinity=(\d+)/.exec(request.headers.get("Cookie") ?? "");
    const pinned = this.sticky && affinity !== null;
    const instance = pinned ? Number(affinity[1]) : this.#next++ % this.backends.length;
    const incoming = new URL(request.url);
    this.served.push({
      instance,
      method: request.method,
      path: incoming.pathname,
      session: request.headers.get("Mcp-Session-Id"),
    });
    const headers = new Headers(request.headers);
    headers.delete("Host");
    headers.set("Accept-Encoding", "identity");
    const forwardedFor = headers.get("X-Forwarded-For");
    headers.set(
      "X-Forwarded-For",
      forwardedFor ? `${forwardedFor}, ${info.remoteAddr.hostname}` : info.remoteAddr.hostname,
    );
    headers.set("X-Forwarded-Proto", "http");
    const upstream = await fetch(this.backends[instance] + incoming.pathname + incoming.search, {
      method: request.method,
      headers,
      body: request.body,
      redirect: "manual",
    });
    const response = new Response(upstream.body, {
      status: upstream.status,
      statusText: upstream.statusText,
      headers: upstream.headers,
    });
    if (this.sticky && !pinned) {
      response.headers.append("Set-Cookie", `pensieve_affinity=${instance}; Path=/; HttpOnly`);
    }
    return response;
  }

  /** The instances that served the requests recorded since `from`. */
  instancesSince(
    from: number,
    match: (r: RoundRobinProxy["served"][number]) => boolean = () => true,
  ) {
    return new Set(this.served.slice(from).filter(match).map((r) => r.instance));
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
  }
}

const JSON_HEADERS = { "Content-Type": "application/json" };
const MCP_HEADERS = {
  "Content-Type": "application/json",
  Accept: "application/json, text/event-stream",
};

/** The JSON-RPC message of a Streamable HTTP answer, whether JSON or a one-event stream. */
async function rpcResult(response: Response): Promise<Json> {
  const text = await response.text();
  if (response.headers.get("Content-Type")?.startsWith("text/event-stream")) {
    return JSON.parse(/^data: (.*)$/m.exec(text)![1]);
  }
  return JSON.parse(text);
}

/** A fetch with a cookie jar, as a client that keeps the load balancer's affinity cookie. */
function fetchWithCookies(token: string): typeof fetch {
  const jar = new Map<string, string>();
  const withToken = fetchWithToken(token);
  return async (input, init) => {
    const headers = new Headers(init?.headers);
    if (jar.size) headers.set("Cookie", [...jar].map(([k, v]) => `${k}=${v}`).join("; "));
    const response = await withToken(input, { ...init, headers });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(";");
      const at = pair.indexOf("=");
      jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
    return response;
  };
}

Deno.test("two server processes on one SQLite file behind a round-robin proxy", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-two-" });
  const proxy = new RoundRobinProxy();
  const env = {
    PENSIEVE_DB: `sqlite:${dir}/pensieve.db`,
    PENSIEVE_PUBLIC_URL: proxy.url,
    PENSIEVE_JWT_SECRET: "two-instances-share-this-secret-of-43-chars!",
    PENSIEVE_TRUST_PROXY: "true",
    PENSIEVE_SQLITE_SYNCHRONOUS: "NORMAL",
    PENSIEVE_LOGIN_LIMIT_PER_ACCOUNT: "3",
    PENSIEVE_LOGIN_LIMIT_PER_ADDRESS: "100000",
    PENSIEVE_REGISTER_LIMIT_PER_ADDRESS: "100000",
  };
  // Both start at once on a new file, as replicas do.
  const instances: ServerProcess[] = await Promise.all([spawnServer(env), spawnServer(env)]);
  proxy.backends = instances.map((s) => s.url);
  const clients: Client[] = [];
  const call = (path: string, init: RequestInit & { token?: string } = {}) => {
    const headers = new Headers(init.headers);
    if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
    return fetch(proxy.url + path, { ...init, headers });
  };
  const account = { email: "ada@example.com", password: "two instances, one file" };
  let apiToken = "";
  let personalToken = "";

  try {
    await t.step("register, sign in, a personal token: each on the other instance", async () => {
      const from = proxy.served.length;
      const registered = await call("/auth/register", {
        method: "POST",
        headers: JSON_HEADERS,
        body: JSON.stringify(account),
      });
      assert.equal(registered.status, 201);
      await registered.body?.cancel();
      const login = await call("/auth/login", {
        method: "POST",
        headers: JSON_HEADERS,
        body: JSON.stringify(account),
      });
      assert.equal(login.status, 200);
      apiToken = (await login.json()).access_token;
      const me = await call("/auth/me", { token: apiToken });
      assert.equal(me.status, 200);
      assert.equal((await me.json()).user.email, account.email);
      const created = await call("/api/tokens", {
        method: "POST",
        token: apiToken,
        headers: JSON_HEADERS,
        body: JSON.stringify({ name: "two instances" }),
      });
      assert.equal(created.status, 201);
      personalToken = (await created.json()).secret;
      assert.deepEqual(proxy.instancesSince(from), new Set([0, 1]));
    });

    await t.step("save, append (a retry lands elsewhere), load and search", async () => {
      const from = proxy.served.length;
      const saved = await call("/api/conversations", {
        method: "POST",
        token: apiToken,
        headers: JSON_HEADERS,
        body: JSON.stringify({
          title: "Kyoto trip",
          messages: [{ role: "user", content: "plan a trip to kyoto" }],
        }),
      });
      assert.equal(saved.status, 201);
      const id = (await saved.json()).conversation.id;
      const append = () =>
        call(`/api/conversations/${id}/messages`, {
          method: "POST",
          token: personalToken,
          headers: { ...JSON_HEADERS, "Idempotency-Key": "append-once" },
          body: JSON.stringify({ messages: [{ role: "assistant", content: "temples in nara" }] }),
        });
      const first = await append();
      assert.equal(first.status, 201);
      await first.body?.cancel();
      const retried = await append();
      assert.equal(retried.status, 200, "the other instance knows the idempotency key");
      assert.deepEqual((await retried.json()).messages.map((m: Json) => m.duplicate), [true]);
      const loaded = await (await call(`/api/conversations/${id}`, { token: apiToken })).json();
      assert.deepEqual(loaded.messages.map((m: Json) => `${m.seq}:${m.content}`), [
        "0:plan a trip to kyoto",
        "1:temples in nara",
      ]);
      const found = await (await call("/api/search?q=nara", { token: personalToken })).json();
      assert.equal(found.results.length, 1);
      assert.equal(found.results[0].conversation.id, id);
      assert.deepEqual(proxy.instancesSince(from), new Set([0, 1]));
    });

    await t.step("the failed sign-in limit counts attempts on both instances", async () => {
      const victim = { email: "limited@example.com", password: "the right password" };
      const registered = await call("/auth/register", {
        method: "POST",
        headers: JSON_HEADERS,
        body: JSON.stringify(victim),
      });
      assert.equal(registered.status, 201);
      await registered.body?.cancel();
      const from = proxy.served.length;
      const attempt = async (password: string) => {
        const res = await call("/auth/login", {
          method: "POST",
          headers: JSON_HEADERS,
          body: JSON.stringify({ email: victim.email, password }),
        });
        await res.body?.cancel();
        return res;
      };
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await attempt("wrong password")).status);
      assert.deepEqual(statuses, [401, 401, 401]);
      assert.deepEqual(proxy.instancesSince(from), new Set([0, 1]), "both counted attempts");
      const blocked = await attempt(victim.password);
      assert.equal(blocked.status, 429, "even the right password, on either instance");
      assert.ok(Number(blocked.headers.get("Retry-After")) > 0);
      const again = await attempt(victim.password);
      assert.equal(again.status, 429);
      assert.deepEqual(proxy.instancesSince(from), new Set([0, 1]));
    });

    await t.step(
      "OAuth: discovery, registration, consent, token, refresh across instances",
      async () => {
        const from = proxy.served.length;
        const provider = new MemoryOAuthProvider();
        const mcpUrl = new URL(`${proxy.url}/mcp`);
        const first = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
        await assert.rejects(new Client({ name: "two-oauth", version: "1" }).connect(first));
        assert.ok(provider.info?.client_id, "registered");
        const authorizeUrl = provider.authorizationUrl!;
        assert.equal(authorizeUrl.origin, proxy.url);
        const consent = await consentInBrowser(proxy, authorizeUrl, account);
        assert.equal(consent.status, 302, consent.page ?? "");
        const back = new URL(consent.location);
        assert.equal(back.searchParams.get("iss"), proxy.url);
        await first.finishAuth(back.searchParams);
        assert.ok(provider.saved?.refresh_token?.startsWith("psr_"));
        const oauthPaths = (r: { path: string }) =>
          ["/authorize", "/token", "/register"].includes(r.path);
        assert.deepEqual(proxy.instancesSince(from, oauthPaths), new Set([0, 1]));

        const client = new Client({ name: "two-oauth", version: "1" });
        clients.push(client);
        await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }));
        const saved = await callOk(client, "save_conversation", {
          title: "via OAuth",
          messages: [{ role: "user", content: "saved through a connector" }],
        });
        // A stale access token: the refresh is served by whichever instance comes next.
        const oldRefresh = provider.saved!.refresh_token;
        provider.saved = { ...provider.saved!, access_token: "expired.or.garbage" };
        const loaded = await callOk(client, "load_conversation", {
          conversation_id: saved.conversation.id,
        });
        assert.equal(loaded.messages[0].content, "saved through a connector");
        assert.notEqual(provider.saved!.refresh_token, oldRefresh, "rotated");
      },
    );

    for (const mode of ["legacy", "modern"] as const) {
      await t.step(
        `MCP Streamable HTTP (${mode}): the SDK client, requests alternating`,
        async () => {
          const from = proxy.served.length;
          const client = new Client({ name: `two-${mode}`, version: "1" }, {
            versionNegotiation: { mode: mode === "modern" ? "auto" : "legacy" },
          });
          clients.push(client);
          const transport = new StreamableHTTPClientTransport(new URL(`${proxy.url}/mcp`), {
            fetch: fetchWithToken(personalToken),
          });
          await client.connect(transport);
          const saved = await callOk(client, "save_conversation", {
            title: `MCP ${mode}`,
            messages: [{ role: "user", content: `osaka by ${mode}` }],
          });
          const id = saved.conversation.id;
          const appended = await callOk(client, "append_to_conversation", {
            conversation_id: id,
            messages: [{ role: "assistant", content: "castle", client_message_id: "c1" }],
          });
          assert.deepEqual(appended.messages.map((m: Json) => m.seq), [1]);
          const retried = await callOk(client, "append_to_conversation", {
            conversation_id: id,
            messages: [{ role: "assistant", content: "castle", client_message_id: "c1" }],
          });
          assert.deepEqual(retried.messages.map((m: Json) => m.duplicate), [true]);
          const loaded = await callOk(client, "load_conversation", { conversation_id: id });
          assert.deepEqual(loaded.messages.map((m: Json) => m.content), [
            `osaka by ${mode}`,
            "castle",
          ]);
          const found = await callOk(client, "search_conversations", { query: `osaka ${mode}` });
          assert.equal(found.results[0].conversation.id, id);
          assert.deepEqual(proxy.instancesSince(from), new Set([0, 1]));
          if (mode === "legacy") {
            const session = transport.sessionId;
            assert.ok(session, "a 2025-era session");
            assert.deepEqual(
              proxy.instancesSince(from, (r) => r.session === session),
              new Set([0, 1]),
              "one session, served by both instances",
            );
          }
        },
      );
    }

    await t.step(
      "an MCP session started on one instance is honoured, and ended, on the other",
      async () => {
        const [one, two] = instances.map((s) => s.url);
        const auth = { ...MCP_HEADERS, Authorization: `Bearer ${personalToken}` };
        const init = await fetch(`${one}/mcp`, {
          method: "POST",
          headers: auth,
          body: JSON.stringify({
            jsonrpc: "2.0",
            id: 1,
            method: "initialize",
            params: {
              protocolVersion: "2025-11-25",
              capabilities: {},
              clientInfo: { name: "raw", version: "1" },
            },
          }),
        });
        assert.equal(init.status, 200);
        const session = init.headers.get("Mcp-Session-Id")!;
        assert.ok(session);
        assert.equal((await rpcResult(init)).result.protocolVersion, "2025-11-25");
        const inSession = {
          ...auth,
          "Mcp-Session-Id": session,
          "MCP-Protocol-Version": "2025-11-25",
        };
        const initialized = await fetch(`${two}/mcp`, {
          method: "POST",
          headers: inSession,
          body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
        });
        assert.equal(initialized.status, 202);
        await initialized.body?.cancel();
        const listed = await fetch(`${two}/mcp`, {
          method: "POST",
          headers: inSession,
          body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
        });
        assert.equal(listed.status, 200);
        const tools = (await rpcResult(listed)).result.tools.map((tool: Json) => tool.name);
        assert.ok(tools.includes("save_conversation"));
        const ended = await fetch(`${two}/mcp`, { method: "DELETE", headers: inSession });
        assert.ok(ended.status === 200 || ended.status === 204, String(ended.status));
        await ended.body?.cancel();
        const after = await fetch(`${one}/mcp`, {
          method: "POST",
          headers: inSession,
          body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/list" }),
        });
        assert.equal(after.status, 404, "ended everywhere");
        await after.body?.cancel();
      },
    );

    await t.step(
      "legacy SSE: works with affinity; without it, the other instance says 404",
      async () => {
        // With the load balancer's affinity cookie kept, every request of the session sticks.
        proxy.sticky = true;
        const from = proxy.served.length;
        const client = new Client({ name: "two-sse", version: "1" });
        clients.push(client);
        await client.connect(
          new SSEClientTransport(new URL(`${proxy.url}/sse`), {
            fetch: fetchWithCookies(personalToken),
          }),
        );
        const saved = await callOk(client, "save_conversation", {
          messages: [{ role: "user", content: "over SSE, pinned" }],
        });
        const loaded = await callOk(client, "load_conversation", {
          conversation_id: saved.conversation.id,
        });
        assert.equal(loaded.messages[0].content, "over SSE, pinned");
        assert.equal(proxy.instancesSince(from).size, 1, "one instance served the whole session");
        await client.close();
        proxy.sticky = false;

        // Without affinity, the stream's POST reaches the instance that does not hold it.
        const streamAt = proxy.served.length;
        const stream = await call("/sse", {
          token: personalToken,
          headers: { Accept: "text/event-stream" },
        });
        assert.equal(stream.status, 200);
        const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
        let text = "";
        while (!/event: endpoint\ndata: (.*)\n\n/.test(text)) {
          const { value, done } = await reader.read();
          if (done) break;
          text += value;
        }
        const endpoint = /event: endpoint\ndata: (.*)\n\n/.exec(text)![1];
        const posted = await call(endpoint, {
          method: "POST",
          token: personalToken,
          headers: JSON_HEADERS,
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
        });
        const [getAt, postAt] = proxy.served.slice(streamAt).map((r) => r.instance);
        assert.notEqual(getAt, postAt, "the POST went to the other instance");
        assert.equal(posted.status, 404);
        const body = await posted.json();
        assert.match(body.error.message, /held by another server instance.*session affinity/);
        // The instance holding the stream takes the same POST.
        const direct = await fetch(instances[getAt].url + endpoint, {
          method: "POST",
          headers: { ...JSON_HEADERS, Authorization: `Bearer ${personalToken}` },
          body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" }),
        });
        assert.equal(direct.status, 202);
        await direct.body?.cancel();
        await reader.cancel();
      },
    );

    await t.step("both instances are up and ready on the one file", async () => {
      for (const instance of instances) {
        const ready = await fetch(`${instance.url}/readyz`);
        assert.deepEqual(await ready.json(), { status: "ready", store: "sqlite" });
      }
    });
  } finally {
    for (const client of clients) await client.close().catch(() => {});
    for (const instance of instances) instance.child.kill("SIGTERM");
    const exits = await Promise.all(instances.map((s) => s.wait()));
    await proxy.close();
    await Deno.remove(dir, { recursive: true });
    for (const exit of exits) assert.equal(exit.code, 0, exit.stdout);
  }
});
