import { deserialize, type Document, Long, ObjectId, serialize } from "bson";
import { applyUpdate, compare, matches, project, sortDocs } from "./_fake_mongo.ts";

/**
 * A loopback server speaking enough of MongoDB's wire protocol (the OP_QUERY handshake, then
 * OP_MSG) for the real driver, with a small in-memory engine behind it: documents per database
 * and collection, unique indexes, the query and update operators the store uses, find / insert /
 * update (with upsert) / delete / findAndModify / count, and nothing else. No text index and no
 * Atlas Search: those are refused as a server without them refuses them, so the store falls back
 * to its scan. It is not MongoDB: it checks the store through the real driver (the shape of what
 * the driver sends and returns, the store's use of the answers), not the server's own semantics.
 */

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;

/** An answer that drops the connection instead of replying: the client never learns the outcome. */
export const DROP_CONNECTION: Document = Object.freeze({ dropConnection: true });

/** Answers one command; undefined for `{ ok: 1 }`. */
export type Answer = (command: Document) => Document | undefined;

export interface WireServer {
  url: string;
  commands: { name: string; body: Document; at: number }[];
  close(): Promise<void>;
}

function cstringEnd(bytes: Uint8Array, from: number): number {
  let end = from;
  while (bytes[end] !== 0) end++;
  return end;
}

/** The command in an OP_MSG body, with any document sequences folded in. */
function readOpMsg(message: Uint8Array): Document {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  let offset = 20;
  let body: Document = {};
  const sequences: Record<string, Document[]> = {};
  while (offset < message.length) {
    const kind = message[offset++];
    if (kind === 0) {
      const size = view.getInt32(offset, true);
      body = deserialize(message.subarray(offset, offset + size));
      offset += size;
    } else {
      const size = view.getInt32(offset, true);
      const end = offset + size;
      const nameEnd = cstringEnd(message, offset + 4);
      const name = new TextDecoder().decode(message.subarray(offset + 4, nameEnd));
      let at = nameEnd + 1;
      sequences[name] = [];
      while (at < end) {
        const docSize = view.getInt32(at, true);
        sequences[name].push(deserialize(message.subarray(at, at + docSize)));
        at += docSize;
      }
      offset = end;
    }
  }
  return { ...body, ...sequences };
}

function header(length: number, requestId: number, responseTo: number, opCode: number) {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, length, true);
  view.setInt32(4, requestId, true);
  view.setInt32(8, responseTo, true);
  view.setInt32(12, opCode, true);
  return bytes;
}

function opMsgReply(responseTo: number, document: Document): Uint8Array {
  const body = serialize(document);
  const length = 16 + 4 + 1 + body.length;
  const out = new Uint8Array(length);
  out.set(header(length, 0, responseTo, OP_MSG), 0);
  out[20] = 0;
  out.set(body, 21);
  return out;
}

function opReply(responseTo: number, document: Document): Uint8Array {
  const body = serialize(document);
  const length = 16 + 20 + body.length;
  const out = new Uint8Array(length);
  out.set(header(length, 0, responseTo, OP_REPLY), 0);
  const view = new DataView(out.buffer);
  view.setInt32(32, 1, true); // numberReturned; flags, cursor id and startingFrom stay 0
  out.set(body, 36);
  return out;
}

export const HELLO = {
  ismaster: true,
  isWritablePrimary: true,
  helloOk: true,
  maxBsonObjectSize: 16 * 1024 * 1024,
  maxMessageSizeBytes: 48_000_000,
  maxWriteBatchSize: 100_000,
  logicalSessionTimeoutMinutes: 30,
  connectionId: 1,
  minWireVersion: 0,
  maxWireVersion: 21,
  readOnly: false,
  ok: 1,
};

