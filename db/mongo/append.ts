import type { Collection } from "mongodb";
import { Conflict, Unavailable } from "../../core/errors.ts";
import type { AppendedMessage, Conversation, Message, NewMessage } from "../../core/types.ts";
import {
  clientKey,
  type ConversationDoc,
  type MessageDoc,
  toConversation,
  toMessage,
  WITHOUT_SEARCH_FIELDS,
} from "./documents.ts";
import { backoffDelayMs, throttling } from "./retry.ts";
import type { Run } from "./search.ts";
import { indexedText } from "./search_tokens.ts";
import { isDuplicateKey, isTransient } from "./server_errors.ts";

/**
 * Appending messages without multi-document transactions.
 *
 * Cosmos DB's RU API has no transaction across two collections and a standalone MongoDB has
 * none at all, so an append is built from single-document atomic steps, every one safe to repeat:
 *
 * 1. Read the head. Its `message_count` is the next seq to hand out. If the stored messages do
 *    not reach it, an earlier append is still writing (wait for it), or died before it finished
 *    (its lease, `append_lease_until`, has run out: take its unwritten seqs back). If messages go
 *    past it (a late writer whose seqs were taken back), count them in.
 * 2. Look up the batch's client message ids: a repeat is answered with the stored message, a
 *    different message under a used id is a Conflict, before anything is written.
 * 3. Allocate: one `findOneAndUpdate` on the head, conditional on the count read in step 1, that
 *    `$inc`s the count by the number of new messages, bumps the version and takes the lease.
 *    If another append allocated first, the condition fails: go back to step 1.
 * 4. Insert the messages at their seqs, each tagged with this allocation's id. After a failure
 *    whose outcome is unknown, read which of them landed and insert only the rest.
 *
 * Unique indexes on (conversation, seq) and (conversation, client key) make a lost race fail
 * loudly rather than store twice. Seqs stay contiguous: an allocation is only made once every
 * earlier one is written or taken back.
 */

/** How long an allocation may take to write its messages before others may take it back. */
export const LEASE_MS = 15_000;
/** How long an append waits for another one on the same conversation. */
export const WAIT_MS = 20_000;
/** How long the inserts of one allocation keep trying: well inside the lease. */
const INSERT_BUDGET_MS = 10_000;

/** What an append needs from the store. */
export interface AppendContext {
  conversations: Collection<ConversationDoc>;
  messages: Collection<MessageDoc>;
  run: Run;
  /** Wall-clock ms, for leases shared by every instance. */
  wallClock: () => number;
  sleep: (ms: number) => Promise<void>;
}

/** An append worked out before anything is written. */
export interface AppendPlan {
  /** One outcome per supplied message, in order. */
  results: AppendedMessage[];
  /** The new messages, in seq order from the start seq. */
  inserts: Message[];
}

/**
 * Works out an append, as the SQLite store does inside its transaction: a message whose client id
 * is stored (or earlier in this batch) with the same role and content is a duplicate; with other
 * content it is a Conflict; every other message gets the next seq from `start`.
 *
 * @example
 * ```ts
 * const plan = planAppend("c1", [{ role: "user", content: "hi" }], new Map(), 3, 0);
 * plan.inserts[0].seq; // 3
 * ```
 */
export function planAppend(
  conversationId: string,
  batch: readonly NewMessage[],
  stored: ReadonlyMap<string, Message>,
  start: number,
  now: number,
): AppendPlan {
  const results: AppendedMessage[] = [];
  const inserts: Message[] = [];
  const planned = new Map<string, Message>();
  let seq = start;
  for (const message of batch) {
    const id = message.clientMessageId;
    if (id !== undefined) {
      const existing = planned.get(id) ?? stored.get(id);
      if (existing) {
        if (existing.role !== message.role || existing.content !== message.content) {
          throw new Conflict(
            `client_message_id "${id}" is already used by a different message in this conversation.`,
          );
        }
        results.push({ ...existing, duplicate: true });
        continue;
      }
    }
    const fresh: Message = {
      conversationId,
      seq: seq++,
      role: message.role,
      content: message.content,
      createdAt: message.createdAt ?? now,
      clientMessageId: id ?? null,
      metadata: message.metadata ?? null,
    };
    inserts.push(fresh);
    if (id !== undefined) planned.set(id, fresh);
    results.push({ ...fresh, duplicate: false });
  }
  return { results, inserts };
}

