import type { SearchQuery, SearchTerm } from "../../core/types.ts";

/**
 * FTS5's unicode61 tokenizer folds case and diacritics but keeps a run of Han, Kana or Hangul as
 * one token, so "대화" could not find "대화가" and Chinese without spaces could not be searched at
 * all. We index such runs as overlapping character bigrams plus the run's last character, which
 * finds any substring of two or more characters and any single character.
 */
const CJK_RUN = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}\u30FC\u3005]+/gu;

function bigrams(run: string, withTail: boolean): string[] {
  const chars = Array.from(run);
  if (chars.length === 1) return chars;
  const grams: string[] = [];
  for (let i = 0; i + 1 < chars.length; i++) grams.push(chars[i] + chars[i + 1]);
  if (withTail) grams.push(chars[chars.length - 1]);
  return grams;
}

/** The text FTS5 indexes for a title or message body. */
export function indexText(text: string): string {
  return text.normalize("NFKC").replace(CJK_RUN, (run) => ` ${bigrams(run, true).join(" ")} `);
}

function quote(token: string): string {
  return `"${token.replaceAll('"', '""')}"`;
}

/**
 * One term as an FTS5 phrase. CJK runs inside a term are indexed exactly like stored text, except
 * the term's final run: it drops its tail character so the word may continue ("대화" + "가"),
 * and a final single character becomes a prefix, matching both bigrams and tails.
 */
function termExpression(term: SearchTerm): string {
  // FTS5 reads a NUL as the end of the query; control characters carry no words anyway.
  const text = term.words.join(" ").normalize("NFKC").replace(/\p{Cc}/gu, " ");
  const pieces: { text: string; cjk: boolean }[] = [];
  let last = 0;
  for (const match of text.matchAll(CJK_RUN)) {
    if (match.index > last) pieces.push({ text: text.slice(last, match.index), cjk: false });
    pieces.push({ text: match[0], cjk: true });
    last = match.index + match[0].length;
  }
  if (last < text.length) pieces.push({ text: text.slice(last), cjk: false });
  while (
    pieces.length && !pieces[pieces.length - 1].cjk &&
    !/[\p{L}\p{N}]/u.test(pieces[pieces.length - 1].text)
  ) {
    pieces.pop();
  }

  const tokens: string[] = [];
  let prefix = term.prefix;
  pieces.forEach((piece, i) => {
    const isLast = i === pieces.length - 1;
    if (!piece.cjk) {
      tokens.push(piece.text);
      return;
    }
    const grams = bigrams(piece.text, !isLast);
    tokens.push(...grams);
    if (isLast) prefix = Array.from(piece.text).length === 1;
  });
  return quote(tokens.join(" ")) + (prefix ? "*" : "");
}

/**
 * The MATCH expression for a user's query. The owner token keeps the match inside one user's
 * rows using the index itself; every user-supplied word is quoted, so no input is FTS syntax.
 */
export function matchExpression(ownerToken: string, query: SearchQuery): string {
  const terms = query.terms.map(termExpression).join(" AND ");
  return `owner : ${quote(ownerToken)} AND body : (${terms})`;
}

/** The single-token form of a user id stored in the `owner` column. */
export function ownerToken(userId: string): string {
  return "u" + userId.replaceAll("-", "").toLowerCase();
}
