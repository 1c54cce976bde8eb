/**
 * The crash harness: the real server process on a temp SQLite file, concurrent appends from
 * several clients, `kill -9` at seeded random moments, restart, retry of everything that was not
 * acknowledged, and a check of the file after every kill and of the API at the end.
 *
 * What it holds the server to: every acknowledged message is stored exactly once at the seq it
 * was acknowledged with; seq is 0..n-1 in every conversation and message_count is n; nothing is
 * stored that no client sent; `PRAGMA integrity_check` is ok; the full-text index holds exactly
 * the stored messages and titles, and search finds acknowledged messages.
 */
import { DatabaseSync } from "node:sqlite";
import { indexText, ownerToken } from "../../db/sqlite/search_text.ts";
import { type ServerProcess, spawnServer } from "../_helpers/process.ts";
import { type SeededRandom, seededRandom } from "../_helpers/random.ts";

export interface CrashTrialOptions {
  seed: number;
  /** How many times the server is killed with SIGKILL. */
  cycles: number;
  /** Concurrent clients; they are spread over the users. */
  clients?: number;
  users?: number;
  /** Conversations each user has before the first kill (more are saved during the trial). */
  conversationsPerUser?: number;
  log?: (line: string) => void;
}

export interface CrashTrialReport {
  seed: number;
  cycles: number;
  /** Requests answered 2xx (each one's messages are acknowledged). */
  acknowledgedRequests: number;
  /** Requests sent again because no answer came (the server was killed, or the line dropped). */
  retriedRequests: number;
  /** Retries that found their messages already stored by the killed process. */
  retriesAlreadyStored: number;
  messages: number;
  conversations: number;
  seconds: number;
}

interface MessageInput {
  role: "user" | "assistant";
  content: string;
  client_message_id?: string;
}

/** One message a client sent, and what the server said about it. */
interface SentMessage {
  /** The client_message_id it is stored under (the server derives one from an Idempotency-Key). */
  clientId: string;
  role: "user" | "assistant";
  content: string;
  /** A word only this message holds, to search for. */
  word: string;
  /** The seq the server acknowledged, once it has. */
  seq?: number;
}

interface Account {
  email: string;
  userId: string;
  token: string;
  /** Conversation ids the server has acknowledged as saved. */
  conversations: string[];
}

interface Request {
  kind: "append" | "save";
  account: Account;
  /** The conversation appended to; for a save, known once acknowledged. */
  conversationId?: string;
  idempotencyKey?: string;
  messages: SentMessage[];
  body: { messages: MessageInput[]; title?: string };
  attempts: number;
}

/** Everything the clients sent, by conversation and by client id. */
class Ledger {
  readonly conversations = new Map<
    string,
    { account: Account; messages: Map<string, SentMessage> }
  >();
  /** Saves not yet acknowledged: the server may or may not have stored them. */
  readonly pendingSaves = new Set<Request>();
  acknowledgedRequests = 0;
  retriedRequests = 0;
  retriesAlreadyStored = 0;
  #words = 0;

  /** Tells this trial's Idempotency-Keys apart. */
  constructor(readonly seedTag: string) {}

  nextWord(): string {
    return `msg${String(++this.#words).padStart(7, "0")}`;
  }

  /** Records a message as sent to a conversation, before any answer. */
  sent(conversationId: string, account: Account, message: SentMessage): void {
    let entry = this.conversations.get(conversationId);
    if (!entry) {
      entry = { account, messages: new Map() };
      this.conversations.set(conversationId, entry);
    }
    entry.messages.set(message.clientId, message);
  }
}

class Violation extends Error {}

function fail(message: string): never {
  throw new Violation(message);
}

interface AckedMessage {
  seq: number;
  content: string;
  client_message_id: string | null;
  duplicate: boolean;
}

/**
 * Sends one request. Returns false when no answer came (the server is gone or the connection
 * dropped): the request stays unacknowledged and is sent again later.
 */
