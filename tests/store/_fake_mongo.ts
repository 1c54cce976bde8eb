/**
 * A small in-memory stand-in for the few MongoDB collection calls the append path makes, with
 * unique indexes and hooks that fail a call before or after it takes effect (a lost answer), or
 * hold it (a stalled instance). It is not MongoDB: it exists so that the append protocol's
 * interleavings (db/mongo/append.ts) can be driven step by step without a server. Only the
 * operators append.ts uses are understood; anything else throws, so a test never passes by
 * accident on a query the fake misreads.
 */

// deno-lint-ignore no-explicit-any
type Doc = Record<string, any>;

export type Phase = "before" | "after";
/** Called around every operation; may throw (to fail the call) or wait (to stall it). */
export type Hook = (op: string, collection: string, phase: Phase, args: unknown[]) => Promise<void>;

function isOperatorObject(value: unknown): value is Doc {
  return !!value && typeof value === "object" && !Array.isArray(value) &&
    Object.keys(value).length > 0 && Object.keys(value).every((key) => key.startsWith("$"));
}

export function compare(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  throw new Error(`fake mongo: cannot compare ${typeof a} with ${typeof b}`);
}

function equal(value: unknown, wanted: unknown): boolean {
  if (wanted === null) return value === null || value === undefined;
  if (Array.isArray(value) && !Array.isArray(wanted)) return value.includes(wanted);
  return JSON.stringify(value) === JSON.stringify(wanted);
}

function matchesCondition(value: unknown, condition: unknown): boolean {
  if (!isOperatorObject(condition)) return equal(value, condition);
  return Object.entries(condition).every(([op, operand]) => {
    switch (op) {
      case "$ne":
        return !equal(value, operand);
      case "$in":
        return (operand as unknown[]).some((item) => equal(value, item));
      case "$gt":
        return value !== undefined && value !== null && compare(value, operand) > 0;
      case "$gte":
        return value !== undefined && value !== null && compare(value, operand) >= 0;
      case "$lt":
        return value !== undefined && value !== null && compare(value, operand) < 0;
      case "$lte":
        return value !== undefined && value !== null && compare(value, operand) <= 0;
      case "$exists":
        return (value !== undefined) === operand;
      case "$regex": {
        const flags = typeof condition.$options === "string" ? condition.$options : "";
        return typeof value === "string" && new RegExp(operand as string, flags + "u").test(value);
      }
      case "$options":
        return true;
      default:
        throw new Error(`fake mongo: operator ${op} is not understood`);
    }
  });
}

export function matches(doc: Doc, filter: Doc): boolean {
  return Object.entries(filter).every(([key, condition]) => {
    if (key === "$or") return (condition as Doc[]).some((branch) => matches(doc, branch));
    if (key === "$and") return (condition as Doc[]).every((branch) => matches(doc, branch));
    if (key.startsWith("$")) throw new Error(`fake mongo: ${key} is not understood`);
    return matchesCondition(doc[key], condition);
  });
}

export function applyUpdate(
  doc: Doc,
  update: Doc,
  clone: <T>(value: T) => T = structuredClone,
  inserting = false,
): Doc {
  const next = clone(doc);
  for (const [op, fields] of Object.entries(update)) {
    for (const [key, value] of Object.entries(fields as Doc)) {
      switch (op) {
        case "$set":
          next[key] = clone(value);
          break;
        case "$unset":
          delete next[key];
          break;
        case "$inc":
          next[key] = (next[key] ?? 0) + value;
          break;
        case "$max":
          if (next[key] === undefined || compare(value, next[key]) > 0) next[key] = value;
          break;
        case "$setOnInsert":
          if (inserting) next[key] = clone(value);
          break;
        default:
          throw new Error(`fake mongo: update ${op} is not understood`);
      }
    }
  }
  return next;
}

export function project(
  doc: Doc,
  projection?: Doc,
  clone: <T>(value: T) => T = structuredClone,
): Doc {
  const copy = clone(doc);
  if (!projection) return copy;
  const values = Object.values(projection).filter((v) => typeof v === "number");
  if (values.every((v) => v === 0)) {
    for (const key of Object.keys(projection)) delete copy[key];
    return copy;
  }
  const out: Doc = projection._id === 0 ? {} : { _id: copy._id };
  for (const [key, v] of Object.entries(projection)) {
    if (v === 1 && key in copy) out[key] = copy[key];
  }
  return out;
}

export function sortDocs(docs: Doc[], sort?: Doc): Doc[] {
  if (!sort) return docs;
  const rank = (x: unknown, y: unknown) =>
    x == null ? (y == null ? 0 : -1) : y == null ? 1 : compare(x, y);
  return [...docs].sort((a, b) => {
    for (const [key, direction] of Object.entries(sort)) {
      if (typeof direction !== "number") continue;
      const order = rank(a[key], b[key]) * direction;
      if (order) return order;
    }
    return 0;
  });
}