/** The stored form of planned messages. */
export function messageDocs(
  userId: string,
  messages: readonly Message[],
  appendId: string,
): MessageDoc[] {
  return messages.map((message) => {
    const tokens = indexedText(message.content);
    return {
      conversation_id: message.conversationId,
      user_id: userId,
      seq: message.seq,
      role: message.role,
      content: message.content,
      created_at: message.createdAt,
      client_message_id: message.clientMessageId,
      client_key: clientKey(message.clientMessageId, message.seq),
      metadata_json: message.metadata === null ? null : JSON.stringify(message.metadata),
      search_text: tokens.stream,
      search_chars: tokens.chars,
      append_id: appendId,
    };
  });
}

/** One allocation of seqs `start … start + docs.length - 1`, being written. */
export interface Allocation {
  userId: string;
  conversationId: string;
  start: number;
  leaseUntil: number;
  appendId: string;
  docs: MessageDoc[];
}

/** How many messages are stored: one past the highest seq (they are contiguous). */
async function storedCount(
  context: AppendContext,
  userId: string,
  conversationId: string,
): Promise<number> {
  const last = await context.run(() =>
    context.messages.find({ user_id: userId, conversation_id: conversationId }, {
      projection: { seq: 1 },
      // The unique index's key, reversed: Cosmos DB sorts only on an index that matches.
      sort: { conversation_id: -1, seq: -1 },
      limit: 1,
    }).toArray()
  );
  return last.length ? last[0].seq + 1 : 0;
}

/**
 * Brings a head whose count disagrees with its stored messages back in line, when that is safe.
 * Returns false when an allocation is still within its lease: the caller waits.
 */
async function settle(
  context: AppendContext,
  head: ConversationDoc,
  stored: number,
): Promise<boolean> {
  const where = { _id: head._id, user_id: head.user_id, message_count: head.message_count };
  if (stored > head.message_count) {
    // A writer whose seqs were taken back still wrote them: they are messages now.
    await context.run(() =>
      context.conversations.updateOne(where, {
        $set: { message_count: stored },
        $inc: { version: 1 },
      })
    );
    return true;
  }
  const lease = head.append_lease_until;
  if ((lease ?? 0) > context.wallClock()) return false;
  // The allocation's writer is gone: the seqs it did not write are handed out again.
  await context.run(() =>
    context.conversations.updateOne({
      ...where,
      append_lease_until: lease === undefined ? { $exists: false } : lease,
    }, { $set: { message_count: stored } })
  );
  return true;
}

