import { Invalid } from "./errors.ts";
import { LIMITS } from "./limits.ts";
import type { SearchQuery, SearchTerm } from "./types.ts";

const HAS_WORD = /[\p{L}\p{N}]/u;

/**
 * Parses what a person typed into a search box: bare words, "quoted phrases", and `word*` for a
 * prefix. The last bare word also matches as a prefix, so results follow typing. Nothing in the
 * input is passed to an index as syntax.
 */
export function parseSearchQuery(input: string): SearchQuery {
  const text = input.normalize("NFKC");
  const terms: SearchTerm[] = [];
  let lastBare: SearchTerm | undefined;
  for (const match of text.matchAll(/"([^"]*)"?|(\S+)/g)) {
    if (match[1] !== undefined) {
      const words = match[1].split(/\s+/).filter((word) => HAS_WORD.test(word));
      if (words.length) terms.push({ words, prefix: false });
      lastBare = undefined;
      continue;
    }
    const raw = match[2];
    const word = raw.replace(/\*+$/, "");
    if (!HAS_WORD.test(word)) continue;
    const term = { words: [word], prefix: word !== raw };
    terms.push(term);
    lastBare = term;
  }
  if (lastBare && terms[terms.length - 1] === lastBare && !/\s$/.test(text)) {
    lastBare.prefix = true;
  }
  if (terms.length === 0) throw new Invalid("The search query needs at least one word.");
  if (terms.length > LIMITS.queryTermsMax) {
    throw new Invalid(
      `The search query may have at most ${LIMITS.queryTermsMax} words or phrases.`,
    );
  }
  return { terms };
}
