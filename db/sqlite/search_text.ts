import type { SearchQuery, SearchTerm } from "../../core/types.ts";

/**
 * What FTS5 indexes, and how a query is turned into a MATCH expression.
 *
 * Every token is prefixed with its owner ("u" + the user id's 32 hex digits), so each user's words
 * have their own doclists: a query reads only the searcher's rows, and bm25 never has to count a
 * doclist as large as the user's whole history (an `owner` column did, at 4 ms per query for
 * 100k messages).
 *
 * Han, Kana and Hangul runs are indexed as overlapping bigrams plus the run's last character, so
 * "대화" finds "대화가" and text without spaces can be searched by any part of two or more
 * characters, or by one character.
 */

const CJK = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}\u30FC\u3005]+/gu;
const WORD = /[\p{L}\p{N}]+/gu;

/** The single-token form of a user id that prefixes every indexed token of theirs. */
export function ownerToken(userId: string): string {
  return "u" + userId.replaceAll("-", "").toLowerCase();
}

/** Case, width and accent folding: the same as the highlighter's, then NFC for Hangul. */
function fold(text: string): string {
  return text.normalize("NFKC").normalize("NFKD").replace(/\p{M}/gu, "").normalize("NFC")
    .toLowerCase();
}

function bigrams(run: string, withTail: boolean): string[] {
  const chars = Array.from(run);
  if (chars.length === 1) return chars;
  const grams: string[] = [];
  for (let i = 0; i + 1 < chars.length; i++) grams.push(chars[i] + chars[i + 1]);
  if (withTail) grams.push(chars[chars.length - 1]);
  return grams;
}

/** A word split into its CJK and other pieces, in order. */
function pieces(word: string): { text: string; cjk: boolean }[] {
  const out: { text: string; cjk: boolean }[] = [];
  let last = 0;
  for (const match of word.matchAll(CJK)) {
    if (match.index > last) out.push({ text: word.slice(last, match.index), cjk: false });
    out.push({ text: match[0], cjk: true });
    last = match.index + match[0].length;
  }
  if (last < word.length) out.push({ text: word.slice(last), cjk: false });
  return out;
}

/** The space-separated, owner-prefixed tokens FTS5 indexes for a title or message body. */
export function indexText(owner: string, text: string): string {
  const tokens: string[] = [];
  for (const [word] of fold(text).matchAll(WORD)) {
    for (const piece of pieces(word)) {
      if (piece.cjk) tokens.push(...bigrams(piece.text, true));
      else tokens.push(piece.text);
    }
  }
  return tokens.map((token) => owner + token).join(" ");
}

/**
 * One term as an FTS5 phrase of owner-prefixed tokens. CJK runs are tokenized as stored text is,
 * except the term's final run: it drops its tail character so the word may continue ("대화" +
 * "가"), and a final single character becomes a prefix, matching both bigrams and tails.
 */
function termExpression(owner: string, term: SearchTerm): string | null {
  const all = [...fold(term.words.join(" ")).matchAll(WORD)].flatMap(([word]) => pieces(word));
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
  // Tokens hold only letters and digits, so quoting needs no escapes and nothing is syntax.
  return `"${tokens.map((token) => owner + token).join(" ")}"${prefix ? "*" : ""}`;
}

/**
 * The MATCH expression for a user's query: every term must match. Returns null when no term
 * holds a letter or digit, so nothing can match.
 */
export function matchExpression(owner: string, query: SearchQuery): string | null {
  const terms = query.terms.map((term) => termExpression(owner, term));
  if (terms.some((term) => term === null)) return null;
  return terms.join(" AND ");
}