async function send(url: string, request: Request, ledger: Ledger): Promise<boolean> {
  const headers: Record<string, string> = {
    Authorization: `Bearer ${request.account.token}`,
    "Content-Type": "application/json",
  };
  if (request.idempotencyKey) headers["Idempotency-Key"] = request.idempotencyKey;
  const path = request.kind === "save"
    ? "/api/conversations"
    : `/api/conversations/${request.conversationId}/messages`;
  if (request.attempts++ > 0) ledger.retriedRequests++;
  let status: number;
  let text: string;
  try {
    const response = await fetch(url + path, {
      method: "POST",
      headers,
      body: JSON.stringify(request.body),
    });
    status = response.status;
    text = await response.text();
  } catch {
    return false;
  }
  if (status !== 200 && status !== 201) {
    fail(`POST ${path} answered ${status}: ${text.slice(0, 500)}`);
  }
  const body = JSON.parse(text);
  ledger.acknowledgedRequests++;
  if (request.kind === "save") {
    const id = body.conversation?.id as string;
    if (typeof id !== "string") fail(`a save answered without a conversation id: ${text}`);
    if (status === 200) ledger.retriesAlreadyStored++;
    if (body.conversation.message_count < request.messages.length) {
      fail(
        `saved conversation ${id} has ${body.conversation.message_count} messages, sent ${request.messages.length}`,
      );
    }
    request.conversationId = id;
    ledger.pendingSaves.delete(request);
    if (!request.account.conversations.includes(id)) request.account.conversations.push(id);
    request.messages.forEach((message, index) => {
      message.seq = index;
      ledger.sent(id, request.account, message);
    });
    return true;
  }
  const acked = body.messages as AckedMessage[];
  if (!Array.isArray(acked) || acked.length !== request.messages.length) {
    fail(`an append of ${request.messages.length} answered ${text.slice(0, 500)}`);
  }
  if (status === 200 && acked.every((m) => m.duplicate)) ledger.retriesAlreadyStored++;
  acked.forEach((ack, index) => {
    const message = request.messages[index];
    if (ack.client_message_id !== message.clientId || ack.content !== message.content) {
      fail(`append answer ${index} is ${JSON.stringify(ack)}, sent ${JSON.stringify(message)}`);
    }
    if (message.seq !== undefined && message.seq !== ack.seq) {
      fail(`${message.clientId} was acknowledged at seq ${message.seq}, now at ${ack.seq}`);
    }
    if (ack.duplicate && request.attempts === 1) {
      fail(`${message.clientId} was a duplicate on its first attempt`);
    }
    message.seq = ack.seq;
  });
  return true;
}

/** A new request from `account`: usually an append, sometimes a save with an Idempotency-Key. */
function newRequest(
  random: SeededRandom,
  ledger: Ledger,
  account: Account,
  n: number,
  forceSave = false,
): Request {
  const count = random.int(1, 3);
  const byKey = random.chance(0.25);
  const key = `k${ledger.seedTag}-${n}`;
  const save = forceSave || random.chance(0.05);
  const messages: SentMessage[] = [];
  for (let i = 0; i < count; i++) {
    const word = ledger.nextWord();
    const role = random.chance(0.5) ? "user" : "assistant";
    const content = `crash trial ${word} ${"lorem ipsum ".repeat(random.int(0, 20))}`.trim();
    // With an Idempotency-Key and no client ids, the server names messages after the key.
    const clientId = byKey && !save ? `idem:${key}:${i}` : `c-${word}`;
    messages.push({ clientId, role, content, word });
  }
  const body = {
    messages: messages.map((m) => ({
      role: m.role,
      content: m.content,
      ...(m.clientId.startsWith("idem:") ? {} : { client_message_id: m.clientId }),
    })),
  };
  if (save) {
    const request: Request = {
      kind: "save",
      account,
      idempotencyKey: key,
      messages,
      body: { ...body, title: `trial ${messages[0].word}` },
      attempts: 0,
    };
    ledger.pendingSaves.add(request);
    return request;
  }
  const conversationId = random.pick(account.conversations);
  for (const message of messages) ledger.sent(conversationId, account, message);
  return {
    kind: "append",
    account,
    conversationId,
    idempotencyKey: byKey ? key : undefined,
    messages,
    body,
    attempts: 0,
  };
}

