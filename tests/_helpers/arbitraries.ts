/**
 * fast-check arbitraries built from the zod schemas the routes and tools validate with: valid
 * inputs by construction (generated from the schema's JSON Schema, kept only when the schema
 * itself accepts them), and invalid ones made by mutating valid ones (kept only when the schema
 * refuses them), so the tests and the server never disagree about which is which.
 */
import fc from "fast-check";
import { z } from "zod";

/** JSON text put in place as is: what JSON.stringify cannot write (`1e400`, 100k nesting). */
export class RawJson {
  constructor(readonly text: string) {}
}

/** An object with exactly these own keys, `__proto__` included (plain assignment would not). */
export function objectFrom(entries: [string, unknown][]): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [key, value] of entries) {
    Object.defineProperty(object, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return object;
}

/**
 * The JSON text of a value that may hold RawJson pieces.
 *
 * @example
 * ```ts
 * jsonText({ n: new RawJson("1e400") }); // '{"n":1e400}'
 * ```
 */
export function jsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${value.map(jsonText).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    return `{${
      Object.keys(value).map((key) =>
        `${JSON.stringify(key)}:${jsonText((value as Record<string, unknown>)[key])}`
      ).join(",")
    }}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** What the server reads from `text`: JSON.parse, or undefined when it is not JSON. */
export function parsedJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/**
 * Whether the server should accept `text` as a body for `schema`: it is JSON and the schema
 * parses it. A schema that throws (a stack overflow deep inside a refinement) does not accept.
 */
export function accepts(schema: z.ZodType, text: string): boolean {
  const parsed = parsedJson(text);
  if (!parsed.ok) return false;
  try {
    return schema.safeParse(parsed.value).success;
  } catch {
    return false;
  }
}

/** A JSON Schema as zod writes it, the parts these generators read. */
interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  default?: unknown;
}

/** Text a person or a hostile client might send that is still storable. */
const AWKWARD_TEXT = [
  " padded ",
  "<script>alert(1)</script>",
  "'; DROP TABLE messages; --",
  'NEAR(a b) OR "x" * ^c -d',
  "\u202Eevil\u202C",
  "e\u0301 (NFD)",
  "\uFB01 ligature",
  "\uFEFFbom",
  "line\u2028separator",
  "\u{1D11E} astral",
  "\u{1F642}\u200D\u2194\uFE0F zwj",
  "\t\r\n",
  "{{template}} ${x}",
  "\\u0000 (escaped, not a NUL)",
];

/** Keys that have tripped JavaScript servers before. */
export const AWKWARD_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "",
  "$where",
  "a.b",
  "\u0000",
];

const unit = fc.oneof(
  fc.constant("grapheme" as const),
  fc.constant("binary" as const),
  fc.constant("grapheme-ascii" as const),
);

function text(min = 0, max = Number.POSITIVE_INFINITY): fc.Arbitrary<string> {
  const cap = Math.max(min, Math.min(max, 40));
  const plain = unit.chain((u) => fc.string({ unit: u, minLength: min, maxLength: cap }));
  const choices = [
    { weight: 16, arbitrary: plain },
    { weight: 3, arbitrary: fc.constantFrom(...AWKWARD_TEXT) },
  ];
  if (Number.isFinite(max)) {
    // At the limit exactly, in one-byte and in four-byte (two UTF-16 units) characters.
    choices.push({
      weight: 1,
      arbitrary: fc.constantFrom("a".repeat(max), "\u{1F642}".repeat(Math.floor(max / 2))),
    });
  }
  return fc.oneof(...choices);
}

function isoTime(): fc.Arbitrary<string> {
  const date = fc.date({
    min: new Date("0001-01-01T00:00:00Z"),
    max: new Date("9999-12-31T23:59:59Z"),
    noInvalidDate: true,
  });
  return fc.tuple(date, fc.constantFrom("Z", "+00:00", "+05:30", "-11:00", "short")).map(
    ([d, zone]) => {
      const iso = d.toISOString();
      if (zone === "short") return iso.replace(/\.\d+Z$/, "Z");
      return zone === "Z" ? iso : iso.slice(0, -1) + zone;
    },
  );
}

/** Any JSON value, with awkward keys and strings, a few levels deep. */
export function jsonValue(maxDepth = 3): fc.Arbitrary<unknown> {
  const { tree } = fc.letrec((tie) => ({
    tree: fc.oneof(
      { depthSize: "small", maxDepth },
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      text(),
      fc.array(tie("tree"), { maxLength: 4 }),
      fc.array(fc.tuple(fc.oneof(fc.string(), fc.constantFrom(...AWKWARD_KEYS)), tie("tree")), {
        maxLength: 4,
      }).map(objectFrom),
    ),
  }));
  return tree;
}

/** Overrides for fields whose JSON Schema says less than the zod schema (an email's pipe). */
export type Overrides = Record<string, fc.Arbitrary<unknown>>;

function fromJsonSchema(
  schema: JsonSchema,
  path: string,
  overrides: Overrides,
): fc.Arbitrary<unknown> {
  const override = overrides[path];
  if (override) return override;
  if (schema.enum) return fc.constantFrom(...schema.enum);
  switch (schema.type) {
    case "object": {
      const properties = schema.properties ?? {};
      if (Object.keys(properties).length === 0 && schema.additionalProperties) {
        return fc.array(
          fc.tuple(
            fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom(...AWKWARD_KEYS)),
            jsonValue(),
          ),
          { maxLength: 5 },
        ).map(objectFrom);
      }
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, property] of Object.entries(properties)) {
        model[key] = fromJsonSchema(property, path ? `${path}.${key}` : key, overrides);
      }
      return fc.record(model, { requiredKeys: schema.required ?? [] });
    }
    case "array": {
      const items = fromJsonSchema(schema.items ?? {}, `${path}[]`, overrides);
      const min = schema.minItems ?? 0;
      const max = schema.maxItems ?? 10;
      const small = fc.array(items, { minLength: min, maxLength: Math.max(min, Math.min(max, 4)) });
      // Now and then exactly as many as allowed.
      return max > 4
        ? fc.oneof({ weight: 9, arbitrary: small }, {
          weight: 1,
          arbitrary: items.filter((item) => jsonText(item).length < 200).map((item) =>
            Array(max).fill(item)
          ),
        })
        : small;
    }
    case "string": {
      if (schema.format === "date-time") return isoTime();
      if (schema.format === "uuid") return fc.uuid();
      if (schema.format === "email") return emailAddress();
      if (schema.pattern) {
        return fc.stringMatching(new RegExp(schema.pattern)).filter((s) =>
          s.length >= (schema.minLength ?? 0) && s.length <= (schema.maxLength ?? Infinity)
        );
      }
      return text(schema.minLength ?? 0, schema.maxLength);
    }
    case "integer": {
      const min = schema.minimum ?? -(2 ** 31);
      const max = schema.maximum ?? 2 ** 31 - 1;
      return fc.oneof(
        fc.integer({ min, max: Math.min(max, 2 ** 31 - 1) }),
        fc.constantFrom(min, max),
      );
    }
    case "number":
      return fc.double({ min: schema.minimum, max: schema.maximum, noNaN: true });
    case "boolean":
      return fc.boolean();
    default:
      return jsonValue();
  }
}

/** An email address zod accepts, sometimes in upper case or with spaces around it. */
export function emailAddress(): fc.Arbitrary<string> {
  const part = fc.stringMatching(/^[a-z0-9]([a-z0-9._+-]{0,10}[a-z0-9])?$/);
  return fc.tuple(part, fc.stringMatching(/^[a-z0-9]{1,10}$/), fc.constantFrom("com", "io", "dev"))
    .chain(([local, domain, tld]) =>
      fc.constantFrom(
        `${local}@${domain}.${tld}`,
        ` ${local}@${domain}.${tld.toUpperCase()} `,
        `${local.toUpperCase()}@${domain}.${tld}`,
      )
    );
}

/**
 * Values `schema` accepts, generated from its JSON Schema (input side) and kept only when the
 * schema parses them: its refinements (no NUL, sizes in bytes) decide, not a copy of them.
 */
export function validInput<S extends z.ZodType>(
  schema: S,
  overrides: Overrides = {},
): fc.Arbitrary<z.input<S>> {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  return fromJsonSchema(json, "", overrides).filter((value) =>
    accepts(schema, jsonText(value))
  ) as fc.Arbitrary<z.input<S>>;
}

/** Strings no schema should store: NULs, unpaired surrogates, blank, or far too long. */
export const HOSTILE_STRINGS: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "\u0000",
    "a\u0000b",
    "\ud800",
    "x\udfffy",
    "\ud83d",
    "   ",
    "",
    "x".repeat(51),
    "x".repeat(65),
    "x".repeat(101),
    "x".repeat(129),
    "x".repeat(255),
    "x".repeat(301),
    "x".repeat(501),
    "x".repeat(1025),
  ),
  fc.constant("y".repeat(1024 * 1024 + 1)),
);

/** Values of the wrong type for almost any field. */
export const WRONG_TYPES: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 53 + 2, -0, [], {}, [[]], "", "x"),
  fc.constantFrom(
    new RawJson("1e400"),
    new RawJson("-1e400"),
    new RawJson("123456789012345678901234567890"),
    new RawJson("0.0000000000000000000000001"),
  ),
);

/** Nesting a parser or a recursive walk may choke on. */
export const DEEP_NESTING: fc.Arbitrary<RawJson> = fc.tuple(
  fc.constantFrom(64, 1000, 10_000, 100_000),
  fc.constantFrom("[", '{"a":'),
).map(([depth, open]) => {
  const close = open === "[" ? "]" : "}";
  const inner = open === "[" ? "" : "1";
  return new RawJson(open.repeat(depth) + inner + close.repeat(depth));
});

type Path = (string | number)[];

function paths(value: unknown, prefix: Path = []): Path[] {
  const out: Path[] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (typeof value === "object" && value !== null && !(value instanceof RawJson)) {
    for (const key of Object.keys(value)) {
      out.push(...paths((value as Record<string, unknown>)[key], [...prefix, key]));
    }
  }
  return out;
}

function clone(value: unknown): unknown {
  if (value instanceof RawJson) return value;
  if (Array.isArray(value)) return value.map(clone);
  if (typeof value === "object" && value !== null) {
    return objectFrom(
      Object.keys(value).map((k) => [k, clone((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

function at(root: unknown, path: Path): unknown {
  return path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], root);
}

/** `root` with the value at `path` replaced by `replace(old)`; the root itself when path is []. */
function replaced(root: unknown, path: Path, replace: (old: unknown) => unknown): unknown {
  if (path.length === 0) return replace(root);
  const copy = clone(root);
  const parent = at(copy, path.slice(0, -1)) as Record<string | number, unknown>;
  const key = path[path.length - 1];
  Object.defineProperty(parent, key, {
    value: replace(parent[key]),
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return copy;
}

/** One hostile change somewhere in `value`. */
function mutation(value: unknown): fc.Arbitrary<unknown> {
  const all = paths(value);
  const objects = all.filter((p) => {
    const v = at(value, p);
    return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof RawJson);
  });
  const keyed = all.filter((p) => p.length > 0 && typeof p[p.length - 1] === "string");
  const arrays = all.filter((p) => Array.isArray(at(value, p)));
  const choices: fc.Arbitrary<unknown>[] = [
    fc.tuple(fc.constantFrom(...all), WRONG_TYPES).map(([p, v]) => replaced(value, p, () => v)),
    fc.tuple(fc.constantFrom(...all), HOSTILE_STRINGS).map(([p, v]) => replaced(value, p, () => v)),
    fc.tuple(fc.constantFrom(...all), DEEP_NESTING).map(([p, v]) => replaced(value, p, () => v)),
  ];
  if (objects.length) {
    choices.push(
      fc.tuple(fc.constantFrom(...objects), fc.constantFrom(...AWKWARD_KEYS, "extra"), jsonValue(1))
        .map(([p, key, v]) =>
          replaced(value, p, (old) => objectFrom([...Object.entries(old as object), [key, v]]))
        ),
    );
  }
  if (keyed.length) {
    choices.push(
      fc.constantFrom(...keyed).map((p) =>
        replaced(value, p.slice(0, -1), (old) =>
          objectFrom(
            Object.entries(old as object).filter(([k]) => k !== p[p.length - 1]),
          ))
      ),
    );
  }
  if (arrays.length) {
    choices.push(
      fc.tuple(fc.constantFrom(...arrays), fc.constantFrom(21, 1001, 5000)).map(([p, n]) =>
        replaced(value, p, (old) => {
          const first = (old as unknown[])[0];
          return Array(n).fill(first !== undefined && jsonText(first).length < 1000 ? first : "x");
        })
      ),
    );
  }
  return fc.oneof(...choices);
}

/**
 * Values `schema` refuses: a valid value with one hostile change (wrong type, bad text, deep
 * nesting, an unknown or missing key, too many items), kept only when the schema refuses it.
 */
export function invalidInput<S extends z.ZodType>(
  schema: S,
  valid: fc.Arbitrary<unknown> = validInput(schema),
): fc.Arbitrary<unknown> {
  return valid.chain(mutation).filter((value) => !accepts(schema, jsonText(value)));
}

/** Bodies that are not the JSON they claim to be. */
export function brokenJson(valid: fc.Arbitrary<unknown>): fc.Arbitrary<string | Uint8Array> {
  return fc.oneof(
    valid.chain((v) => {
      const text = jsonText(v);
      return fc.integer({ min: 0, max: Math.max(0, text.length - 1) }).map((n) => text.slice(0, n));
    }),
    valid.map((v) => jsonText(v) + "}"),
    valid.map((v) => jsonText(v) + " garbage"),
    valid.map((v) => "\u0000" + jsonText(v)),
    valid.map((v) => jsonText(v).replace(/"/, "'")),
    fc.constantFrom("", " ", "null", "[]", "true", "0", '"text"', "{", "}", "NaN", "undefined"),
    fc.constantFrom(
      new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
      new Uint8Array([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]),
      new Uint8Array([0xc0, 0x80]),
    ),
  );
}

/** Identifiers that are not ids: malformed, percent-encoded oddities, far too long. */
export const BAD_IDS: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "not-a-uuid",
    "00000000-0000-0000-0000-000000000000",
    "%00",
    "%ZZ",
    "%E0%A4%A",
    "%ED%A0%80",
    "..%2F..%2Fetc",
    "%20",
    "a".repeat(5000),
    "' OR 1=1 --",
    "%F0%9F%99%82",
  ),
  fc.uuid(),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,60}$/),
);

/** base64url of the UTF-8 of `text`, as cursors are written. */
function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replaceAll("=", "");
}

/** Cursors that were never given out. */
export const BAD_CURSORS: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom("", "%00", "====", "A".repeat(500)),
  jsonValue(2).map((v) => base64url(jsonText(v))),
  fc.constantFrom(
    { u: 1e308, i: "x" },
    { u: -1, i: "" },
    { u: "1", i: 1 },
    { o: -1, q: "a" },
    { o: 1e9, q: "a" },
    { o: 1.5, q: "a" },
    { s: -2 },
    { s: 2 ** 60 },
    { s: "0" },
  ).map((v) => base64url(JSON.stringify(v))),
);
