/**
 * The bound on work in progress: past PENSIEVE_MAX_IN_FLIGHT requests being served and
 * PENSIEVE_MAX_QUEUED waiting, a request is refused at once (503, Retry-After, the JSON error
 * shape); one not answered within PENSIEVE_REQUEST_TIMEOUT is answered 503 (still waiting) or
 * 504 (being served); searches have a bound of their own. Requests are held inside the real
 * store by a gate, so the tests never depend on how fast anything runs.
 */
import assert from "node:assert/strict";
import type { Store } from "../../db/store.ts";
import type { SqliteStore } from "../../db/sqlite/store.ts";
import { signUp, signUpForMcp, startServer, type TestServer } from "../_helpers/server.ts";

/** Holds every call that passes it until opened, and tells how many have arrived. */
class Gate {
  #opened = false;
  #release: (() => void)[] = [];
  #arrivals: { count: number; resolve: () => void }[] = [];
  entered = 0;

  async pass(): Promise<void> {
    this.entered++;
    for (const wait of this.#arrivals.filter((a) => this.entered >= a.count)) wait.resolve();
    if (!this.#opened) await new Promise<void>((resolve) => this.#release.push(resolve));
  }

  /** Resolves once `count` calls have arrived at the gate. */
  arrived(count: number): Promise<void> {
    if (this.entered >= count) return Promise.resolve();
    return new Promise((resolve) => this.#arrivals.push({ count, resolve }));
  }

  open(): void {
    this.#opened = true;
    for (const release of this.#release.splice(0)) release();
  }
}

/** The store, with `method` held at `gate` once `gate` is armed (sign-up and set-up pass). */
function gated(method: keyof Store, gate: Gate, armed: { on: boolean }) {
  return (store: SqliteStore): Store =>
    new Proxy(store, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (typeof value !== "function") return value;
        if (property !== method) return value.bind(target);
        return async (...args: unknown[]) => {
          if (armed.on) await gate.pass();
          return value.apply(target, args);
        };
      },
    });
}

async function refusal(res: Response): Promise<{ code: string; message: string }> {
  assert.equal(res.headers.get("content-type")?.split(";")[0], "application/json");
  const body = await res.json();
  assert.equal(typeof body.error?.code, "string");
  assert.equal(typeof body.error?.message, "string");
  return body.error;
}

async function withGatedServer(
  method: keyof Store,
  env: Record<string, string>,
  fn: (server: TestServer, gate: Gate, arm: () => void, logs: string[]) => Promise<void>,
): Promise<void> {
  const gate = new Gate();
  const armed = { on: false };
  const logs: string[] = [];
  const server = await startServer({
    env,
    wrapStore: gated(method, gate, armed),
    logSink: (line) => logs.push(line),
  });
  try {
    await fn(server, gate, () => armed.on = true, logs);
  } finally {
    gate.open();
    await server.close();
  }
}

Deno.test("past the in-flight limit and the queue a request is refused at once: 503, Retry-After, JSON; probes still answer; nothing refused is stored", async () => {
  await withGatedServer(
    "listConversations",
    {
      PENSIEVE_MAX_IN_FLIGHT: "2",
      PENSIEVE_MAX_QUEUED: "1",
      PENSIEVE_METRICS_TOKEN: "metrics-token-for-tests",
    },
    async (server, gate, arm, logs) => {
      const { token } = await signUp(server);
      arm();
      const list = () => server.call("/api/conversations", { token });
      const held = [list(), list()];
      await gate.arrived(2);
      // Two more: one waits in the queue, the other is refused; only the refusal can settle now.
      const more = [list(), list()];
      const first = await Promise.race(more);
      assert.equal(first.status, 503);
      assert.equal(first.headers.get("retry-after"), "1");
      assert.equal((await refusal(first)).code, "unavailable");

      // A write refused while full stores nothing.
      const write = await server.call("/api/conversations", {
        method: "POST",
        token,
        json: { title: "refused", messages: [{ role: "user", content: "hello" }] },
      });
      assert.equal(write.status, 503);
      assert.equal(write.headers.get("retry-after"), "1");
      await refusal(write);

      // Refusals are counted, and summed up in the log (one line for this burst).
      const metrics = await server.call("/metrics", { token: "metrics-token-for-tests" });
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /^pensieve_overload_refusals_total 2$/m);
      const summaries = logs.filter((l) => l.includes("overload: requests refused"));
      assert.equal(summaries.length, 1);
      assert.equal(JSON.parse(summaries[0]).level, "warn");

      // Probes are never queued nor refused.
      const health = await server.call("/healthz");
      assert.equal(health.status, 200);
      await health.body?.cancel();
      const ready = await server.call("/readyz");
      assert.equal(ready.status, 200);
      await ready.body?.cancel();

      gate.open();
      const answered = await Promise.all([...held, ...more]);
      const statuses = answered.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 200, 200, 503]);
      for (const res of answered) if (!res.bodyUsed) await res.body?.cancel();
      assert.equal(gate.entered, 3, "the queued request ran once a slot was free");

      const after = await list();
      assert.equal(after.status, 200, "every slot was given back");
      assert.deepEqual((await after.json()).conversations, []);
    },
  );
});

