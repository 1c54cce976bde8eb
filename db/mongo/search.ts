import type { Collection, Document, Filter, ObjectId } from "mongodb";
import { PensieveError, Unavailable } from "../../core/errors.ts";
import type { ConversationFilter, SearchHit, SearchQuery } from "../../core/types.ts";
import {
  type ConversationDoc,
  type MessageDoc,
  toConversation,
  toMessage,
  VISIBLE,
  WITHOUT_SEARCH_FIELDS,
} from "./documents.ts";
import { conversationQuery, isNarrowing } from "./filters.ts";
import {
  isCjkCharacter,
  relevance,
  streamTokens,
  type TermPattern,
  termPatterns,
} from "./search_tokens.ts";

/**
 * Search on MongoDB, in one of three ways to find candidates; whichever finds them, each is
 * checked against the query token by token (search_tokens.ts), so all three return the same
 * matches in the same order as long as the candidates hold them.
 *
 * - `text`: a `$text` index over the search tokens (MongoDB, Atlas, Cosmos DB vCore).
 * - `atlas`: Atlas Search indexes over the same tokens (MongoDB Atlas only).
 * - `scan`: anchored, escaped regular expressions over the user's own messages, bounded in
 *   matches and in time (Cosmos DB RU, which has no text index, or any server without one).
 *
 * The user id is inside every query; nothing is filtered by user afterwards. Candidates are
 * bounded: the best {@link MESSAGE_CANDIDATES} messages and {@link TITLE_CANDIDATES} titles by
 * the index's own score are ranked, so a word in tens of thousands of one user's messages ranks
 * among those rather than all of them.
 */
export type SearchMode = "text" | "atlas" | "scan";

export const MESSAGE_CANDIDATES = 2000;
export const TITLE_CANDIDATES = 1000;
/** A filter matching at most this many conversations is pushed into the message query. */
export const FILTER_IDS_MAX = 1000;
/** A scan gives up after this long rather than hold a request. */
export const SCAN_TIME_LIMIT_MS = 5000;
/** A title hit counts double, as on SQLite. */
const TITLE_WEIGHT = 2;

/** The collections search reads. */
export interface SearchCollections {
  conversations: Collection<ConversationDoc>;
  messages: Collection<MessageDoc>;
}

/** The index a search mode needs is not there (or the server has no such feature). */
export class SearchIndexMissing extends Error {}

/**
 * The `$text` search string: each term's whole tokens as a quoted phrase (`$text` ANDs phrases),
 * plus a final single CJK character on its own (found through the stored character list). A
 * prefix's unfinished last word cannot be looked up in a text index, so it is left to the check
 * of each candidate; null when no term has anything to look up, and a scan must find candidates.
 * Tokens hold only letters and digits, so nothing in them is `$text` syntax.
 *
 * @example
 * ```ts
 * textSearchString([{ tokens: ["hello", "wor"], prefix: true }]); // "\"hello\""
 * ```
 */
export function textSearchString(terms: readonly TermPattern[]): string | null {
  const phrases: string[] = [];
  for (const term of terms) {
    const whole = term.prefix ? term.tokens.slice(0, -1) : term.tokens;
    if (whole.length) phrases.push(whole.join(" "));
    const last = term.tokens[term.tokens.length - 1];
    if (term.prefix && isCjkCharacter(last)) {
      phrases.push(last);
    }
  }
  return phrases.length ? phrases.map((phrase) => `"${phrase}"`).join(" ") : null;
}

/** Escapes every character a regular expression gives meaning to. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A term as a regular expression over a stored token stream: its tokens consecutive, starting at
 * a token boundary and, unless it is a prefix, ending at one.
 *
 * @example
 * ```ts
 * termRegex({ tokens: ["hello", "world"], prefix: false }); // "(^| )hello world( |$)"
 * ```
 */
export function termRegex(term: TermPattern): string {
  return `(^| )${term.tokens.map(escapeRegex).join(" ")}${term.prefix ? "" : "( |$)"}`;
}

/** The scan's condition on a stored token stream: every term must occur. */
export function scanCondition(terms: readonly TermPattern[]): Filter<Document> {
  return { $and: terms.map((term) => ({ search_text: { $regex: termRegex(term) } })) };
}

