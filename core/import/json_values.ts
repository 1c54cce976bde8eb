import { Invalid } from "../errors.ts";

/**
 * One value cut out of a JSON text, still as bytes, or the reason it was left out (too large or
 * nested too deep: its bytes were passed over, never held).
 */
export interface JsonValueBytes {
  /** The member's name for a member of a top-level object; null for a list item or a document. */
  key: string | null;
  /** Its place among the items of its list, or the documents of the file, from 0. */
  index: number;
  bytes: Uint8Array | null;
  /** Why the value was left out; null when `bytes` holds it. */
  problem: string | null;
}

/**
 * What the text holds at the top, decided by its first character:
 * - `list-or-object`: `[…]` gives its items; `{…}` gives its members, and the member named
 *   `listKey` must be a list whose items come out one by one (with that key).
 * - `list-or-sequence`: `[…]` gives its items; otherwise values one after another (JSON lines,
 *   or one document).
 */
export type JsonShape = "list-or-object" | "list-or-sequence";

export interface JsonValuesOptions {
  shape: JsonShape;
  listKey?: string;
  /** A value larger than this is passed over and reported, never held. */
  maxValueBytes: number;
  /** A value nested deeper than this is passed over and reported. */
  maxDepth: number;
  /** What a value is called in error messages ("conversation"); "value" by default. */
  noun?: string;
}

const SPACE = 0x20, TAB = 0x09, LF = 0x0a, CR = 0x0d;
const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, COLON = 0x3a;
const OPEN_LIST = 0x5b, CLOSE_LIST = 0x5d, OPEN_OBJECT = 0x7b, CLOSE_OBJECT = 0x7d;
const MAX_KEY_BYTES = 1024;

const enum State {
  Start,
  /** A list has opened: an item or its end. */
  FirstItem,
  AfterItem,
  NextItem,
  FirstMember,
  Key,
  Colon,
  MemberValue,
  AfterMember,
  NextMember,
  /** Values one after another. */
  Sequence,
  /** Inside a value. */
  Value,
  End,
}

const enum Kind {
  Container,
  Text,
  Literal,
}

function isSpace(b: number): boolean {
  return b === SPACE || b === LF || b === CR || b === TAB;
}

/** Bytes as a reader would name them in an error message. */
function shown(b: number): string {
  return b >= 0x20 && b < 0x7f ? `'${String.fromCharCode(b)}'` : `byte 0x${b.toString(16)}`;
}

/**
 * Cuts the values out of a JSON text as its bytes arrive, holding at most one value's bytes (up
 * to `maxValueBytes`) and a counter for nesting, whatever the text holds. A value too large or too
 * deep is passed over and reported, and the values after it still come out. Values are handed out
 * only when asked for (`next()`), so however fast bytes are written, nothing piles up but bytes.
 *
 * The structure around the values (the list's brackets and commas, an object's member names) is
 * checked here; a value's own text is checked by whoever parses its bytes.
 *
 * @example
 * ```ts
 * const values = new JsonValues("conversations.json", {
 *   shape: "list-or-object",
 *   maxValueBytes: 64 * 1024 * 1024,
 *   maxDepth: 256,
 * });
 * values.write(new TextEncoder().encode('[{"id": 1}, {"id": 2}]'));
 * values.end();
 * for (let v = values.next(); v; v = values.next()) JSON.parse(new TextDecoder().decode(v.bytes!));
 * ```
 */
export class JsonValues {
  /** What the text turned out to hold: a list, an object, or values one after another. */
  shape: "list" | "object" | "sequence" | null = null;
  /** Every byte has been read and the text was whole. */
  done = false;

  readonly #name: string;
  readonly #options: JsonValuesOptions;
  readonly #input: Uint8Array[] = [];
  #ended = false;
  #chunk: Uint8Array | null = null;
  #at = 0;
  /** Bytes of the text before the current chunk, for error messages. */
  #offset = 0;
  #state = State.Start;
  #bom = 0;
  /** Whether the current list is a member of the top-level object. */
  #listInObject = false;
  #key: string | null = null;
  #keyBytes: number[] = [];
  #keyEscaped = false;
  #index = 0;

  // The value being read.
  #kind = Kind.Container;
  #depth = 0;
  #inString = false;
  #escaped = false;
  #start = 0;
  #parts: Uint8Array[] = [];
  #size = 0;
  #problem: string | null = null;
  #valueKey: string | null = null;
  #valueIndex = 0;

  constructor(name: string, options: JsonValuesOptions) {
    this.#name = name;
    this.#options = options;
  }

  /** Adds the next bytes of the text. */
  write(chunk: Uint8Array): void {
    if (chunk.length) this.#input.push(chunk);
  }

  /** No more bytes will come. */
  end(): void {
    this.#ended = true;
  }

  /** Whether any byte other than white space has been seen. */
  get started(): boolean {
    return this.#state !== State.Start;
  }

