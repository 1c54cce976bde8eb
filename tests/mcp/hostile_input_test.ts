/**
 * Property-based tests of every MCP tool with fast-check, through the SDK's real client over each
 * transport: arguments generated from the tools' own zod input schemas, valid and mutated. A
 * refused call is a tool result with isError (or a JSON-RPC error for a malformed request), never
 * an internal error, and changes nothing stored; a valid one succeeds, or fails only as the state
 * says (an unknown id), with output the client validates against the tool's output schema. Raw
 * JSON-RPC garbage at the MCP endpoints never gets a 5xx.
 *
 * PENSIEVE_FUZZ_RUNS scales the number of runs; PENSIEVE_FUZZ_SEED replays a failure's seed.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { z } from "zod";
import { type Client, ProtocolError } from "@modelcontextprotocol/client";
import {
  apiTokenInput,
  appendInput,
  connectorFetchInput,
  connectorSearchInput,
  credentialsInput,
  deleteInput,
  listInput,
  loadInput,
  saveInput,
  searchInput,
} from "../../mcp/schemas.ts";
import {
  accepts,
  BAD_CURSORS,
  BAD_IDS,
  brokenJson,
  emailAddress,
  invalidInput,
  jsonText,
  jsonValue,
  validInput,
} from "../_helpers/arbitraries.ts";
import { callTool, connectMcp, MCP_MODES, type McpMode } from "../_helpers/mcp_client.ts";
import { signUpForMcp, type TestServer, withServer } from "../_helpers/server.ts";

const SCALE = Number(Deno.env.get("PENSIEVE_FUZZ_RUNS") ?? 1);
const SEED = Deno.env.get("PENSIEVE_FUZZ_SEED");
const params = (numRuns: number): fc.Parameters<unknown> => ({
  numRuns: Math.max(1, Math.round(numRuns * SCALE)),
  ...(SEED ? { seed: Number(SEED) } : {}),
  endOnFailure: true,
});

/** The tools at /mcp, each with the schema it validates its arguments with. */
const TOOLS: Record<string, z.ZodType> = {
  save_conversation: saveInput,
  load_conversation: loadInput,
  append_to_conversation: appendInput,
  list_conversations: listInput,
  search_conversations: searchInput,
  delete_conversation: deleteInput,
  search: connectorSearchInput,
  fetch: connectorFetchInput,
};

/** The sign-in tools, at /open only. */
const OPEN_TOOLS: Record<string, z.ZodType> = {
  mcp_register: credentialsInput,
  mcp_login: credentialsInput,
  set_api_token: apiTokenInput,
};

const SERVER_ENV = {
  env: { PENSIEVE_MCP_CALLS_PER_MINUTE: "1000000", PENSIEVE_MCP_SESSIONS_PER_MINUTE: "100000" },
};

type Outcome =
  | { kind: "result"; isError: boolean; text: string; structured: unknown }
  | { kind: "protocol"; code: number; message: string };

/** The call's outcome, whichever way it came back. */
async function outcome(client: Client, name: string, args: unknown): Promise<Outcome> {
  try {
    const result = await callTool(client, name, args as Record<string, unknown>);
    const text = result.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
    return {
      kind: "result",
      isError: result.isError === true,
      text,
      structured: result.structuredContent,
    };
  } catch (error) {
    if (error instanceof ProtocolError) {
      return { kind: "protocol", code: error.code, message: error.message };
    }
    throw error;
  }
}

/** Nothing from inside the server: no internal error, no stack trace. */
function assertNotInternal(result: Outcome, label: string): void {
  const said = result.kind === "result" ? result.text : result.message;
  assert.doesNotMatch(said, /internal_error|\bat .*\.ts:\d+/, `${label}: ${said.slice(0, 300)}`);
  if (result.kind === "protocol") {
    assert.notEqual(result.code, -32603, `${label}: an internal JSON-RPC error: ${said}`);
  }
}

/** Arguments as the client sends them: the JSON text of the generated value, parsed. */
function asArguments(value: unknown): unknown {
  return JSON.parse(jsonText(value));
}