function escapeWildcard(text: string): string {
  return text.replace(/[*?\\]/g, "\\$&");
}

/**
 * The Atlas Search `compound` for one user's documents: the user (and, for a narrow filter, the
 * conversations) as exact filters, each term's whole tokens as a phrase and a prefix's last word
 * as a wildcard.
 */
export function atlasCompound(
  userId: string,
  terms: readonly TermPattern[],
  conversationIds: string[] | null,
): Document {
  const filter: Document[] = [{ equals: { path: "user_id", value: userId } }];
  if (conversationIds) filter.push({ in: { path: "conversation_id", value: conversationIds } });
  const must: Document[] = [];
  for (const term of terms) {
    const whole = term.prefix ? term.tokens.slice(0, -1) : term.tokens;
    if (whole.length) must.push({ phrase: { path: "search_text", query: whole.join(" ") } });
    if (term.prefix) {
      must.push({
        wildcard: {
          path: "search_text",
          query: `${escapeWildcard(term.tokens[term.tokens.length - 1])}*`,
          allowAnalyzedField: true,
        },
      });
    }
  }
  return { filter, must };
}

/** A candidate as the database returns it: only what the check and ranking need. */
interface Candidate {
  _id: ObjectId | string;
  conversation_id?: string;
  seq?: number;
  search_text: string;
}

function isMissingIndex(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === "string" ? message : "";
  return code === 27 || code === 40324 || code === 115 ||
    /text index required|\$text is not supported|unrecognized pipeline stage name: '\$search'/i
      .test(text);
}

/**
 * Any other refusal by the server of a `$text` or `$search` query (a server error with a code: a
 * form of the query this server does not take, as Cosmos DB may answer). Search then moves to the
 * next mode rather than failing every search. Outages and throttling arrive here as Unavailable,
 * with no numeric code, and a time limit is the query's own: neither moves it.
 */
function isRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === "number" && !isTimeLimit(error) && code !== 11000 &&
    !(error instanceof PensieveError);
}

function isTimeLimit(error: unknown): boolean {
  return (error as { code?: unknown }).code === 50;
}

/** Runs a database call; the store passes its throttling retry. */
export type Run = <T>(attempt: () => Promise<T>) => Promise<T>;

async function candidates(
  collection: Collection<ConversationDoc> | Collection<MessageDoc>,
  mode: SearchMode,
  base: Filter<Document>,
  terms: readonly TermPattern[],
  atlas: { index: string; userId: string; conversationIds: string[] | null },
  limit: number,
  run: Run,
): Promise<Candidate[]> {
  const plain = collection as unknown as Collection<Document>;
  const projection = { conversation_id: 1, seq: 1, search_text: 1 };
  try {
    if (mode === "atlas") {
      return await run(() =>
        plain.aggregate<Candidate>([
          {
            $search: {
              index: atlas.index,
              compound: atlasCompound(atlas.userId, terms, atlas.conversationIds),
            },
          },
          { $limit: limit },
          { $project: projection },
        ]).toArray()
      );
    }
    const search = mode === "text" ? textSearchString(terms) : null;
    if (search !== null) {
      return await run(() =>
        plain.find<Candidate>({ ...base, $text: { $search: search } }, {
          projection: { ...projection, score: { $meta: "textScore" } },
          sort: { score: { $meta: "textScore" }, _id: 1 },
          limit,
        }).toArray()
      );
    }
    return await run(() =>
      plain.find<Candidate>({ ...base, ...scanCondition(terms) }, {
        projection,
        limit,
        maxTimeMS: SCAN_TIME_LIMIT_MS,
      }).toArray()
    );
  } catch (error) {
    if (mode !== "scan" && (isMissingIndex(error) || isRefusal(error))) {
      throw new SearchIndexMissing(String(error));
    }
    if (isTimeLimit(error)) {
      throw new Unavailable("This search reads too much; add a word or a filter.", 1);
    }
    throw error;
  }
}

interface Best {
  score: number;
  messageId: ObjectId | string | null;
  seq: number;
}

/**
 * A conversation's best hit: its best committed message (ties: the earliest), unless its title
 * scores higher. Messages at or past `committed` are still being appended and do not count yet.
 */