/** The stored file, read-only, checked against what was sent and acknowledged. */
function checkDatabase(path: string, ledger: Ledger, accounts: Account[], final: boolean): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const integrity = db.prepare("PRAGMA integrity_check").all() as { integrity_check: string }[];
    if (integrity.length !== 1 || integrity[0].integrity_check !== "ok") {
      fail(`PRAGMA integrity_check: ${JSON.stringify(integrity)}`);
    }
    const foreign = db.prepare("PRAGMA foreign_key_check").all();
    if (foreign.length) fail(`PRAGMA foreign_key_check: ${JSON.stringify(foreign)}`);

    const owners = new Map(accounts.map((a) => [a.userId, a]));
    const heads = db.prepare(
      "SELECT rowid, id, user_id, title, message_count FROM conversations",
    ).all() as {
      rowid: number;
      id: string;
      user_id: string;
      title: string;
      message_count: number;
    }[];
    const rowsOf = db.prepare(
      "SELECT rowid, seq, role, content, client_message_id FROM messages WHERE conversation_rowid = ? ORDER BY seq",
    );
    const matches = db.prepare("SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?");
    const seen = new Set<string>();
    let stored = 0;
    for (const head of heads) {
      const account = owners.get(head.user_id) ??
        fail(`conversation ${head.id} has no known owner`);
      const rows = rowsOf.all(head.rowid) as {
        rowid: number;
        seq: number;
        role: string;
        content: string;
        client_message_id: string | null;
      }[];
      stored += rows.length;
      rows.forEach((row, index) => {
        if (row.seq !== index) {
          fail(`conversation ${head.id}: seq ${rows.map((r) => r.seq).join(",")} is not 0..n-1`);
        }
      });
      if (head.message_count !== rows.length) {
        fail(`conversation ${head.id}: message_count ${head.message_count}, ${rows.length} stored`);
      }
      const clientIds = rows.map((r) => r.client_message_id);
      if (new Set(clientIds).size !== rows.length) {
        fail(`conversation ${head.id}: a client_message_id is stored twice`);
      }
      const entry = ledger.conversations.get(head.id);
      if (!entry) {
        // Saved by a request the killed server never answered: it must be one still pending.
        const pending = [...ledger.pendingSaves].find((r) =>
          r.account === account &&
          r.messages.length === rows.length &&
          r.messages.every((m, i) => m.clientId === clientIds[i] && m.content === rows[i].content)
        );
        if (!pending || final) {
          fail(`conversation ${head.id} holds messages no acknowledged or pending save sent`);
        }
        continue;
      }
      seen.add(head.id);
      for (const row of rows) {
        const sent = entry.messages.get(row.client_message_id ?? "") ??
          fail(`conversation ${head.id}: seq ${row.seq} (${row.client_message_id}) was never sent`);
        if (sent.content !== row.content || sent.role !== row.role) {
          fail(`conversation ${head.id}: seq ${row.seq} holds other text than ${sent.clientId}`);
        }
        if (sent.seq !== undefined && sent.seq !== row.seq) {
          fail(`${sent.clientId} was acknowledged at seq ${sent.seq}, stored at ${row.seq}`);
        }
        // The full-text index finds this message, and only it, by its own word.
        const hits = matches.all(`"${indexText(ownerToken(account.userId), sent.word)}"`);
        if (hits.length !== 1 || (hits[0] as { rowid: number }).rowid !== row.rowid) {
          fail(`search for ${sent.word} finds rows ${JSON.stringify(hits)}, not ${row.rowid}`);
        }
      }
      const present = new Set(clientIds);
      for (const sent of entry.messages.values()) {
        if (sent.seq !== undefined && !present.has(sent.clientId)) {
          fail(`acknowledged ${sent.clientId} (seq ${sent.seq}) is missing from ${head.id}`);
        }
        if (final && !present.has(sent.clientId)) {
          fail(`${sent.clientId} was sent and retried until acknowledged, yet is missing`);
        }
      }
    }
    for (const id of ledger.conversations.keys()) {
      if (!seen.has(id)) fail(`acknowledged conversation ${id} is missing`);
    }
    // The indexes hold exactly the stored rows: none left behind, none missing.
    const ids = (sql: string) =>
      (db.prepare(sql).all() as { rowid: number }[]).map((r) => r.rowid).sort((a, b) => a - b)
        .join(",");
    if (ids("SELECT rowid FROM messages_fts") !== ids("SELECT rowid FROM messages")) {
      fail("messages_fts does not hold exactly the stored messages");
    }
    if (ids("SELECT rowid FROM titles_fts") !== ids("SELECT rowid FROM conversations")) {
      fail("titles_fts does not hold exactly the stored titles");
    }
    return stored;
  } finally {
    db.close();
  }
}