/**
 * Arguments as a tool receives them: the SDK reads `arguments` as a record, which leaves out a
 * `__proto__` key at its top (harmless: an unknown key, not data), so such a key goes unnoticed.
 */
function asDelivered(args: unknown): unknown {
  if (typeof args !== "object" || args === null || Array.isArray(args)) return args;
  return Object.fromEntries(Object.entries(args).filter(([key]) => key !== "__proto__"));
}

/** Whether the SDK's client can serialise these arguments (100k-deep nesting it cannot). */
function sendable(args: unknown): boolean {
  try {
    JSON.stringify(args);
    return true;
  } catch {
    return false;
  }
}

async function exportOf(server: TestServer, token: string): Promise<string> {
  const response = await server.call("/api/export", { token });
  assert.equal(response.status, 200);
  const exported = await response.json();
  delete exported.exported_at;
  return JSON.stringify(exported);
}

async function withClients(
  fn: (
    server: TestServer,
    clients: Record<McpMode, Client>,
    user: { token: string; accessToken: string },
  ) => Promise<void>,
): Promise<void> {
  await withServer(async (server) => {
    const user = await signUpForMcp(server);
    const clients = {} as Record<McpMode, Client>;
    try {
      for (const mode of MCP_MODES) {
        clients[mode] = await connectMcp(server, { mode, token: user.token });
        // The client validates structured output against the schemas it has listed.
        await clients[mode].listTools();
      }
      await fn(server, clients, user);
    } finally {
      for (const client of Object.values(clients)) await client.close();
    }
  }, SERVER_ENV);
}

Deno.test("mcp hostile input: the fuzzed tools are every tool the server lists", () =>
  withClients(async (server, clients) => {
    for (const mode of MCP_MODES) {
      const { tools } = await clients[mode].listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), Object.keys(TOOLS).sort(), mode);
    }
    const open = await connectMcp(server, { mode: "legacy", open: true });
    try {
      const { tools } = await open.listTools();
      assert.deepEqual(
        tools.map((t) => t.name).sort(),
        [...Object.keys(TOOLS), ...Object.keys(OPEN_TOOLS)].sort(),
      );
    } finally {
      await open.close();
    }
  }));

Deno.test("mcp hostile input: every tool refuses bad arguments as a tool error and stores nothing", () =>
  withClients(async (server, clients, user) => {
    const keep = async () => {
      const saved = await server.call("/api/conversations", {
        method: "POST",
        token: user.accessToken,
        json: { title: "Keep me", messages: [{ role: "user", content: "original words" }] },
      });
      return (await saved.json()).conversation.id as string;
    };
    let keptId = await keep();
    let before = await exportOf(server, user.accessToken);
    const someId = fc.oneof(fc.constant(0).map(() => keptId), BAD_IDS);
    for (const [name, schema] of Object.entries(TOOLS)) {
      const valid = validInput(schema, { conversation_id: someId, id: someId });
      // [arguments, whether the tool must refuse them]
      const bad: fc.Arbitrary<[unknown, boolean]> = fc.oneof(
        {
          weight: 4,
          arbitrary: invalidInput(schema, valid).map((v): [unknown, boolean] => {
            const args = asArguments(v);
            // Too deep for the client to send: skipped below.
            if (!sendable(args)) return [args, true];
            return [args, !accepts(schema, JSON.stringify(asDelivered(args)))];
          }),
        },
        // A cursor the server never gave out: refused, unless it happens to name a position.
        ...(name.endsWith("_conversations") || name === "load_conversation"
          ? [{
            weight: 1,
            arbitrary: fc.tuple(valid, BAD_CURSORS).map((
              [v, cursor],
            ): [unknown, boolean] => [{ ...(v as object), cursor }, false]),
          }]
          : []),
      );
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...MCP_MODES), bad, async (mode, [args, refused]) => {
          fc.pre(sendable(args));
          const label = `${mode} ${name} ${JSON.stringify(args).slice(0, 300)}`;
          const result = await outcome(clients[mode], name, args);
          assertNotInternal(result, label);
          if (refused) {
            assert.ok(result.kind === "protocol" || result.isError, `${label}: not refused`);
          }
          if (result.kind === "protocol" || result.isError) {
            const after = await exportOf(server, user.accessToken);
            assert.equal(after, before, `${label}: a refused call changed stored data`);
          } else {
            // Taken (a stray cursor that names a position, say): it may change what is stored.
            if (name === "delete_conversation") keptId = await keep();
            before = await exportOf(server, user.accessToken);
          }
        }),
        params(20),
      );
    }
  }));