export function bestOf(
  messages: readonly Best[],
  titleScore: number,
  committed: number,
): Best | null {
  let best: Best | null = null;
  for (const hit of messages) {
    if (hit.seq >= committed) continue;
    if (!best || hit.score > best.score || (hit.score === best.score && hit.seq < best.seq)) {
      best = hit;
    }
  }
  if (titleScore > 0 && (!best || titleScore > best.score)) {
    return { score: titleScore, messageId: null, seq: -1 };
  }
  return best;
}

/**
 * Ranked search over one user's titles and messages, one hit per conversation with its best
 * message (null when the title matched best), best first, ties by conversation id.
 */
export async function searchConversations(
  collections: SearchCollections,
  mode: SearchMode,
  userId: string,
  options: { query: SearchQuery; filter: ConversationFilter; offset: number; limit: number },
  run: Run,
): Promise<SearchHit[]> {
  const terms = termPatterns(options.query);
  if (terms === null) return [];
  let conversationIds: string[] | null = null;
  if (isNarrowing(options.filter)) {
    const narrowed = await run(() =>
      collections.conversations.find(conversationQuery(userId, options.filter), {
        projection: { _id: 1 },
        limit: FILTER_IDS_MAX + 1,
      }).toArray()
    );
    if (!narrowed.length) return [];
    if (narrowed.length <= FILTER_IDS_MAX) conversationIds = narrowed.map((doc) => doc._id);
  }
  const messageBase: Filter<Document> = conversationIds
    ? { user_id: userId, conversation_id: { $in: conversationIds } }
    : { user_id: userId };
  const [messageHits, titleHits] = await Promise.all([
    candidates(
      collections.messages,
      mode,
      messageBase,
      terms,
      { index: "pensieve_messages", userId, conversationIds },
      MESSAGE_CANDIDATES,
      run,
    ),
    candidates(
      collections.conversations,
      mode,
      conversationQuery(userId, options.filter) as Filter<Document>,
      terms,
      { index: "pensieve_titles", userId, conversationIds: null },
      TITLE_CANDIDATES,
      run,
    ),
  ]);

  // Every message hit per conversation, best first: the best one that is committed counts.
  const messageCandidates = new Map<string, Best[]>();
  for (const hit of messageHits) {
    const score = relevance(streamTokens(hit.search_text ?? ""), terms);
    if (score === 0 || hit.conversation_id === undefined) continue;
    const list = messageCandidates.get(hit.conversation_id) ?? [];
    list.push({ score, messageId: hit._id, seq: hit.seq ?? 0 });
    messageCandidates.set(hit.conversation_id, list);
  }
  const titleScores = new Map<string, number>();
  for (const hit of titleHits) {
    const score = TITLE_WEIGHT * relevance(streamTokens(hit.search_text ?? ""), terms);
    if (score > 0) titleScores.set(String(hit._id), score);
  }
  const ids = new Set([...messageCandidates.keys(), ...titleScores.keys()]);
  if (!ids.size) return [];

  const heads = await run(() =>
    collections.conversations.find({
      ...conversationQuery(userId, options.filter),
      ...VISIBLE,
      _id: { $in: [...ids] },
    }, { projection: WITHOUT_SEARCH_FIELDS }).toArray()
  );
  const ranked = heads
    .flatMap((head) => {
      const best = bestOf(
        messageCandidates.get(head._id) ?? [],
        titleScores.get(head._id) ?? 0,
        head.message_count,
      );
      return best ? [{ head, best }] : [];
    })
    .sort((a, b) =>
      b.best.score - a.best.score ||
      (a.head._id < b.head._id ? -1 : a.head._id > b.head._id ? 1 : 0)
    )
    .slice(options.offset, options.offset + options.limit);

  const messageIds = ranked.flatMap(({ best }) => best.messageId === null ? [] : [best.messageId]);
  const messages = messageIds.length
    ? await run(() =>
      collections.messages.find(
        { user_id: userId, _id: { $in: messageIds as ObjectId[] } },
        { projection: WITHOUT_SEARCH_FIELDS },
      ).toArray()
    )
    : [];
  const byId = new Map(messages.map((doc) => [String(doc._id), doc]));
  return ranked.map(({ head, best }) => {
    const message = best.messageId === null ? undefined : byId.get(String(best.messageId));
    return {
      conversation: toConversation(head),
      message: message ? toMessage(message) : null,
      score: -best.score,
    };
  });
}