export class DuplicateKeyError extends Error {
  code = 11000;
  constructor(readonly index: string) {
    super(`E11000 duplicate key error index: ${index}`);
    this.name = "MongoServerError";
  }
}

export class FakeCollection {
  docs: Doc[] = [];
  #nextId = 1;

  constructor(
    readonly name: string,
    readonly unique: string[][],
    readonly hook: () => Hook,
  ) {}

  async #op<T>(op: string, args: unknown[], apply: () => T): Promise<T> {
    await this.hook()(op, this.name, "before", args);
    // Another caller may run between a call's start and its effect, as on a real server.
    await new Promise((resolve) => setTimeout(resolve, 0));
    const result = apply();
    await this.hook()(op, this.name, "after", args);
    return result;
  }

  #checkUnique(doc: Doc, except?: Doc): void {
    for (const keys of [["_id"], ...this.unique]) {
      const clash = this.docs.find((other) =>
        other !== except && keys.every((key) => equal(other[key], doc[key] ?? null))
      );
      if (clash) throw new DuplicateKeyError(keys.join("_"));
    }
  }

  #insert(doc: Doc): void {
    const stored = structuredClone(doc);
    stored._id ??= `oid${this.#nextId++}`;
    this.#checkUnique(stored);
    this.docs.push(stored);
  }

  findOne(filter: Doc, options: { projection?: Doc } = {}) {
    return this.#op("findOne", [filter], () => {
      const doc = this.docs.find((d) => matches(d, filter));
      return doc ? project(doc, options.projection) : null;
    });
  }

  find(filter: Doc, options: { projection?: Doc; sort?: Doc; limit?: number } = {}) {
    return {
      toArray: () =>
        this.#op("find", [filter], () => {
          const found = sortDocs(this.docs.filter((d) => matches(d, filter)), options.sort);
          return found.slice(0, options.limit || undefined).map((d) =>
            project(d, options.projection)
          );
        }),
    };
  }

  countDocuments(filter: Doc) {
    return this.#op(
      "countDocuments",
      [filter],
      () => this.docs.filter((d) => matches(d, filter)).length,
    );
  }

  insertOne(doc: Doc) {
    return this.#op("insertOne", [doc], () => {
      this.#insert(doc);
      return { acknowledged: true };
    });
  }

  insertMany(docs: Doc[], _options: { ordered: true }) {
    return this.#op("insertMany", [docs], () => {
      docs.forEach((doc, index) => {
        try {
          this.#insert(doc);
        } catch (error) {
          throw Object.assign(new Error("bulk write failed"), {
            name: "MongoBulkWriteError",
            code: 11000,
            writeErrors: [{ index, code: 11000, errmsg: (error as Error).message }],
          });
        }
      });
      return { insertedCount: docs.length };
    });
  }

  #update(filter: Doc, update: Doc): { before: Doc; after: Doc } | null {
    const doc = this.docs.find((d) => matches(d, filter));
    if (!doc) return null;
    const after = applyUpdate(doc, update);
    this.#checkUnique(after, doc);
    const before = structuredClone(doc);
    this.docs[this.docs.indexOf(doc)] = after;
    return { before, after };
  }

  updateOne(filter: Doc, update: Doc) {
    return this.#op("updateOne", [filter, update], () => {
      const done = this.#update(filter, update);
      return { matchedCount: done ? 1 : 0, modifiedCount: done ? 1 : 0 };
    });
  }

  findOneAndUpdate(
    filter: Doc,
    update: Doc,
    options: { returnDocument?: "before" | "after"; projection?: Doc } = {},
  ) {
    return this.#op("findOneAndUpdate", [filter, update], () => {
      const done = this.#update(filter, update);
      if (!done) return null;
      return project(
        options.returnDocument === "after" ? done.after : done.before,
        options.projection,
      );
    });
  }

  deleteOne(filter: Doc) {
    return this.#op("deleteOne", [filter], () => {
      const index = this.docs.findIndex((d) => matches(d, filter));
      if (index >= 0) this.docs.splice(index, 1);
      return { deletedCount: index >= 0 ? 1 : 0 };
    });
  }

  findOneAndDelete(filter: Doc, options: { projection?: Doc } = {}) {
    return this.#op("findOneAndDelete", [filter], () => {
      const index = this.docs.findIndex((d) => matches(d, filter));
      if (index < 0) return null;
      const [doc] = this.docs.splice(index, 1);
      return project(doc, options.projection);
    });
  }

  deleteMany(filter: Doc) {
    return this.#op("deleteMany", [filter], () => {
      const before = this.docs.length;
      this.docs = this.docs.filter((d) => !matches(d, filter));
      return { deletedCount: before - this.docs.length };
    });
  }
}

/** A network failure as the driver reports it: the call may or may not have taken effect. */
export function networkError(): Error {
  return Object.assign(new Error("connection reset by peer"), { name: "MongoNetworkError" });
}
