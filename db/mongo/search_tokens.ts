import { bigrams, wordPieces } from "../../core/search_tokens.ts";
import type { SearchQuery } from "../../core/types.ts";

/**
 * What the MongoDB store indexes for search, and how a query's terms are matched against it.
 *
 * MongoDB's own `$text` splits words at spaces and punctuation only, so a run of Korean, Chinese
 * or Japanese without spaces is one "word": "대화" would not find "대화가", and "数据库" would not
 * find "我们今天讨论了数据库的设计". Nor does it match prefixes. So the store does not index the
 * text itself: it indexes tokens it makes, exactly as the SQLite store does (the same folding, and
 * Han, Kana and Hangul runs as overlapping bigrams plus the run's last character), and every
 * candidate a database query returns is checked here, token by token, before it counts. A search
 * therefore finds the same things on SQLite and on MongoDB, whichever way MongoDB finds the
 * candidates (`$text`, Atlas Search or a scan).
 */

const CJK = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}\u30FC\u3005]/u;

/**
 * Only this many characters of a message are indexed. A message may hold a megabyte; its tokens
 * (CJK text makes about two per character) must stay well inside Cosmos DB's 2 MB document.
 */
export const INDEXED_CHARS_MAX = 100_000;

/** The two indexed fields of a title or message. */
export interface IndexedText {
  /** The token stream, space-separated: phrases are consecutive tokens in it. */
  stream: string;
  /**
   * Each distinct Han, Kana or Hangul character, space-separated: lets `$text` find a one-
   * character search, which the stream holds only inside bigrams.
   */
  chars: string;
}

/**
 * The tokens stored beside a title or message.
 *
 * @example
 * ```ts
 * indexedText("오늘 대화가"); // { stream: "오늘 늘 대화 화가 가", chars: "오 늘 대 화 가" }
 * ```
 */
export function indexedText(text: string): IndexedText {
  const stream: string[] = [];
  const chars = new Set<string>();
  for (const piece of wordPieces(text.slice(0, INDEXED_CHARS_MAX))) {
    if (piece.cjk) {
      stream.push(...bigrams(piece.text, true));
      for (const char of piece.text) chars.add(char);
    } else stream.push(piece.text);
  }
  return { stream: stream.join(" "), chars: [...chars].join(" ") };
}

/**
 * One search term as tokens: they must appear consecutively in a stream, the last one only as a
 * prefix when `prefix` is set.
 */
export interface TermPattern {
  tokens: string[];
  prefix: boolean;
}

/**
 * A query's terms as token patterns, built as the SQLite store builds its FTS5 phrases: CJK runs
 * are split into bigrams as stored text is, except the term's final run, which drops its tail
 * character so the word may continue ("대화" + "가"); a final single character matches as a
 * prefix. Null when some term has no letter or digit, so nothing can match.
 *
 * @example
 * ```ts
 * termPatterns({ terms: [{ words: ["conv"], prefix: true }] }); // [{ tokens: ["conv"], prefix: true }]
 * ```
 */
export function termPatterns(query: SearchQuery): TermPattern[] | null {
  const patterns: TermPattern[] = [];
  for (const term of query.terms) {
    const all = wordPieces(term.words.join(" "));
    if (!all.length) return null;
    const tokens: string[] = [];
    let prefix = term.prefix;
    all.forEach((piece, i) => {
      const isLast = i === all.length - 1;
      if (!piece.cjk) tokens.push(piece.text);
      else {
        tokens.push(...bigrams(piece.text, !isLast));
        if (isLast) prefix = Array.from(piece.text).length === 1;
      }
    });
    patterns.push({ tokens, prefix });
  }
  return patterns.length ? patterns : null;
}

/** How many times a term occurs in a token stream. */
export function occurrences(stream: readonly string[], term: TermPattern): number {
  const n = term.tokens.length;
  let count = 0;
  for (let i = 0; i + n <= stream.length; i++) {
    let matched = true;
    for (let j = 0; j < n && matched; j++) {
      const token = stream[i + j];
      const wanted = term.tokens[j];
      matched = j === n - 1 && term.prefix ? token.startsWith(wanted) : token === wanted;
    }
    if (matched) count++;
  }
  return count;
}

/**
 * How well a stream matches every term; 0 when some term is missing. Per term, repeats add less
 * and less (1, ½, ¼ …) and a term that is a larger share of a short text weighs more, the shape
 * of MongoDB's own text score, so a message saying the word three times outranks one that says
 * it once among many.
 *
 * @example
 * ```ts
 * const walrus = { tokens: ["walrus"], prefix: false };
 * relevance("walrus walrus walrus".split(" "), [walrus]) > relevance(["walrus", "again"], [walrus]);
 * ```
 */
export function relevance(stream: readonly string[], terms: readonly TermPattern[]): number {
  if (!stream.length) return 0;
  let score = 0;
  for (const term of terms) {
    const count = occurrences(stream, term);
    if (count === 0) return 0;
    const frequency = 2 - 2 ** (1 - count);
    score += frequency * (0.5 * (count * term.tokens.length) / stream.length + 0.5);
  }
  return score;
}

/** Whether a token is one Han, Kana or Hangul character (kept in the `chars` field too). */
export function isCjkCharacter(token: string): boolean {
  return Array.from(token).length === 1 && CJK.test(token);
}

/** Splits a stored stream back into its tokens. */
export function streamTokens(stream: string): string[] {
  return stream ? stream.split(" ") : [];
}
