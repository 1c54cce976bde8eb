import type { Filter } from "mongodb";
import type { ConversationFilter, ListCursor } from "../../core/types.ts";
import type { ConversationDoc } from "./documents.ts";

/**
 * The query for one user's conversation heads: the user id is always part of the query itself,
 * so no other account's record is ever read, then the listing and search filters, then where a
 * newest-first page resumes (after `(updatedAt, id)`, ties broken by id as the sort does).
 *
 * @example
 * ```ts
 * conversationQuery("u1", { tag: "work" });
 * // { user_id: "u1", tags: "work" }
 * ```
 */
export function conversationQuery(
  userId: string,
  filter: ConversationFilter,
  after?: ListCursor,
): Filter<ConversationDoc> {
  const query: Filter<ConversationDoc> = { user_id: userId };
  if (filter.source !== undefined) query.source = filter.source;
  if (filter.tag !== undefined) query.tags = filter.tag;
  if (filter.updatedFrom !== undefined || filter.updatedTo !== undefined) {
    query.updated_at = {
      ...(filter.updatedFrom !== undefined ? { $gte: filter.updatedFrom } : {}),
      ...(filter.updatedTo !== undefined ? { $lt: filter.updatedTo } : {}),
    };
  }
  if (after) {
    query.$or = [
      { updated_at: { $lt: after.updatedAt } },
      { updated_at: after.updatedAt, _id: { $lt: after.id } },
    ];
  }
  return query;
}

/** Whether a filter narrows anything beyond the user. */
export function isNarrowing(filter: ConversationFilter): boolean {
  return filter.source !== undefined || filter.tag !== undefined ||
    filter.updatedFrom !== undefined || filter.updatedTo !== undefined;
}

/**
 * Newest first, then by id, descending: the order of every listing page. The user (one value in
 * every such query) leads, so the sort is exactly the index's key: Cosmos DB sorts only on an
 * index that matches.
 */
export const NEWEST_FIRST = { user_id: 1, updated_at: -1, _id: -1 } as const;
