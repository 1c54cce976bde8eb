/**
 * Property-based tests of every REST route under /auth and /api with fast-check: inputs generated
 * from the zod schemas the routes validate with, valid and mutated. Whatever arrives, the answer
 * is never a 5xx; a 4xx has the JSON error shape; a refused request changes nothing stored; and
 * what a 2xx stored reads back exactly as it was sent.
 *
 * PENSIEVE_FUZZ_RUNS scales the number of runs (default 1; 10 for a long run); PENSIEVE_FUZZ_SEED
 * replays the seed fast-check prints on a failure.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import type { z } from "zod";
import {
  appendMessagesSchema,
  changePasswordSchema,
  createTokenSchema,
  credentialsSchema,
  deleteAccountSchema,
  listQuerySchema,
  loginSchema,
  messagesQuerySchema,
  renameTokenSchema,
  saveConversationSchema,
  searchQuerySchema,
  updateConversationSchema,
} from "../../core/schemas.ts";
import {
  accepts,
  BAD_CURSORS,
  BAD_IDS,
  brokenJson,
  emailAddress,
  HOSTILE_STRINGS,
  invalidInput,
  jsonText,
  jsonValue,
  validInput,
} from "../_helpers/arbitraries.ts";
import { signUp, type TestServer, withServer } from "../_helpers/server.ts";

const SCALE = Number(Deno.env.get("PENSIEVE_FUZZ_RUNS") ?? 1);
const SEED = Deno.env.get("PENSIEVE_FUZZ_SEED");
const params = (numRuns: number): fc.Parameters<unknown> => ({
  numRuns: Math.max(1, Math.round(numRuns * SCALE)),
  ...(SEED ? { seed: Number(SEED) } : {}),
  endOnFailure: true,
});

/** Which stored thing a route's `:id` names. */
type IdKind = "conversation" | "token" | "job" | "app";

interface Route {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** As Hono has it mounted. */
  path: string;
  id?: IdKind;
  body?: z.ZodType;
  query?: z.ZodType;
  /** Takes an export file as its body. */
  upload?: boolean;
  /** Without a credential: a 401. */
  auth: boolean;
}

/** Every route under /auth and /api; the test below checks the app mounts no other. */
const ROUTES: Route[] = [
  { method: "POST", path: "/auth/register", body: credentialsSchema, auth: false },
  { method: "POST", path: "/auth/login", body: loginSchema, auth: false },
  { method: "POST", path: "/auth/logout", auth: true },
  { method: "GET", path: "/auth/me", auth: true },
  { method: "POST", path: "/auth/password", body: changePasswordSchema, auth: true },
  { method: "DELETE", path: "/auth/account", body: deleteAccountSchema, auth: true },
  { method: "GET", path: "/api/tokens", auth: true },
  { method: "POST", path: "/api/tokens", body: createTokenSchema, auth: true },
  { method: "PATCH", path: "/api/tokens/:id", id: "token", body: renameTokenSchema, auth: true },
  { method: "DELETE", path: "/api/tokens/:id", id: "token", auth: true },
  { method: "GET", path: "/api/connected-apps", auth: true },
  { method: "DELETE", path: "/api/connected-apps/:id", id: "app", auth: true },
  { method: "GET", path: "/api/conversations", query: listQuerySchema, auth: true },
  { method: "POST", path: "/api/conversations", body: saveConversationSchema, auth: true },
  {
    method: "GET",
    path: "/api/conversations/:id",
    id: "conversation",
    query: messagesQuerySchema,
    auth: true,
  },
  {
    method: "PATCH",
    path: "/api/conversations/:id",
    id: "conversation",
    body: updateConversationSchema,
    auth: true,
  },
  { method: "DELETE", path: "/api/conversations/:id", id: "conversation", auth: true },
  {
    method: "GET",
    path: "/api/conversations/:id/messages",
    id: "conversation",
    query: messagesQuerySchema,
    auth: true,
  },
  {
    method: "POST",
    path: "/api/conversations/:id/messages",
    id: "conversation",
    body: appendMessagesSchema,
    auth: true,
  },
  { method: "GET", path: "/api/search", query: searchQuerySchema, auth: true },
  { method: "POST", path: "/api/import", upload: true, auth: true },
  { method: "POST", path: "/api/import/jobs", auth: true },
  { method: "PUT", path: "/api/import/jobs/:id", id: "job", upload: true, auth: true },
  { method: "GET", path: "/api/import/jobs/:id", id: "job", auth: true },
  { method: "GET", path: "/api/export", auth: true },
  { method: "GET", path: "/api/export/:id", id: "conversation", auth: true },
];

