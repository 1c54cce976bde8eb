import type { SearchQuery, SearchTerm } from "./types.ts";

/** A short excerpt with the places that matched, as [start, end) UTF-16 offsets into `text`. */
export interface Snippet {
  text: string;
  highlights: [number, number][];
}

const CJK = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}\u30FC\u3005]/u;
const WORD_CHAR = "[\\p{L}\\p{N}]";

/**
 * Case- and accent-folded form, as the index compares text. Recomposing after the marks are gone
 * keeps Hangul syllables whole, so "대" cannot match the start of "댁".
 */
function fold(text: string): string {
  return text.normalize("NFKD").replace(/\p{M}/gu, "").normalize("NFC").toLowerCase();
}

/** The folded text and, for each of its UTF-16 units, where it came from in the original. */
function foldWithMap(
  text: string,
  memo: Map<string, string>,
): { folded: string; from: number[]; to: number[] } {
  let folded = "";
  const from: number[] = [];
  const to: number[] = [];
  let index = 0;
  for (const char of text) {
    let piece = memo.get(char);
    if (piece === undefined) {
      piece = fold(char.normalize("NFKC"));
      memo.set(char, piece);
    }
    // A character that folds to nothing (a combining mark) belongs to the one before it.
    if (piece.length === 0 && to.length) to[to.length - 1] = index + char.length;
    for (let i = 0; i < piece.length; i++) {
      from.push(index);
      to.push(index + char.length);
    }
    folded += piece;
    index += char.length;
  }
  return { folded, from, to };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function termPattern(term: SearchTerm): string | null {
  const chunks = term.words.flatMap((word) => fold(word.normalize("NFKC")).split(/[^\p{L}\p{N}]+/u))
    .filter(Boolean);
  if (!chunks.length) return null;
  const body = chunks.map(escape).join(`${WORD_CHAR.replace("[", "[^")}+`);
  const first = chunks[0][0];
  const last = chunks[chunks.length - 1].at(-1)!;
  const start = CJK.test(first) ? "" : `(?<!${WORD_CHAR})`;
  // A prefix highlights the whole word it starts; CJK matches are substrings by nature.
  const end = CJK.test(last) ? "" : term.prefix ? `${WORD_CHAR}*` : `(?!${WORD_CHAR})`;
  return start + body + end;
}

/** A query compiled once for highlighting many texts. */
export interface Highlighter {
  /** Merged, sorted [start, end) ranges of every place the query matches in `text`. */
  find(text: string): [number, number][];
}

const COMBINING_MARK = /\p{M}/u;

/** Text longer than this is searched for highlights only in its first part. */
const SCAN_LIMIT = 200_000;

export function compileHighlighter(query: SearchQuery): Highlighter {
  const patterns = query.terms.map(termPattern).filter((p): p is string => p !== null);
  const regex = patterns.length ? new RegExp(patterns.join("|"), "gu") : null;
  const memo = new Map<string, string>();
  return {
    find(text) {
      if (!regex) return [];
      const scanned = text.length > SCAN_LIMIT ? text.slice(0, SCAN_LIMIT) : text;
      const ranges: [number, number][] = [];
      // Text already in NFKC with no combining marks folds one unit to one unit (a precomposed
      // letter loses only its marks; Hangul recomposes), so offsets carry over unchanged.
      const whole = fold(scanned);
      if (
        whole.length === scanned.length && !COMBINING_MARK.test(scanned) &&
        scanned.normalize("NFKC") === scanned
      ) {
        for (const match of whole.matchAll(regex)) {
          if (match[0].length) ranges.push([match.index, match.index + match[0].length]);
        }
      } else {
        const { folded, from, to } = foldWithMap(scanned, memo);
        for (const match of folded.matchAll(regex)) {
          if (!match[0].length) continue;
          ranges.push([from[match.index], to[match.index + match[0].length - 1]]);
        }
      }
      ranges.sort((a, b) => a[0] - b[0]);
      const merged: [number, number][] = [];
      for (const range of ranges) {
        const top = merged[merged.length - 1];
        if (top && range[0] <= top[1]) top[1] = Math.max(top[1], range[1]);
        else merged.push([...range]);
      }
      return merged;
    },
  };
}

/** Merged, sorted ranges of every place `query` matches in `text`. */
export function findMatches(text: string, query: SearchQuery): [number, number][] {
  return compileHighlighter(query).find(text);
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * About `maxLength` characters of `text` around its first match, cut at spaces where it can be,
 * with "…" where text was left out. Line breaks become spaces; offsets stay exact.
 */
export function buildSnippet(
  text: string,
  query: SearchQuery | Highlighter,
  maxLength = 200,
): Snippet {
  const highlighter = "find" in query ? query : compileHighlighter(query);
  const matches = highlighter.find(text);
  let start = 0;
  let end = text.length;
  if (text.length > maxLength) {
    const anchor = matches[0]?.[0] ?? 0;
    start = Math.max(0, Math.min(anchor - Math.floor(maxLength / 3), text.length - maxLength));
    end = start + maxLength;
    if (start > 0) {
      const space = text.indexOf(" ", start);
      if (space !== -1 && space < anchor && space - start < 30) start = space + 1;
    }
    if (end < text.length) {
      const space = text.lastIndexOf(" ", end);
      if (space > start && end - space < 30) end = space;
    }
    if (start > 0 && isLowSurrogate(text.charCodeAt(start))) start++;
    if (end < text.length && isLowSurrogate(text.charCodeAt(end))) end--;
  }
  const lead = start > 0 ? "…" : "";
  const body = text.slice(start, end).replace(/[\r\n\t\f\v]/g, " ");
  const highlights = matches
    .filter(([s, e]) => e > start && s < end)
    .map(([s, e]): [number, number] => [
      Math.max(s, start) - start + lead.length,
      Math.min(e, end) - start + lead.length,
    ]);
  return { text: lead + body + (end < text.length ? "…" : ""), highlights };
}