async function api(server: ServerProcess, path: string, token: string, init: RequestInit = {}) {
  const response = await fetch(server.url + path, {
    ...init,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
  });
  const text = await response.text();
  if (!response.ok) fail(`${init.method ?? "GET"} ${path} answered ${response.status}: ${text}`);
  return JSON.parse(text);
}

/** Through the API of a restarted server: every conversation whole, and search finds its words. */
async function checkThroughApi(
  server: ServerProcess,
  ledger: Ledger,
  accounts: Account[],
  random: SeededRandom,
  searches: number,
): Promise<void> {
  for (const account of accounts) {
    const listed: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { conversations: { id: string }[]; next_cursor: string | null } = await api(
        server,
        `/api/conversations?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        account.token,
      );
      listed.push(...page.conversations.map((c) => c.id));
      cursor = page.next_cursor;
    } while (cursor);
    const mine = [...ledger.conversations].filter(([, e]) => e.account === account);
    if (listed.length !== mine.length || mine.some(([id]) => !listed.includes(id))) {
      fail(`${account.email} lists ${listed.length} conversations, expected ${mine.length}`);
    }
    for (const [id, entry] of mine) {
      const loaded = await api(server, `/api/conversations/${id}?limit=1000`, account.token);
      const sent = [...entry.messages.values()].sort((a, b) => a.seq! - b.seq!);
      const got = loaded.messages.map((m: AckedMessage) => `${m.seq}:${m.client_message_id}`);
      const want = sent.map((m) => `${m.seq}:${m.clientId}`);
      if (got.join("|") !== want.join("|") || loaded.conversation.message_count !== sent.length) {
        fail(`GET ${id}: ${got.join(" ")} is not ${want.join(" ")}`);
      }
    }
    const words = mine.flatMap(([, e]) => [...e.messages.values()].map((m) => m.word));
    for (let i = 0; i < searches && words.length; i++) {
      const word = random.pick(words);
      const found = await api(server, `/api/search?q=${word}`, account.token);
      if (found.results.length !== 1) fail(`search for ${word} found ${found.results.length}`);
    }
  }
}

/** Runs the trial; throws (naming the seed) at the first broken promise. */
export async function runCrashTrial(options: CrashTrialOptions): Promise<CrashTrialReport> {
  const started = performance.now();
  const random = seededRandom(options.seed);
  const log = options.log ?? (() => {});
  const clients = options.clients ?? 4;
  const userCount = options.users ?? 2;
  const dir = await Deno.makeTempDir({ prefix: "pensieve-crash-" });
  const dbPath = `${dir}/pensieve.db`;
  const env = { PENSIEVE_DB: `sqlite:${dbPath}`, PENSIEVE_LOG_LEVEL: "warn" };
  const ledger = new Ledger(options.seed.toString(36));
  let server: ServerProcess | undefined;
  let cycle = 0;
  try {
    server = await spawnServer(env);
    const accounts: Account[] = [];
    for (let u = 0; u < userCount; u++) {
      const email = `crash${u}@example.com`;
      const session = await fetch(`${server.url}/auth/register`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ email, password: "crash test password" }),
      }).then((r) => r.json());
      accounts.push({
        email,
        userId: session.user.id,
        token: session.access_token,
        conversations: [],
      });
    }
    for (const account of accounts) {
      for (let c = 0; c < (options.conversationsPerUser ?? 3); c++) {
        const request = newRequest(random, ledger, account, -1 - ledger.conversations.size, true);
        if (!(await send(server.url, request, ledger))) fail("the first saves got no answer");
      }
    }

    const pending: (Request | undefined)[] = Array(clients).fill(undefined);
    let requestNumber = 0;
    for (cycle = 1; cycle <= options.cycles + 1; cycle++) {
      const last = cycle > options.cycles;
      if (cycle > 1) server = await spawnServer(env);
      const current = server;
      let alive = true;
      let acks = 0;
      let broken: unknown;
      // Each client first sends again what the killed server never answered, then new requests;
      // in the last round, only the retries, until everything is acknowledged.
      const client = async (index: number) => {
        const account = accounts[index % accounts.length];
        while (alive) {
          const request = pending[index] ??
            (last ? undefined : newRequest(random, ledger, account, requestNumber++));
          if (!request) return;
          pending[index] = request;
          if (await send(current.url, request, ledger)) {
            pending[index] = undefined;
            acks++;
          } else if (alive) {
            // The server is up but the connection dropped: a client would try again.
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
        }
      };
      const running = Array.from(
        { length: clients },
        (_, i) => client(i).catch((error) => (broken ??= error)),
      );
      if (last) {
        await Promise.all(running);
        if (broken) throw broken;
        await checkThroughApi(current, ledger, accounts, random, 20);
      } else {
        // A seeded moment: after some acknowledgements, and a few milliseconds more.
        const ackTarget = random.int(0, 30);
        const extraMs = random.int(0, 20);
        let exited = false;
        current.child.status.then(() => (exited = true));
        for (let w = 0; acks < ackTarget && w < 5000 && !exited && !broken; w += 2) {
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        if (exited) fail(`the server exited by itself:\n${current.output().slice(-2000)}`);
        await new Promise((resolve) => setTimeout(resolve, extraMs));
      }
      alive = false;
      current.child.kill("SIGKILL");
      await current.child.status;
      await Promise.all(running);
      if (broken) throw broken;
      const stored = checkDatabase(dbPath, ledger, accounts, last);
      log(
        `cycle ${cycle}${last ? " (final)" : ""}: ${acks} acknowledged, ` +
          `${pending.filter(Boolean).length} unanswered at the kill, ${stored} messages stored`,
      );
      if (last) {
        return {
          seed: options.seed,
          cycles: options.cycles,
          acknowledgedRequests: ledger.acknowledgedRequests,
          retriedRequests: ledger.retriedRequests,
          retriesAlreadyStored: ledger.retriesAlreadyStored,
          messages: stored,
          conversations: ledger.conversations.size,
          seconds: (performance.now() - started) / 1000,
        };
      }
    }
    throw new Error("unreachable");
  } catch (error) {
    if (error instanceof Violation) {
      throw new Error(
        `crash trial seed ${options.seed}, cycle ${cycle}: ${error.message}\n` +
          `replay with PENSIEVE_CRASH_SEED=${options.seed}`,
      );
    }
    throw error;
  } finally {
    try {
      server?.child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await server?.child.status;
    await Deno.remove(dir, { recursive: true });
  }
}