const routeName = (route: Route) => `${route.method} ${route.path}`;
const BY_NAME = new Map(ROUTES.map((route) => [routeName(route), route]));

interface HttpRequest {
  /** "METHOD /path/:id", as routeName writes it; `:id` is filled from `id`. */
  route: string;
  id?: string;
  query?: [string, string][];
  headers: Record<string, string>;
  body?: string | Uint8Array;
  /**
   * Whether the route must refuse it with a 4xx; when false it may also answer 2xx, but must
   * still store nothing (an upload that holds no conversation, say).
   */
  refused: boolean;
}

interface HttpResponse {
  status: number;
  text: string;
  type: string;
}

/**
 * Percent-encoding that also writes an unpaired surrogate, as the three bytes of its generalised
 * UTF-8 form (which is not UTF-8): a client may send anything.
 */
function percentEncode(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (code >= 0xd800 && code <= 0xdfff) {
      out += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)]
        .map((b) => "%" + b.toString(16).toUpperCase()).join("");
    } else out += encodeURIComponent(char);
  }
  return out;
}

function target(request: HttpRequest, ids: Record<IdKind, string>): string {
  const route = BY_NAME.get(request.route)!;
  const id = request.id ?? (route.id ? ids[route.id] : "");
  const path = route.path.replace(":id", id);
  const query = request.query?.length
    ? "?" + request.query.map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`).join("&")
    : "";
  return path + query;
}

async function send(
  server: TestServer,
  request: HttpRequest,
  ids: Record<IdKind, string>,
): Promise<HttpResponse> {
  const response = await fetch(server.url + target(request, ids), {
    method: BY_NAME.get(request.route)!.method,
    headers: request.headers,
    body: request.body as BodyInit | undefined,
  });
  return {
    status: response.status,
    text: await response.text(),
    type: response.headers.get("Content-Type") ?? "",
  };
}

/** The one error shape: JSON `{ error: { code, message } }`, nothing from inside the server. */
function assertErrorShape(response: HttpResponse, label: string): void {
  assert.ok(response.status < 500, `${label}: ${response.status} ${response.text.slice(0, 300)}`);
  assert.match(response.type, /^application\/json/, `${label}: an error is JSON`);
  const body = JSON.parse(response.text);
  assert.equal(typeof body.error?.code, "string", `${label}: ${response.text.slice(0, 300)}`);
  assert.equal(typeof body.error?.message, "string", label);
  assert.doesNotMatch(response.text, /\bat .*\.ts:\d+|node_modules/, `${label}: no stack trace`);
}

function describe(request: HttpRequest, ids: Record<IdKind, string>): string {
  const body = typeof request.body === "string"
    ? request.body.slice(0, 200)
    : request.body
    ? `<${request.body.length} bytes>`
    : "";
  return `${request.route.split(" ")[0]} ${target(request, ids).slice(0, 200)} ${body}`;
}

/** Query parameters from a value the schema reads (strings, as a URL carries them). */
function queryEntries(value: unknown): [string, string][] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [];
  return Object.entries(value).map(([k, v]) => [k, typeof v === "string" ? v : jsonText(v)]);
}

/** Whether the route would take these parameters: given once each, and the schema parses them. */
function queryAccepted(schema: z.ZodType, entries: [string, string][]): boolean {
  const keys = entries.map(([k]) => k);
  if (new Set(keys).size !== keys.length) return false;
  return accepts(schema, JSON.stringify(Object.fromEntries(entries)));
}

const JUNK_VALUES = fc.oneof(
  HOSTILE_STRINGS.filter((s) => s.length < 10_000),
  fc.constantFrom("", "-1", "0", "1e3", "0x10", "NaN", "Infinity", "1.5", "true", "[]", "%"),
  BAD_CURSORS,
);

/** Valid query parameters with one hostile change: unknown, repeated, junk value, bad cursor. */
function badQuery(schema: z.ZodType): fc.Arbitrary<[string, string][]> {
  return fc.tuple(
    validInput(schema).map(queryEntries),
    fc.constantFrom("unknown", "repeat", "junk", "cursor"),
    fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom("__proto__", "constructor", "")),
    JUNK_VALUES,
  ).map(([entries, how, key, junk]): [string, string][] => {
    if (how === "unknown") return [...entries, [key || "extra", junk]];
    if (how === "repeat" && entries.length) return [...entries, entries[0]];
    if (how === "cursor") return [...entries.filter(([k]) => k !== "cursor"), ["cursor", junk]];
    if (entries.length === 0) return [["limit", junk]];
    const [first, ...rest] = entries;
    return [[first[0], junk], ...rest];
  }).filter((entries) => !queryAccepted(schema, entries));
}

const JSON_TYPE = { "Content-Type": "application/json" };

const ODD_CONTENT_TYPES = fc.constantFrom(
  undefined,
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data",
  "multipart/form-data; boundary=x",
  "application/json; charset=utf-16",
  "application/xml",
  "*/*",
);

const BAD_AUTHORIZATION = fc.oneof(
  fc.constantFrom(
    "",
    "Bearer",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "Bearer a.b.c",
    "Bearer psv_",
    "Bearer psv_" + "x".repeat(4000),
    "bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    "Bearer token with spaces",
  ),
  fc.stringMatching(/^Bearer [A-Za-z0-9._~+/=-]{1,200}$/),
);

/** Upload bodies that hold no conversation that could be stored (so nothing may change). */
const BAD_UPLOADS: fc.Arbitrary<{ body: string | Uint8Array; type?: string }> = fc.oneof(
  brokenJson(fc.constant({ format: "pensieve-export", version: 1, conversations: [] })).map((
    body,
  ) => ({ body, type: "application/json" })),
  jsonValue(3).map((v) => ({ body: jsonText(v), type: "application/json" })),
  fc.uint8Array({ maxLength: 512 }).map((body) => ({ body, type: "application/zip" })),
  fc.constantFrom(
    { body: new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 0, 0]), type: "application/zip" },
    {
      body: "--x\r\nContent-Disposition: form-data; name=file\r\n\r\nabc",
      type: "multipart/form-data; boundary=x",
    },
    { body: "abc", type: "multipart/form-data" },
    {
      body: '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n',
      type: "multipart/form-data; boundary=x",
    },
    { body: "", type: undefined },
  ),
);

/** Requests a route must refuse, each with one thing wrong. */
function refusedRequests(route: Route, token: string): fc.Arbitrary<HttpRequest> {
  const auth = { Authorization: `Bearer ${token}` };
  const base = { route: routeName(route), refused: true };
  const choices: fc.Arbitrary<HttpRequest>[] = [];
  if (route.auth) {
    choices.push(BAD_AUTHORIZATION.map((value) => ({
      ...base,
      headers: { ...JSON_TYPE, ...(value ? { Authorization: value } : {}) },
      body: route.body ? "{}" : undefined,
    })));
  }
  if (route.body) {
    const valid = validInput(route.body, { email: emailAddress() });
    choices.push(
      invalidInput(route.body, valid).map((value) => ({
        ...base,
        headers: { ...auth, ...JSON_TYPE },
        body: jsonText(value),
      })),
    );
    choices.push(
      brokenJson(valid).filter((body) => typeof body !== "string" || !accepts(route.body!, body))
        .map((body) => ({ ...base, headers: { ...auth, ...JSON_TYPE }, body })),
    );
    choices.push(
      fc.tuple(ODD_CONTENT_TYPES, fc.constantFrom("a=1&b=2", "<xml/>", "", "\u0000"))
        .map(([type, body]) => ({
          ...base,
          headers: { ...auth, ...(type ? { "Content-Type": type } : {}) },
          body,
        })),
    );
  }
  if (route.query) {
    choices.push(
      badQuery(route.query).map((query) => ({
        ...base,
        // An unpaired surrogate cannot be sent as UTF-8: the server reads the bytes' escapes as
        // text, which the schema may well take.
        refused: query.every(([k, v]) => k.isWellFormed() && v.isWellFormed()),
        query,
        headers: auth,
      })),
    );
  }
  if (route.id) {
    choices.push(
      fc.tuple(BAD_IDS, route.body ? validInput(route.body) : fc.constant(undefined)).map((
        [id, body],
      ) => ({
        ...base,
        id,
        headers: { ...auth, ...JSON_TYPE },
        body: body === undefined ? undefined : jsonText(body),
      })),
    );
  }
  if (route.upload) {
    choices.push(BAD_UPLOADS.map(({ body, type }) => ({
      ...base,
      // An export whose every conversation is unreadable is imported as "all skipped".
      refused: false,
      headers: { ...auth, ...(type ? { "Content-Type": type } : {}) },
      body,
    })));
  }
  if (route.path.endsWith("/messages") || route.path === "/api/conversations") {
    if (route.method === "POST") {
      choices.push(
        fc.oneof(
          fc.constantFrom("", " ", "é", "a".repeat(101), "a\tb"),
          fc.string({ minLength: 101, maxLength: 120 }),
        ).map((key) => ({
          ...base,
          headers: { ...auth, ...JSON_TYPE, "Idempotency-Key": key },
          body: route.body ? jsonText({ messages: [{ role: "user", content: "x" }] }) : undefined,
        })).filter((r) => /[^\x21-\x7e]|^$|^.{101,}$/.test(r.headers["Idempotency-Key"])),
      );
    }
  }
  return fc.oneof(...choices);
}

/** Everything the user has that a request could change: conversations, tokens, the account. */
async function snapshot(server: TestServer, token: string, jobId: string): Promise<string> {
  const get = async (path: string) => {
    const response = await server.call(path, { token });
    assert.equal(response.status, 200, path);
    return await response.text();
  };
  const exported = JSON.parse(await get("/api/export"));
  delete exported.exported_at;
  return JSON.stringify([
    exported,
    await get("/api/tokens"),
    await get("/auth/me"),
    await get(`/api/import/jobs/${jobId}`),
  ]);
}

async function newJob(server: TestServer, token: string): Promise<string> {
  const response = await server.call("/api/import/jobs", { method: "POST", token });
  assert.equal(response.status, 201);
  return (await response.json()).job.id;
}

/** A user with a little of everything, so refused requests have something to spoil. */
async function seedVictim(server: TestServer) {
  const account = await signUp(server);
  const token = account.token;
  const post = async (path: string, json: unknown) => {
    const response = await server.call(path, { method: "POST", token, json });
    assert.ok(response.ok, `${path}: ${response.status}`);
    return await response.json();
  };
  const { conversation } = await post("/api/conversations", {
    title: "Keep me",
    tags: ["keep"],
    metadata: { kept: true },
    messages: [
      { role: "user", content: "original words", client_message_id: "c1" },
      { role: "assistant", content: "stay as you are" },
    ],
  });
  const personal = await post("/api/tokens", { name: "kept token" });
  const { job } = await post("/api/import/jobs", {});
  const ids: Record<IdKind, string> = {
    conversation: conversation.id,
    token: personal.token.id,
    job: job.id,
    app: crypto.randomUUID(),
  };
  return { ...account, ids };
}

Deno.test("the fuzzed routes are every route the app mounts under /auth and /api", () =>
  withServer((server) => {
    const mounted = server.app.hono.routes
      .filter((r) => r.method !== "ALL" && /^\/(api|auth)\//.test(r.path))
      .map((r) => `${r.method} ${r.path}`);
    const fuzzed = ROUTES.map(routeName);
    assert.deepEqual([...new Set(mounted)].sort(), [...fuzzed].sort());
    return Promise.resolve();
  }));

Deno.test("every REST route refuses hostile input with a 4xx JSON error and stores nothing", () =>
  withServer(async (server) => {
    const victim = await seedVictim(server);
    let before = await snapshot(server, victim.token, victim.ids.job);
    for (const route of ROUTES) {
      await fc.assert(
        fc.asyncProperty(refusedRequests(route, victim.token), async (request) => {
          // A job takes one upload, and records its failure: each upload goes to a new job.
          const ids = request.route === "PUT /api/import/jobs/:id"
            ? { ...victim.ids, job: await newJob(server, victim.token) }
            : victim.ids;
          const label = describe(request, ids);
          const response = await send(server, request, ids);
          if (request.refused || response.status >= 300) {
            assert.ok(
              response.status >= 400 && response.status < 500,
              `${label}: expected a 4xx, got ${response.status} ${response.text.slice(0, 300)}`,
            );
            assertErrorShape(response, label);
          }
          const after = await snapshot(server, victim.token, victim.ids.job);
          assert.equal(after, before, `${label}: a refused request changed stored data`);
          before = after;
        }),
        params(25),
      );
    }
  }));

/** Times as exports write them, and as a broken or hostile one might. */
const ODD_TIMES = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(
    1e300,
    -1e300,
    1.5,
    -0.5,
    8.64e15 + 1,
    2 ** 53 + 2,
    1e15,
    "2024-01-01T00:00:00Z",
    "2024-01-01 10:00:00",
    "+275760-09-13T00:00:00Z",
    "garbage",
    { $date: 1e300 },
    { $date: "2024-13-45" },
    { $numberLong: "abc" },
    { $numberLong: "99999999999999999999" },
  ),
  jsonValue(1),
);

const ODD_TEXT = fc.oneof(
  fc.string({ unit: "binary", maxLength: 20 }),
  HOSTILE_STRINGS,
  jsonValue(1),
);

/** One conversation shaped like each kind of export the importer reads, with odd fields. */
const EXPORTED_CONVERSATION = fc.oneof(
  // ChatGPT
  fc.record({
    id: fc.oneof(fc.uuid(), ODD_TEXT),
    title: ODD_TEXT,
    create_time: ODD_TIMES,
    update_time: ODD_TIMES,
    current_node: fc.constantFrom("b", "x", null),
    mapping: fc.record({
      a: fc.record({
        id: fc.constant("a"),
        parent: fc.constant(null),
        children: fc.constant(["b"]),
      }),
      b: fc.record({
        id: fc.constant("b"),
        parent: fc.constantFrom("a", "b"),
        message: fc.record({
          id: ODD_TEXT,
          author: fc.record({
            role: fc.oneof(fc.constantFrom("user", "assistant", "tool"), ODD_TEXT),
          }),
          create_time: ODD_TIMES,
          content: fc.record({
            content_type: fc.oneof(fc.constantFrom("text", "code"), ODD_TEXT),
            parts: fc.array(fc.oneof(ODD_TEXT, fc.record({ content_type: ODD_TEXT }))),
          }),
          metadata: jsonValue(2),
        }),
      }),
    }),
  }),
  // Claude
  fc.record({
    uuid: fc.oneof(fc.uuid(), ODD_TEXT),
    name: ODD_TEXT,
    created_at: ODD_TIMES,
    updated_at: ODD_TIMES,
    chat_messages: fc.array(
      fc.record({
        uuid: ODD_TEXT,
        sender: fc.oneof(fc.constantFrom("human", "assistant"), ODD_TEXT),
        text: ODD_TEXT,
        created_at: ODD_TIMES,
        content: fc.array(
          fc.record({ type: fc.constantFrom("text", "thinking", "tool_use"), text: ODD_TEXT }),
        ),
      }),
      { maxLength: 3 },
    ),
  }),
  // The original Pensieve
  fc.record({
    _id: fc.oneof(fc.string({ minLength: 1 }), fc.record({ $oid: fc.string({ minLength: 1 }) })),
    messages: fc.array(
      fc.record({
        role: fc.oneof(fc.constantFrom("user", "ai"), ODD_TEXT),
        content: ODD_TEXT,
        timestamp: ODD_TIMES,
      }),
      { maxLength: 3 },
    ),
    metadata: fc.oneof(jsonValue(2), fc.record({ title: ODD_TEXT, tags: jsonValue(1) })),
    created_at: ODD_TIMES,
    updated_at: ODD_TIMES,
  }),
  // Pensieve's own export
  fc.record({
    id: fc.oneof(fc.uuid(), ODD_TEXT),
    title: ODD_TEXT,
    tags: jsonValue(1),
    source: ODD_TEXT,
    metadata: jsonValue(2),
    message_count: fc.integer(),
    created_at: ODD_TIMES,
    updated_at: ODD_TIMES,
    messages: fc.array(
      fc.record({
        seq: jsonValue(0),
        role: fc.oneof(fc.constantFrom("user", "assistant"), ODD_TEXT),
        content: ODD_TEXT,
        created_at: ODD_TIMES,
        client_message_id: ODD_TEXT,
        metadata: jsonValue(2),
      }),
      { maxLength: 3 },
    ),
  }),
);

Deno.test("an import of export-shaped documents with odd fields never gets a 5xx", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    await fc.assert(
      fc.asyncProperty(
        fc.array(EXPORTED_CONVERSATION, { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        async (conversations, asExport) => {
          const body = asExport
            ? jsonText({ format: "pensieve-export", version: 1, conversations })
            : jsonText(conversations);
          for (const path of ["/api/import", `/api/import/jobs/${await newJob(server, token)}`]) {
            const response = await fetch(server.url + path, {
              method: path === "/api/import" ? "POST" : "PUT",
              headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
              body,
            });
            const text = await response.text();
            const label = `${path} ${body.slice(0, 300)}`;
            assert.ok(response.status < 500, `${label}: ${response.status} ${text.slice(0, 300)}`);
            if (response.status >= 400) {
              assertErrorShape({
                status: response.status,
                text,
                type: response.headers.get("Content-Type") ?? "",
              }, label);
            }
            // A job that failed on something other than the input says so in its error.
            assert.doesNotMatch(text, /unexpected error/, label);
          }
        },
      ),
      params(60),
    );
  }));

Deno.test("every route the app mounts (OAuth, pages, MCP, health too) never answers junk with a 5xx", () =>
  withServer(async (server) => {
    const { token } = await signUp(server);
    const mounted = [
      ...new Set(
        server.app.hono.routes.filter((r) => r.method !== "ALL").map((r) =>
          `${r.method} ${r.path}`
        ),
      ),
    ].map((line) => {
      const [method, path] = line.split(" ");
      return { method, path };
    }).filter((r) => !r.path.includes("*"));
    const request = fc.record({
      route: fc.constantFrom(...mounted),
      param: fc.oneof(BAD_IDS, fc.constantFrom("en", "de", "settings")),
      query: fc.array(fc.tuple(fc.string({ maxLength: 8 }), JUNK_VALUES), { maxLength: 3 }),
      auth: fc.oneof(fc.constant(`Bearer ${token}`), BAD_AUTHORIZATION, fc.constant(undefined)),
      type: ODD_CONTENT_TYPES,
      body: fc.oneof(
        fc.constant(undefined),
        jsonValue(2).map(jsonText),
        fc.constantFrom("a=1&b=%ZZ&redirect_uri=javascript:alert(1)", "{", "\u0000", ""),
        fc.uint8Array({ maxLength: 64 }),
      ),
    });
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const path = r.route.path.replace(/:[a-z_]+/g, r.param);
        const query = r.query.length
          ? "?" + r.query.map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`).join("&")
          : "";
        const headers: Record<string, string> = {};
        if (r.auth) headers.Authorization = r.auth;
        if (r.type) headers["Content-Type"] = r.type;
        const hasBody = r.route.method !== "GET" && r.route.method !== "HEAD";
        const response = await fetch(server.url + path + query, {
          method: r.route.method,
          headers,
          body: hasBody ? r.body as BodyInit | undefined : undefined,
        });
        // An event stream stays open: its status is the answer.
        const streaming = (response.headers.get("Content-Type") ?? "").includes("event-stream");
        const text = streaming ? "" : await response.text();
        if (streaming) await response.body?.cancel();
        const label = `${r.route.method} ${path}${query}`.slice(0, 300);
        assert.ok(response.status < 500, `${label}: ${response.status} ${text.slice(0, 300)}`);
        assert.doesNotMatch(text, /\bat .*\.ts:\d+|node_modules/, `${label}: no stack trace`);
      }),
      params(300),
    );
  }));
