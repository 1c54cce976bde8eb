import { bigrams, storedTokens, wordPieces } from "../../core/search_tokens.ts";
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

/** The single-token form of a user id that prefixes every indexed token of theirs. */
export function ownerToken(userId: string): string {
  return "u" + userId.replaceAll("-", "").toLowerCase();
}

/** The space-separated, owner-prefixed tokens FTS5 indexes for a title or message body. */
export function indexText(owner: string, text: string): string {
  return storedTokens(text).map((token) => owner + token).join(" ");
}

/**
 * One term as an FTS5 phrase of owner-prefixed tokens. CJK runs are tokenized as stored text is,
 * except the term's final run: it drops its tail character so the word may continue ("대화" +
 * "가"), and a final single character becomes a prefix, matching both bigrams and tails.
 */
function termExpression(owner: string, term: SearchTerm): string | null {
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