Deno.test("mcp hostile input: every tool takes what its schema allows, with valid output", () =>
  withClients(async (server, clients, user) => {
    const ids: string[] = [];
    const knownId = fc.oneof(
      fc.constant("").map(() => ids.length ? ids[ids.length - 1] : crypto.randomUUID()),
      fc.uuid(),
    );
    for (const [name, schema] of Object.entries(TOOLS)) {
      const valid = validInput(schema, { conversation_id: knownId, id: knownId });
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...MCP_MODES), valid, async (mode, value) => {
          const args = asArguments(value);
          const label = `${mode} ${name} ${JSON.stringify(args).slice(0, 300)}`;
          // The client checks structuredContent against the tool's output schema, and throws
          // when it does not fit.
          const result = await outcome(clients[mode], name, args);
          assertNotInternal(result, label);
          assert.equal(result.kind, "result", `${label}: ${JSON.stringify(result)}`);
          if (result.kind !== "result" || !result.isError) {
            if (name === "save_conversation") {
              ids.push(
                (result as { structured: { conversation: { id: string } } })
                  .structured.conversation.id,
              );
            }
            return;
          }
          // The errors valid arguments may meet: an id that is not there, a cursor from nowhere,
          // a query of punctuation only, a client_message_id used twice in one batch.
          assert.match(
            result.text,
            /^(not_found|conflict): |cursor|at least one word|at most \d+ words|Give last_n or cursor/,
            label,
          );
        }),
        params(15),
      );
    }
    // What save_conversation stored reads back through REST exactly as it was sent.
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...MCP_MODES),
        validInput(saveInput),
        async (mode, value) => {
          const args = asArguments(value) as z.input<typeof saveInput>;
          const result = await outcome(clients[mode], "save_conversation", args);
          assert.equal(result.kind, "result");
          if (result.kind !== "result" || result.isError) {
            assert.match((result as { text: string }).text, /^conflict: /);
            return;
          }
          const id = (result.structured as { conversation: { id: string } }).conversation.id;
          const loaded = await (await server.call(`/api/conversations/${id}?limit=1000`, {
            token: user.accessToken,
          })).json();
          assert.deepEqual(loaded.conversation.metadata, args.metadata ?? {});
          const sent = new Map<string, { content: string; metadata?: unknown }>();
          const stored = args.messages.filter((m) => {
            if (m.client_message_id === undefined) return true;
            if (sent.has(m.client_message_id)) return false;
            sent.set(m.client_message_id, m);
            return true;
          });
          assert.deepEqual(
            loaded.messages.map((
              m: { content: string; metadata: unknown },
            ) => [m.content, m.metadata]),
            stored.map((m) => [m.content, m.metadata ?? null]),
          );
        },
      ),
      params(15),
    );
  }));

Deno.test("mcp hostile input: the sign-in tools at /open refuse bad arguments as tool errors", () =>
  withServer(async (server) => {
    const client = await connectMcp(server, { mode: "legacy", open: true });
    try {
      for (const [name, schema] of Object.entries(OPEN_TOOLS)) {
        const valid = validInput(schema, { email: emailAddress() });
        const args = fc.oneof(
          invalidInput(schema, valid).map(asArguments),
          // Valid in shape, but no such account, a wrong password or a token that is not one.
          valid.map(asArguments),
        );
        await fc.assert(
          fc.asyncProperty(args, async (value) => {
            fc.pre(sendable(value));
            const label = `${name} ${JSON.stringify(value).slice(0, 300)}`;
            const result = await outcome(client, name, value);
            assertNotInternal(result, label);
            // mcp_register may succeed: a new account, and this session signed in to it.
            if (result.kind === "result" && !result.isError) {
              assert.equal(name, "mcp_register", label);
            }
          }),
          params(name === "mcp_register" ? 5 : 15),
        );
      }
    } finally {
      await client.close();
    }
  }, SERVER_ENV));