Deno.test("a request not answered in time gets a JSON 504, and its slot goes to the next in line though its handler still runs", async () => {
  await withGatedServer(
    "listConversations",
    { PENSIEVE_MAX_IN_FLIGHT: "1", PENSIEVE_MAX_QUEUED: "2", PENSIEVE_REQUEST_TIMEOUT: "1" },
    async (server, gate, arm) => {
      const { token } = await signUp(server);
      arm();
      const list = () => server.call("/api/conversations", { token });
      const first = list();
      await gate.arrived(1);
      // Both wait behind the first; when its time is up, its slot goes to the next in line, and
      // so on: each reaches the store (and is held there) before it too is answered 504. They are
      // sent 300 ms apart so that each one's time runs out well after the one before it has
      // handed on its slot (sent together, the last could run out of time still in the queue).
      const later = (ms: number) =>
        new Promise((resolve) => setTimeout(resolve, ms)).then(() => list());
      const waiting = [later(300), later(600)];

      const timedOut = await first;
      assert.equal(timedOut.status, 504);
      assert.equal(timedOut.headers.get("retry-after"), "1");
      const error = await refusal(timedOut);
      assert.equal(error.code, "timeout");
      assert.match(error.message, /client_message_id/);
      for (const res of await Promise.all(waiting)) {
        assert.equal(res.status, 504);
        assert.equal((await refusal(res)).code, "timeout");
      }
      assert.equal(gate.entered, 3, "every queued request was let in while the first was held");

      gate.open();
      const after = await list();
      assert.equal(after.status, 200);
      await after.body?.cancel();
    },
  );
});

Deno.test("a client that never finishes its body is answered 504 and does not keep its slot", async () => {
  const server = await startServer({
    env: {
      PENSIEVE_MAX_IN_FLIGHT: "1",
      PENSIEVE_MAX_QUEUED: "0",
      PENSIEVE_REQUEST_TIMEOUT: "1",
    },
  });
  let stalled: ReadableStreamDefaultController<Uint8Array> | undefined;
  try {
    const { token } = await signUp(server);
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
    assert.equal((await refusal(slow)).code, "timeout");

    // Its handler still waits for the rest of the body; the one slot is free all the same.
    const next = await server.call("/api/conversations", { token });
    assert.equal(next.status, 200);
    assert.deepEqual((await next.json()).conversations, []);
  } finally {
    try {
      stalled?.close();
    } catch {
      // already closed by the connection
    }
    await server.close();
  }
});

Deno.test("searches have their own bound: past it a search is refused (REST 503, MCP isError) while other requests are served", async () => {
  await withGatedServer(
    "searchConversations",
    { PENSIEVE_SEARCH_CONCURRENCY: "1", PENSIEVE_SEARCH_QUEUE: "0" },
    async (server, gate, arm) => {
      const { token } = await signUpForMcp(server);
      arm();
      const search = () => server.call("/api/search?q=hello", { token });
      const held = search();
      await gate.arrived(1);

      const refused = await search();
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get("retry-after"), "1");
      assert.equal((await refusal(refused)).code, "unavailable");

      const mcp = await server.call("/mcp", {
        method: "POST",
        token,
        headers: {
          Accept: "application/json, text/event-stream",
          "MCP-Protocol-Version": "2025-11-25",
        },
        json: {
          jsonrpc: "2.0",
          id: 1,
          method: "tools/call",
          params: { name: "search_conversations", arguments: { query: "hello" } },
        },
      });
      assert.equal(mcp.status, 200);
      const text = await mcp.text();
      const json = text.startsWith("{")
        ? JSON.parse(text)
        : JSON.parse(text.split("\n").find((l) => l.startsWith("data:"))!.slice(5));
      assert.equal(json.result.isError, true);
      assert.match(json.result.content[0].text, /unavailable: The server is busy/);

      const other = await server.call("/api/conversations", { token });
      assert.equal(other.status, 200, "other requests are not held back by searches");
      await other.body?.cancel();

      gate.open();
      const answered = await held;
      assert.equal(answered.status, 200);
      await answered.body?.cancel();
      assert.equal((await (await search()).json()).results.length, 0);
    },
  );
});