/** Starts a server on a free loopback port; `answer` gets every command but the handshake. */
export function startWireServer(answer: Answer, hello: Document = HELLO): WireServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const commands: WireServer["commands"] = [];
  const connections = new Set<Deno.Conn>();
  const serve = async (conn: Deno.Conn) => {
    connections.add(conn);
    let pending = new Uint8Array(0);
    const chunk = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const read = await conn.read(chunk);
        if (read === null) break;
        const joined = new Uint8Array(pending.length + read);
        joined.set(pending);
        joined.set(chunk.subarray(0, read), pending.length);
        pending = joined;
        while (pending.length >= 16) {
          const view = new DataView(pending.buffer, pending.byteOffset, pending.byteLength);
          const length = view.getInt32(0, true);
          if (pending.length < length) break;
          const message = pending.slice(0, length);
          pending = pending.slice(length);
          const requestId = view.getInt32(4, true);
          const opCode = view.getInt32(12, true);
          let reply: Uint8Array;
          if (opCode === OP_QUERY) {
            const nameEnd = cstringEnd(message, 20);
            const queryAt = nameEnd + 1 + 8;
            const size = new DataView(message.buffer).getInt32(queryAt, true);
            const query = deserialize(message.subarray(queryAt, queryAt + size));
            commands.push({ name: Object.keys(query)[0], body: query, at: performance.now() });
            reply = opReply(requestId, hello);
          } else if (opCode === OP_MSG) {
            const body = readOpMsg(message);
            const name = Object.keys(body)[0];
            commands.push({ name, body, at: performance.now() });
            const isHello = ["hello", "ismaster", "isMaster"].includes(name);
            const answered = isHello ? hello : answer(body) ?? { ok: 1 };
            // The answer is lost: the connection drops after the command took effect.
            if (answered === DROP_CONNECTION) throw new Error("connection dropped on purpose");
            reply = opMsgReply(requestId, answered);
          } else {
            throw new Error(`opcode ${opCode} not spoken here`);
          }
          await conn.write(reply);
        }
      }
    } catch {
      // The client went away.
    } finally {
      connections.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  };
  const accepting = (async () => {
    try {
      for await (const conn of listener) serve(conn);
    } catch {
      // closed
    }
  })();
  const { port } = listener.addr as Deno.NetAddr;
  return {
    url:
      `mongodb://127.0.0.1:${port}/pensieve_wire?serverSelectionTimeoutMS=2000&directConnection=true`,
    commands,
    async close() {
      listener.close();
      for (const conn of connections) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await accepting;
    },
  };
}

interface Index {
  name: string;
  keys: string[];
  unique: boolean;
}

interface Coll {
  docs: Document[];
  indexes: Index[];
}

const clone = <T>(value: T): T => {
  if (value === null || typeof value !== "object") return value;
  return deserialize(serialize({ v: value })).v as T;
};

function failure(code: number, codeName: string, errmsg: string): Document {
  return { ok: 0, code, codeName, errmsg };
}

class DuplicateKey extends Error {}

/**
 * The in-memory engine: `answer` for {@link startWireServer}. Every command runs to its end before
 * the next starts, so each is atomic (MongoDB promises that per document only).
 */