  /**
   * The next value, or null when more bytes are needed (or, with `done`, when the text is over).
   * Throws Invalid when the structure around the values is broken.
   */
  next(): JsonValueBytes | null {
    for (;;) {
      if (this.#chunk === null || this.#at >= this.#chunk.length) {
        if (this.#chunk !== null) {
          if (this.#state === State.Value) this.#keep(this.#chunk, this.#start, this.#chunk.length);
          this.#offset += this.#chunk.length;
        }
        this.#chunk = this.#input.shift() ?? null;
        this.#at = 0;
        this.#start = 0;
        if (this.#chunk === null) return this.#ended ? this.#finish() : null;
      }
      const value = this.#step(this.#chunk);
      if (value) return value;
    }
  }

  #fail(what: string): never {
    throw new Invalid(`${this.#name}: the JSON is malformed (${what}).`);
  }

  #unexpected(b: number, expected: string): never {
    this.#fail(`expected ${expected} but found ${shown(b)} at byte ${this.#offset + this.#at}`);
  }

  #finish(): JsonValueBytes | null {
    if (this.done) return null;
    if (this.#state === State.Value && this.#kind === Kind.Literal) {
      // A literal (a number, true, …) may end the text.
      const value = this.#endValue();
      this.#state = this.#afterValue();
      if (this.#state === State.Sequence || this.#state === State.End) return value;
    }
    if (
      this.#state !== State.End && this.#state !== State.Sequence && this.#state !== State.Start
    ) {
      this.#fail(
        this.#state === State.Value
          ? `the text ends in the middle of ${this.#describe(this.#valueKey, this.#valueIndex)}`
          : "the text ends before its end",
      );
    }
    this.done = true;
    return null;
  }

  #describe(key: string | null, index: number): string {
    return key !== null && key !== this.#options.listKey
      ? `"${key}"`
      : `${this.#options.noun ?? "value"} #${index + 1}`;
  }

  /** Runs over the current chunk until a value is whole (returned) or the chunk is used up. */
  #step(c: Uint8Array): JsonValueBytes | null {
    const n = c.length;
    while (this.#at < n) {
      if (this.#state === State.Value) {
        const value = this.#scanValue(c);
        if (value) return value;
        continue;
      }
      const b = c[this.#at];
      if (this.#state === State.Key) {
        this.#scanKey(b);
        this.#at++;
        continue;
      }
      if (this.#bom > 0 || (this.#state === State.Start && b === 0xef)) {
        // A byte order mark before the text.
        const expected = [0xef, 0xbb, 0xbf][this.#bom];
        if (this.#state !== State.Start || b !== expected) this.#unexpected(b, "JSON");
        this.#bom = (this.#bom + 1) % 3;
        this.#at++;
        continue;
      }
      if (isSpace(b)) {
        let i = this.#at + 1;
        while (i < n && isSpace(c[i])) i++;
        this.#at = i;
        continue;
      }
      switch (this.#state) {
        case State.Start:
          if (b === OPEN_LIST) {
            this.shape = "list";
            this.#state = State.FirstItem;
            this.#at++;
          } else if (this.#options.shape === "list-or-object") {
            if (b !== OPEN_OBJECT) this.#unexpected(b, "a list or an object");
            this.shape = "object";
            this.#state = State.FirstMember;
            this.#at++;
          } else {
            this.shape = "sequence";
            this.#state = State.Sequence;
          }
          break;
        case State.FirstItem:
          if (b === CLOSE_LIST) {
            this.#state = this.#listInObject ? State.AfterMember : State.End;
            this.#at++;
          } else this.#beginValue(b, this.#key);
          break;
        case State.AfterItem:
          if (b === COMMA) this.#state = State.NextItem;
          else if (b === CLOSE_LIST) {
            this.#state = this.#listInObject ? State.AfterMember : State.End;
          } else this.#unexpected(b, "',' or ']' after an item");
          this.#at++;
          break;
        case State.NextItem:
          this.#beginValue(b, this.#key);
          break;
        case State.FirstMember:
        case State.NextMember:
          if (b === CLOSE_OBJECT && this.#state === State.FirstMember) this.#state = State.End;
          else if (b === QUOTE) {
            this.#state = State.Key;
            this.#keyBytes = [b];
          } else this.#unexpected(b, "a member name");
          this.#at++;
          break;
        case State.Colon:
          if (b !== COLON) this.#unexpected(b, "':'");
          this.#state = State.MemberValue;
          this.#at++;
          break;
        case State.MemberValue:
          if (this.#key === this.#options.listKey) {
            if (b !== OPEN_LIST) this.#unexpected(b, `a list for "${this.#key}"`);
            this.#listInObject = true;
            this.#state = State.FirstItem;
            this.#at++;
          } else this.#beginValue(b, this.#key);
          break;
        case State.AfterMember:
          if (b === COMMA) this.#state = State.NextMember;
          else if (b === CLOSE_OBJECT) this.#state = State.End;
          else this.#unexpected(b, "',' or '}' after a member");
          this.#at++;
          break;
        case State.Sequence:
          this.#beginValue(b, null);
          break;
        case State.End:
          this.#unexpected(b, "nothing more");
      }
    }
    return null;
  }

  #scanKey(b: number): void {
    if (this.#keyBytes.length >= MAX_KEY_BYTES) this.#fail("a member name is too long");
    this.#keyBytes.push(b);
    if (this.#keyEscaped) this.#keyEscaped = false;
    else if (b === BACKSLASH) this.#keyEscaped = true;
    else if (b === QUOTE && this.#keyBytes.length > 1) {
      try {
        this.#key = JSON.parse(new TextDecoder().decode(new Uint8Array(this.#keyBytes)));
      } catch {
        this.#fail(`a member name is not a JSON string at byte ${this.#offset + this.#at}`);
      }
      this.#state = State.Colon;
    }
  }

  #beginValue(b: number, key: string | null): void {
    if (b === CLOSE_LIST || b === CLOSE_OBJECT || b === COMMA || b === COLON) {
      this.#unexpected(b, "a value");
    }
    this.#state = State.Value;
    this.#kind = b === OPEN_LIST || b === OPEN_OBJECT
      ? Kind.Container
      : b === QUOTE
      ? Kind.Text
      : Kind.Literal;
    this.#depth = 0;
    this.#inString = false;
    this.#escaped = false;
    this.#start = this.#at;
    this.#parts = [];
    this.#size = 0;
    this.#problem = null;
    this.#valueKey = key;
    const inList = this.shape === "sequence" || key === null || key === this.#options.listKey;
    this.#valueIndex = inList ? this.#index++ : 0;
  }

  /** Reads the value on from `#at`; returns it once whole. */
  #scanValue(c: Uint8Array): JsonValueBytes | null {
    const n = c.length;
    let i = this.#at;
    let whole = false;
    if (this.#kind === Kind.Literal) {
      for (; i < n; i++) {
        const b = c[i];
        if (isSpace(b) || b === COMMA || b === CLOSE_LIST || b === CLOSE_OBJECT) {
          whole = true;
          break;
        }
      }
    } else {
      let depth = this.#depth;
      let inString = this.#inString;
      let escaped = this.#escaped;
      const maxDepth = this.#options.maxDepth;
      for (; i < n; i++) {
        const b = c[i];
        if (inString) {
          if (escaped) escaped = false;
          else if (b === BACKSLASH) escaped = true;
          else if (b === QUOTE) {
            inString = false;
            if (depth === 0) {
              i++;
              whole = true;
              break;
            }
          }
        } else if (b === QUOTE) inString = true;
        else if (b === OPEN_LIST || b === OPEN_OBJECT) {
          if (++depth > maxDepth && this.#problem === null) {
            this.#problem = `is nested deeper than ${maxDepth} levels`;
            this.#parts = [];
          }
        } else if (b === CLOSE_LIST || b === CLOSE_OBJECT) {
          if (--depth <= 0) {
            i++;
            whole = true;
            break;
          }
        }
      }
      this.#depth = depth;
      this.#inString = inString;
      this.#escaped = escaped;
    }
    this.#at = i;
    if (!whole) return null;
    this.#keep(c, this.#start, i);
    const value = this.#endValue();
    this.#state = this.#afterValue();
    return value;
  }

  /** Keeps a piece of the value's bytes (a copy: the chunk is not ours to hold). */
  #keep(c: Uint8Array, from: number, to: number): void {
    this.#size += to - from;
    if (this.#problem !== null) return;
    if (this.#size > this.#options.maxValueBytes) {
      const mib = Math.round(this.#options.maxValueBytes / (1024 * 1024));
      this.#problem = `is larger than ${mib} MiB`;
      this.#parts = [];
      return;
    }
    if (to > from) this.#parts.push(c.slice(from, to));
  }

  #endValue(): JsonValueBytes {
    let bytes: Uint8Array | null = null;
    if (this.#problem === null) {
      bytes = this.#parts.length === 1 ? this.#parts[0] : new Uint8Array(this.#size);
      if (this.#parts.length !== 1) {
        let at = 0;
        for (const part of this.#parts) {
          bytes.set(part, at);
          at += part.length;
        }
      }
    }
    this.#parts = [];
    return { key: this.#valueKey, index: this.#valueIndex, bytes, problem: this.#problem };
  }

  #afterValue(): State {
    if (this.shape === "sequence") return State.Sequence;
    if (this.shape === "object" && this.#valueKey !== this.#options.listKey) {
      return State.AfterMember;
    }
    return State.AfterItem;
  }
}
