/**
 * How text becomes search tokens, the same for every store: case, width and accent folding, words
 * of letters and digits, and Han, Kana and Hangul runs as overlapping bigrams (plus the run's last
 * character in stored text), so "대화" finds "대화가" and text without spaces can be searched by
 * any part of it.
 */

const CJK = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}\u30FC\u3005]+/gu;
const WORD = /[\p{L}\p{N}]+/gu;

/** A piece of a word: a Han, Kana or Hangul run, or the letters and digits between them. */
export interface WordPiece {
  text: string;
  cjk: boolean;
}

/** Case, width and accent folding: the same as the highlighter's, then NFC for Hangul. */
export function fold(text: string): string {
  return text.normalize("NFKC").normalize("NFKD").replace(/\p{M}/gu, "").normalize("NFC")
    .toLowerCase();
}

/** A CJK run's overlapping pairs, and with `withTail` its last character too. */
export function bigrams(run: string, withTail: boolean): string[] {
  const chars = Array.from(run);
  if (chars.length === 1) return chars;
  const grams: string[] = [];
  for (let i = 0; i + 1 < chars.length; i++) grams.push(chars[i] + chars[i + 1]);
  if (withTail) grams.push(chars[chars.length - 1]);
  return grams;
}

function pieces(word: string): WordPiece[] {
  const out: WordPiece[] = [];
  let last = 0;
  for (const match of word.matchAll(CJK)) {
    if (match.index > last) out.push({ text: word.slice(last, match.index), cjk: false });
    out.push({ text: match[0], cjk: true });
    last = match.index + match[0].length;
  }
  if (last < word.length) out.push({ text: word.slice(last), cjk: false });
  return out;
}

/** The folded text's words, each split into its CJK and other pieces, in order. */
export function wordPieces(text: string): WordPiece[] {
  return [...fold(text).matchAll(WORD)].flatMap(([word]) => pieces(word));
}

/** The tokens stored for a title or message body, in order. */
export function storedTokens(text: string): string[] {
  const tokens: string[] = [];
  for (const piece of wordPieces(text)) {
    if (piece.cjk) tokens.push(...bigrams(piece.text, true));
    else tokens.push(piece.text);
  }
  return tokens;
}