export function memoryEngine(): Answer {
  const databases = new Map<string, Map<string, Coll>>();
  const collection = (db: string, name: string): Coll => {
    let colls = databases.get(db);
    if (!colls) databases.set(db, colls = new Map());
    let coll = colls.get(name);
    if (!coll) colls.set(name, coll = { docs: [], indexes: [] });
    return coll;
  };
  const checkUnique = (coll: Coll, doc: Document, except?: Document) => {
    const uniques = [{ name: "_id_", keys: ["_id"], unique: true }, ...coll.indexes];
    for (const index of uniques) {
      if (!index.unique) continue;
      const key = (d: Document) => JSON.stringify(index.keys.map((k) => d[k] ?? null));
      const mine = key(doc);
      if (coll.docs.some((other) => other !== except && key(other) === mine)) {
        throw new DuplicateKey(`E11000 duplicate key error collection index: ${index.name}`);
      }
    }
  };
  const insert = (coll: Coll, doc: Document): Document => {
    const stored = clone(doc);
    if (stored._id === undefined) stored._id = new ObjectId();
    checkUnique(coll, stored);
    coll.docs.push(stored);
    return stored;
  };
  /** The document an upsert inserts: the query's equalities, then the update. */
  const upserted = (query: Document, update: Document): Document => {
    const base: Document = {};
    for (const [key, value] of Object.entries(query)) {
      if (key.startsWith("$")) continue;
      const isOperator = value && typeof value === "object" && !(value instanceof ObjectId) &&
        !(value instanceof Date) && !Array.isArray(value) &&
        Object.keys(value).some((k) => k.startsWith("$"));
      if (!isOperator) base[key] = value;
    }
    return applyUpdate(base, update, clone, true);
  };
  const update = (coll: Coll, doc: Document, change: Document): Document => {
    if (!Object.keys(change).every((key) => key.startsWith("$"))) {
      throw new Error("fake mongo: replacement updates are not understood");
    }
    const next = applyUpdate(doc, change, clone);
    next._id = doc._id;
    checkUnique(coll, next, doc);
    coll.docs[coll.docs.indexOf(doc)] = next;
    return next;
  };
  const find = (coll: Coll, filter: Document = {}) => coll.docs.filter((d) => matches(d, filter));
  const cursor = (db: string, name: string, batch: Document[]) => ({
    cursor: { firstBatch: batch, id: Long.fromNumber(0), ns: `${db}.${name}` },
    ok: 1,
  });

  return (command) => {
    const name = Object.keys(command)[0];
    const db = command.$db as string;
    try {
      switch (name) {
        case "ping":
        case "endSessions":
        case "killCursors":
          return { ok: 1 };
        case "dropDatabase":
          databases.delete(db);
          return { ok: 1 };
        case "createIndexes": {
          const coll = collection(db, command.createIndexes);
          for (const spec of command.indexes as Document[]) {
            if (Object.values(spec.key).some((v) => v === "text")) {
              return failure(67, "CannotCreateIndex", "text indexes are not supported here");
            }
            if (coll.indexes.some((index) => index.name === spec.name)) continue;
            const index = { name: spec.name, keys: Object.keys(spec.key), unique: !!spec.unique };
            coll.indexes.push(index);
            for (const doc of coll.docs) checkUnique(coll, doc, doc);
          }
          return { ok: 1, numIndexesAfter: coll.indexes.length + 1 };
        }
        case "listIndexes": {
          const coll = databases.get(db)?.get(command.listIndexes);
          if (!coll) return failure(26, "NamespaceNotFound", `ns does not exist`);
          const specs = [
            { v: 2, key: { _id: 1 }, name: "_id_" },
            ...coll.indexes.map((index) => ({
              v: 2,
              key: Object.fromEntries(index.keys.map((k) => [k, 1])),
              name: index.name,
              ...(index.unique ? { unique: true } : {}),
            })),
          ];
          return cursor(db, command.listIndexes, specs);
        }
        case "insert": {
          const coll = collection(db, command.insert);
          let n = 0;
          const writeErrors: Document[] = [];
          for (const [index, doc] of (command.documents as Document[]).entries()) {
            try {
              insert(coll, doc);
              n++;
            } catch (error) {
              if (!(error instanceof DuplicateKey)) throw error;
              writeErrors.push({ index, code: 11000, errmsg: error.message });
              if (command.ordered !== false) break;
            }
          }
          return writeErrors.length ? { ok: 1, n, writeErrors } : { ok: 1, n };
        }
        case "find": {
          const coll = collection(db, command.find);
          if (command.filter && "$text" in command.filter) {
            return failure(27, "IndexNotFound", "text index required for $text query");
          }
          let docs = sortDocs(find(coll, command.filter), command.sort);
          if (command.skip) docs = docs.slice(command.skip);
          const limit = Math.abs(Number(command.limit ?? 0));
          if (limit) docs = docs.slice(0, limit);
          return cursor(db, command.find, docs.map((d) => project(d, command.projection, clone)));
        }
        case "update": {
          const coll = collection(db, command.update);
          let n = 0;
          let nModified = 0;
          const upsertedIds: Document[] = [];
          for (const [index, spec] of (command.updates as Document[]).entries()) {
            const hits = find(coll, spec.q);
            if (!hits.length && spec.upsert) {
              try {
                const doc = insert(coll, upserted(spec.q, spec.u));
                upsertedIds.push({ index, _id: doc._id });
                n++;
              } catch (error) {
                if (!(error instanceof DuplicateKey)) throw error;
                return {
                  ok: 1,
                  n,
                  nModified,
                  writeErrors: [{ index, code: 11000, errmsg: error.message }],
                };
              }
              continue;
            }
            for (const doc of spec.multi ? hits : hits.slice(0, 1)) {
              update(coll, doc, spec.u);
              n++;
              nModified++;
            }
          }
          return upsertedIds.length
            ? { ok: 1, n, nModified, upserted: upsertedIds }
            : { ok: 1, n, nModified };
        }
        case "delete": {
          const coll = collection(db, command.delete);
          let n = 0;
          for (const spec of command.deletes as Document[]) {
            const hits = find(coll, spec.q);
            for (const doc of spec.limit === 1 ? hits.slice(0, 1) : hits) {
              coll.docs.splice(coll.docs.indexOf(doc), 1);
              n++;
            }
          }
          return { ok: 1, n };
        }
        case "findAndModify": {
          const coll = collection(db, command.findAndModify);
          const [hit] = sortDocs(find(coll, command.query), command.sort);
          if (command.remove) {
            if (hit) coll.docs.splice(coll.docs.indexOf(hit), 1);
            return {
              ok: 1,
              lastErrorObject: { n: hit ? 1 : 0 },
              value: hit ? project(hit, command.fields, clone) : null,
            };
          }
          if (!hit) {
            if (!command.upsert) {
              return { ok: 1, lastErrorObject: { n: 0, updatedExisting: false }, value: null };
            }
            const doc = insert(coll, upserted(command.query, command.update));
            return {
              ok: 1,
              lastErrorObject: { n: 1, updatedExisting: false, upserted: doc._id },
              value: command.new ? project(doc, command.fields, clone) : null,
            };
          }
          const after = update(coll, hit, command.update);
          return {
            ok: 1,
            lastErrorObject: { n: 1, updatedExisting: true },
            value: project(command.new ? after : hit, command.fields, clone),
          };
        }
        case "aggregate": {
          const coll = collection(db, command.aggregate);
          let docs = find(coll, {});
          for (const stage of command.pipeline as Document[]) {
            const [op] = Object.keys(stage);
            if (op === "$match") docs = docs.filter((d) => matches(d, stage.$match));
            else if (op === "$skip") docs = docs.slice(stage.$skip);
            else if (op === "$limit") docs = docs.slice(0, stage.$limit);
            else if (op === "$group" && stage.$group._id === 1) {
              docs = docs.length ? [{ _id: 1, n: docs.length }] : [];
            } else {
              return failure(40324, "Location40324", `Unrecognized pipeline stage name: '${op}'`);
            }
          }
          return cursor(db, command.aggregate, docs.map((d) => clone(d)));
        }
        default:
          return failure(59, "CommandNotFound", `no such command: '${name}'`);
      }
    } catch (error) {
      if (error instanceof DuplicateKey) return failure(11000, "DuplicateKey", error.message);
      return failure(1, "InternalError", String(error));
    }
  };
}

/** Compares as the engine does; exported for tests of the engine itself. */
export { compare };