/** What a JSON-RPC error from the SDK itself may say for bad params of a spec method. */
const SDK_PARAMS_DUMP = /^\s*\[\s*\{\s*"(expected|code|origin)"/;

Deno.test("mcp hostile input: raw JSON-RPC garbage at every MCP endpoint never gets a 5xx", () =>
  withServer(async (server) => {
    const { token } = await signUpForMcp(server);
    const methods = [
      "initialize",
      "ping",
      "tools/list",
      "tools/call",
      "resources/list",
      "resources/read",
      "resources/templates/list",
      "prompts/list",
      "prompts/get",
      "completion/complete",
      "logging/setLevel",
      "subscriptions/listen",
      "notifications/initialized",
      "no/such/method",
    ];
    const message = fc.record({
      jsonrpc: fc.oneof({ weight: 8, arbitrary: fc.constant("2.0") }, fc.constantFrom("1.0", 2)),
      id: fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.constant(null)),
      method: fc.oneof(fc.constantFrom(...methods), fc.string({ maxLength: 10 })),
      params: fc.oneof(
        jsonValue(2),
        fc.record({
          name: fc.oneof(fc.constantFrom(...Object.keys(TOOLS)), fc.string()),
          arguments: jsonValue(2),
          uri: fc.oneof(
            fc.constantFrom("pensieve://conversations/", "pensieve://conversations/%ZZ"),
            fc.string(),
            jsonValue(1),
          ),
          protocolVersion: fc.oneof(fc.constantFrom("2025-11-25", "2026-07-28"), jsonValue(1)),
          cursor: jsonValue(1),
        }, { requiredKeys: [] }),
      ),
    }, { requiredKeys: ["jsonrpc"] });
    const body = fc.oneof(
      message.map(jsonText),
      fc.array(message, { maxLength: 3 }).map(jsonText),
      brokenJson(message),
    );
    // Mostly well-formed around the body, so most requests reach the protocol layer.
    const usually = <T>(common: T, ...rare: T[]) =>
      fc.oneof({ weight: 6, arbitrary: fc.constant(common) }, fc.constantFrom(...rare));
    const request = fc.record({
      path: fc.constantFrom("/mcp", "/open/mcp", "/messages?sessionId=nope", "/open/messages"),
      body,
      contentType: usually("application/json", "text/plain", undefined),
      accept: usually("application/json, text/event-stream", "application/json", undefined),
      version: fc.constantFrom("2025-11-25", "2026-07-28", "1999-01-01", undefined),
      session: usually(undefined, "not-a-session"),
    });
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
        if (r.contentType) headers["Content-Type"] = r.contentType;
        if (r.accept) headers.Accept = r.accept;
        if (r.version) headers["Mcp-Protocol-Version"] = r.version;
        if (r.session) headers["Mcp-Session-Id"] = r.session;
        const response = await fetch(server.url + r.path, {
          method: "POST",
          headers,
          body: r.body as BodyInit,
        });
        const text = await response.text();
        const label = `POST ${r.path} ${JSON.stringify(r.body).slice(0, 200)}: ${response.status}`;
        assert.ok(response.status < 500, `${label} ${text.slice(0, 300)}`);
        assert.doesNotMatch(text, /\bat .*\.ts:\d+|internal_error/, label);
        // Every JSON-RPC error in the answer (JSON, or SSE data lines) is the caller's, not ours;
        // the SDK answers a spec method's schema-invalid params with -32603 and the zod issues
        // (modelcontextprotocol/typescript-sdk#2284), which is let through here.
        const payloads = (response.headers.get("Content-Type") ?? "").includes("event-stream")
          ? text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6))
          : text
          ? [text]
          : [];
        for (const payload of payloads) {
          const parsed = JSON.parse(payload);
          for (const reply of Array.isArray(parsed) ? parsed : [parsed]) {
            const error = reply?.error;
            if (!error || typeof error.code !== "number") continue;
            if (error.code === -32603) assert.match(error.message, SDK_PARAMS_DUMP, label);
          }
        }
      }),
      params(150),
    );
  }, SERVER_ENV));