function pollDelay(attempt: number): number {
  const ceiling = Math.min(100, 5 * 2 ** Math.min(attempt, 10));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/**
 * Writes an allocation's messages. After a failure it reads which of them landed (an ordered
 * insert stops at the first error, so they are a prefix) and inserts the rest, while the failure
 * is one that may pass. If it gives up, it hands the unwritten seqs back at once (best effort;
 * otherwise the lease runs out) and throws.
 */
export async function writeAllocation(
  context: AppendContext,
  allocation: Allocation,
): Promise<void> {
  let pending = allocation.docs;
  const started = context.wallClock();
  for (let attempt = 0;; attempt++) {
    let failure: unknown;
    try {
      await context.messages.insertMany(pending, { ordered: true });
      return;
    } catch (error) {
      failure = error;
    }
    const landed = await context.run(() =>
      context.messages.find({
        user_id: allocation.userId,
        conversation_id: allocation.conversationId,
        append_id: allocation.appendId,
      }, { projection: { seq: 1 } }).toArray()
    ).catch(() => null);
    if (landed) {
      const seqs = new Set(landed.map((doc) => doc.seq));
      pending = pending.filter((doc) => !seqs.has(doc.seq));
      if (!pending.length) return;
    }
    const delay = backoffDelayMs(attempt, throttling(failure)?.retryAfterMs ?? null);
    const retryable = landed !== null && isTransient(failure) && !isDuplicateKey(failure) &&
      context.wallClock() - started + delay < INSERT_BUDGET_MS;
    if (retryable) {
      await context.sleep(delay);
      continue;
    }
    if (landed) await release(context, allocation, allocation.docs.length - pending.length);
    if (isDuplicateKey(failure)) {
      // Only after this writer stalled past its lease can another hold these seqs.
      throw new Unavailable("The conversation changed while saving; send the messages again.", 1);
    }
    if (throttling(failure)) throw new Unavailable("The database is busy; try again shortly.", 1);
    throw failure;
  }
}

/** Gives back the seqs an allocation did not write, if nobody has moved the head since. */
async function release(
  context: AppendContext,
  allocation: Allocation,
  written: number,
): Promise<void> {
  await context.conversations.updateOne({
    _id: allocation.conversationId,
    user_id: allocation.userId,
    message_count: allocation.start + allocation.docs.length,
    append_lease_until: allocation.leaseUntil,
  }, { $set: { message_count: allocation.start + written } }).catch(() => {});
}

/**
 * Appends after the last message (see the top of this file). Null when the conversation does
 * not exist for this user.
 */
export async function appendMessages(
  context: AppendContext,
  userId: string,
  conversationId: string,
  batch: readonly NewMessage[],
  now: number,
): Promise<{ conversation: Conversation; messages: AppendedMessage[] } | null> {
  const started = context.wallClock();
  for (let attempt = 0;; attempt++) {
    if (attempt > 0) {
      if (context.wallClock() - started > WAIT_MS) {
        throw new Unavailable("This conversation is busy; try again shortly.", 1);
      }
      await context.sleep(pollDelay(attempt));
    }
    const head = await context.run(() =>
      context.conversations.findOne({ _id: conversationId, user_id: userId }, {
        projection: WITHOUT_SEARCH_FIELDS,
      })
    );
    if (!head) return null;
    const stored = await storedCount(context, userId, conversationId);
    if (stored !== head.message_count) {
      await settle(context, head, stored);
      continue;
    }

    const ids = [
      ...new Set(batch.flatMap((m) => m.clientMessageId === undefined ? [] : [m.clientMessageId])),
    ];
    const known = ids.length
      ? await context.run(() =>
        context.messages.find({
          user_id: userId,
          conversation_id: conversationId,
          client_message_id: { $in: ids },
        }, { projection: WITHOUT_SEARCH_FIELDS }).toArray()
      )
      : [];
    const plan = planAppend(
      conversationId,
      batch,
      new Map(known.map((doc) => [doc.client_message_id!, toMessage(doc)])),
      head.message_count,
      now,
    );
    if (!plan.inserts.length) return { conversation: toConversation(head), messages: plan.results };

    const leaseUntil = context.wallClock() + LEASE_MS;
    const allocated = await context.run(() =>
      context.conversations.findOneAndUpdate(
        { _id: conversationId, user_id: userId, message_count: head.message_count },
        {
          $inc: { message_count: plan.inserts.length, version: 1 },
          $max: { updated_at: now },
          $set: { append_lease_until: leaseUntil },
        },
        { returnDocument: "after", projection: WITHOUT_SEARCH_FIELDS },
      )
    );
    if (!allocated) continue;
    const appendId = crypto.randomUUID();
    await writeAllocation(context, {
      userId,
      conversationId,
      start: head.message_count,
      leaseUntil,
      appendId,
      docs: messageDocs(userId, plan.inserts, appendId),
    });
    // A delete that ran while the messages were being written must not leave them behind: the
    // append then counts as having happened just before the delete.
    const remains = await context.run(() =>
      context.conversations.findOne({ _id: conversationId, user_id: userId }, {
        projection: { _id: 1 },
      })
    );
    if (!remains) {
      await context.run(() =>
        context.messages.deleteMany({ user_id: userId, conversation_id: conversationId })
      );
    }
    return { conversation: toConversation(allocated), messages: plan.results };
  }
}
