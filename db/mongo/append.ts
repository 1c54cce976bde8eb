import { BSON, type Collection } from "mongodb";
import { Conflict, TooLarge, Unavailable } from "../../core/errors.ts";
import type { AppendedMessage, Conversation, Message, NewMessage } from "../../core/types.ts";
import {
  clientKey,
  type ConversationDoc,
  type MessageDoc,
  toConversation,
  toMessage,
  VISIBLE,
  WITHOUT_SEARCH_FIELDS,
} from "./documents.ts";
import { backoffDelayMs, throttling } from "./retry.ts";
import type { NewConversation } from "../store.ts";
import type { Run } from "./search.ts";
import { indexedText } from "./search_tokens.ts";
import { driverError, isDuplicateKey, isTransient } from "./server_errors.ts";

/**
 * Appending messages without multi-document transactions.
 *
 * Cosmos DB's RU API has no transaction across two collections and a standalone MongoDB has
 * none at all, so an append is built from single-document atomic steps on the conversation head:
 *
 * - `message_count` is what is committed: messages 0 … message_count - 1, the only ones any read
 *   returns (listMessages and search bound their queries by it). Messages past it are either being
 *   written by the one outstanding allocation or leftovers of one that was given up.
 * - An allocation is one conditional `findOneAndUpdate` on the head: from `next_seq ==
 *   message_count` (nothing outstanding) to `next_seq = message_count + n`, owned by a fresh
 *   `append_id` under a lease (`append_lease_until`, wall-clock ms shared by every instance).
 * - The owner inserts its messages (tagged with its `append_id`) in chunks, renewing the lease
 *   between them; after a failure whose outcome is unknown it reads which seqs hold its own
 *   messages and writes only the rest. Anything else in its way was written by an allocation
 *   that no longer owns the head, and so never will again: those are deleted (only ever by that
 *   dead id and past the committed count, so no timing can make this delete a live message).
 * - It commits with one conditional update: `message_count = next_seq`, version and updated time
 *   bumped. Until then no reader sees any of the batch; from then every reader sees all of it.
 * - Another append finding an allocation whose lease ran out completes it if every message was
 *   written (the writer died between its last insert and its commit), or gives it back and deletes
 *   what it wrote. Either way the dead writer's own later commit fails its condition, and it reads
 *   back whether its messages were committed before answering.
 *
 * Creating a conversation is the same with the head inserted first, marked `creating` (invisible
 * to every read) until its messages are written. Unique indexes on (conversation, seq) and
 * (conversation, client key) make every race fail loudly rather than store twice.
 */

/** How long an allocation may go without renewing its lease before others may take it back. */
export const LEASE_MS = 15_000;
/** How long an append or a create waits for another one on the same conversation. */
export const WAIT_MS = 20_000;
/** How long the inserts of one allocation keep trying without making progress. */
export const STALL_MS = 10_000;
/** Messages per insert: small enough for Cosmos DB's request units, renewed in between. */
export const CHUNK = 100;
/** A lease is renewed once this much of it has passed. */
const RENEW_AFTER_MS = LEASE_MS / 3;

/** What an append needs from the store. */
export interface AppendContext {
  conversations: Collection<ConversationDoc>;
  messages: Collection<MessageDoc>;
  run: Run;
  /** Wall-clock ms, for leases shared by every instance. */
  wallClock: () => number;
  sleep: (ms: number) => Promise<void>;
  /** The largest message document the server takes (Cosmos DB RU: 2 MB). */
  maxDocumentBytes: number;
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
  incarnation: string,
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
      incarnation,
    };
  });
}

/**
 * Refuses, before anything is written, a message the server would refuse for its size.
 *
 * @example
 * ```ts
 * checkDocumentSizes([doc], 2 * 1024 * 1024); // throws TooLarge for a 3 MB message
 * ```
 */
export function checkDocumentSizes(docs: readonly MessageDoc[], maxBytes: number): void {
  for (const doc of docs) {
    // An ObjectId is added on insert: 17 bytes with its name.
    if (BSON.calculateObjectSize(doc) + 17 > maxBytes) {
      const mb = Math.floor(maxBytes / (1024 * 1024));
      throw new TooLarge(
        `Message ${doc.seq} is too large for this database (at most about ${mb} MB per message).`,
      );
    }
  }
}

/** One allocation of seqs `start … end - 1`, being written by its owner. */
export interface Allocation {
  userId: string;
  conversationId: string;
  start: number;
  end: number;
  appendId: string;
  docs: MessageDoc[];
}

/** The allocation was taken back by another instance while this one wrote it. */
export class AllocationLost extends Unavailable {
  constructor() {
    super("The conversation changed while saving; send the messages again.", 1);
  }
}

/** Renews the lease; false when the allocation is no longer this writer's. */
async function renew(context: AppendContext, allocation: Allocation): Promise<boolean> {
  const renewed = await context.run(() =>
    context.conversations.updateOne(
      {
        _id: allocation.conversationId,
        user_id: allocation.userId,
        append_id: allocation.appendId,
        next_seq: allocation.end,
      },
      { $set: { append_lease_until: context.wallClock() + LEASE_MS } },
    )
  );
  return renewed.matchedCount > 0;
}

/**
 * The messages at or past the allocation's first seq: which seqs hold its own, and which other
 * allocations wrote the rest (leftovers of given-up ones, or a newer owner's after this one lost).
 */
async function occupancy(
  context: AppendContext,
  allocation: Allocation,
): Promise<{ ours: Set<number>; others: Set<string> }> {
  const docs = await context.run(() =>
    context.messages.find({
      user_id: allocation.userId,
      conversation_id: allocation.conversationId,
      seq: { $gte: allocation.start },
    }, { projection: { seq: 1, append_id: 1 } }).toArray()
  );
  const ours = new Set<number>();
  const others = new Set<string>();
  for (const doc of docs) {
    if (doc.append_id === allocation.appendId) ours.add(doc.seq);
    else others.add(doc.append_id);
  }
  return { ours, others };
}

/** The head's owner and committed count, as they are now. */
function headState(context: AppendContext, userId: string, conversationId: string) {
  return context.run(() =>
    context.conversations.findOne({ _id: conversationId, user_id: userId }, {
      projection: { append_id: 1, message_count: 1 },
    })
  );
}

/**
 * Deletes what other allocations left in this one's way. Safe whatever the timing: an allocation
 * owns the head once, and an id that is not the owner when the head is read never is again, so its
 * messages past the committed count can never be committed. Throws AllocationLost when this
 * allocation is no longer the owner (the others may then be the new owner's).
 */
async function clearDead(
  context: AppendContext,
  allocation: Allocation,
  others: Set<string>,
): Promise<void> {
  const head = await headState(context, allocation.userId, allocation.conversationId);
  if (!head || head.append_id !== allocation.appendId) throw new AllocationLost();
  await context.run(() =>
    context.messages.deleteMany({
      user_id: allocation.userId,
      conversation_id: allocation.conversationId,
      append_id: { $in: [...others] },
      seq: { $gte: head.message_count },
    })
  );
}

/**
 * Writes an allocation's messages, in chunks, renewing the lease as it goes. After a failure that
 * may pass (a lost connection, throttling) or a duplicate key, it reads which seqs hold its own
 * messages, clears what dead allocations left in the way, and writes the rest, while it keeps
 * making progress. Throws when it gives up; the caller then gives the allocation back.
 */
export async function writeAllocation(
  context: AppendContext,
  allocation: Allocation,
): Promise<void> {
  let pending = allocation.docs;
  let lastProgress = context.wallClock();
  let renewedAt = context.wallClock();
  for (let attempt = 0; pending.length;) {
    if (context.wallClock() - renewedAt >= RENEW_AFTER_MS) {
      if (!(await renew(context, allocation))) throw new AllocationLost();
      renewedAt = context.wallClock();
    }
    const chunk = pending.slice(0, CHUNK);
    let failure: unknown;
    try {
      await context.messages.insertMany(chunk, { ordered: true });
      pending = pending.slice(chunk.length);
      lastProgress = context.wallClock();
      attempt = 0;
      continue;
    } catch (error) {
      failure = error;
    }
    const duplicate = isDuplicateKey(failure);
    if (!duplicate && !isTransient(failure)) throw driverError(failure);
    // An ordered insert stops at its first error, and a lost answer may hide a success.
    const held = await occupancy(context, allocation);
    const before = pending.length;
    pending = pending.filter((doc) => !held.ours.has(doc.seq));
    if (pending.length < before) lastProgress = context.wallClock();
    if (!pending.length) return;
    if (held.others.size) await clearDead(context, allocation, held.others);
    const delay = backoffDelayMs(attempt++, throttling(failure)?.retryAfterMs ?? null);
    if (context.wallClock() - lastProgress + delay > STALL_MS) {
      throw duplicate ? new AllocationLost() : driverError(failure);
    }
    await context.sleep(delay);
  }
}

/** Gives an allocation back (best effort) and deletes what it wrote. */
async function giveBack(context: AppendContext, allocation: Allocation): Promise<void> {
  try {
    await context.run(() =>
      context.conversations.updateOne({
        _id: allocation.conversationId,
        user_id: allocation.userId,
        append_id: allocation.appendId,
        next_seq: allocation.end,
      }, { $set: { next_seq: allocation.start, append_id: null } })
    );
    await dropOwn(context, allocation);
  } catch {
    // The lease runs out and the next append gives it back instead.
  }
}

/**
 * Deletes an allocation's own uncommitted messages once it is no longer the owner. While it still
 * is (a give-back that failed in flight), nothing is deleted: another append may be about to find
 * every message written and commit them, and then they must all be there.
 */
async function dropOwn(context: AppendContext, allocation: Allocation): Promise<void> {
  const head = await headState(context, allocation.userId, allocation.conversationId);
  if (head?.append_id === allocation.appendId) return;
  await context.run(() =>
    context.messages.deleteMany({
      user_id: allocation.userId,
      conversation_id: allocation.conversationId,
      append_id: allocation.appendId,
      ...(head ? { seq: { $gte: head.message_count } } : {}),
    })
  );
}

/**
 * Runs a write; when it fails in a way that leaves its outcome unknown (a lost connection),
 * `readBack` looks at whether it took effect: its answer stands in for the write's, and when it
 * finds nothing (null) the original error is thrown. Both go through the store's throttling retry.
 */
export async function readBackOnFailure<T>(
  context: { run: Run },
  write: () => Promise<T>,
  readBack: () => Promise<T | null>,
): Promise<T> {
  try {
    return await context.run(write);
  } catch (error) {
    if (isDuplicateKey(error)) throw error;
    if (!(error instanceof Unavailable) && !isTransient(error)) throw error;
    const found = await readBack().catch(() => null);
    if (found === null) throw error;
    return found;
  }
}

function pollDelay(attempt: number): number {
  const ceiling = Math.min(100, 5 * 2 ** Math.min(attempt, 10));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/**
 * Brings an outstanding allocation whose lease ran out to an end: committed when all of its
 * messages were written, given back otherwise. Returns false when it is still within its lease.
 */
async function settle(context: AppendContext, head: ConversationDoc): Promise<boolean> {
  if (head.append_lease_until > context.wallClock()) return false;
  const owner = head.append_id;
  const where = {
    _id: head._id,
    user_id: head.user_id,
    append_id: owner,
    next_seq: head.next_seq,
    message_count: head.message_count,
  };
  const written = owner === null ? -1 : await context.run(() =>
    context.messages.countDocuments({
      user_id: head.user_id,
      conversation_id: head._id,
      append_id: owner,
      seq: { $gte: head.message_count, $lt: head.next_seq },
    })
  );
  if (written === head.next_seq - head.message_count) {
    // Its writer died between its last insert and its commit: commit for it.
    await context.run(() =>
      context.conversations.updateOne(where, {
        $set: { message_count: head.next_seq, append_id: null },
        $inc: { version: 1 },
        $max: { updated_at: head.append_updated_at ?? head.updated_at },
      })
    );
    return true;
  }
  const given = await context.run(() =>
    context.conversations.updateOne(where, {
      $set: { next_seq: head.message_count, append_id: null },
    })
  );
  if (given.matchedCount > 0 && owner !== null) {
    await context.run(() =>
      context.messages.deleteMany({
        user_id: head.user_id,
        conversation_id: head._id,
        append_id: owner,
      })
    );
  }
  return true;
}

/**
 * Whether an allocation whose own commit failed was committed anyway (by another append that
 * found every message written), with the head as it is now. With `cleanUp`, for a commit whose
 * condition certainly failed, what it wrote is deleted when it was not.
 */
async function committedAnyway(
  context: AppendContext,
  allocation: Allocation,
  incarnation: string,
  cleanUp: boolean,
): Promise<ConversationDoc | null> {
  const head = await context.run(() =>
    context.conversations.findOne(
      { _id: allocation.conversationId, user_id: allocation.userId, incarnation, ...VISIBLE },
      { projection: WITHOUT_SEARCH_FIELDS },
    )
  );
  if (head && head.message_count >= allocation.end) {
    const mine = await context.run(() =>
      context.messages.countDocuments({
        user_id: allocation.userId,
        conversation_id: allocation.conversationId,
        append_id: allocation.appendId,
        seq: { $gte: allocation.start, $lt: allocation.end },
      })
    );
    if (mine === allocation.docs.length) return head;
  }
  if (cleanUp) await dropOwn(context, allocation).catch(() => {});
  return null;
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
    if (head.creating) {
      // Being created: wait for it, unless its creator is gone (then it never existed).
      if (head.append_lease_until > context.wallClock()) continue;
      return null;
    }
    if (head.append_id !== null || head.next_seq !== head.message_count) {
      await settle(context, head);
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
          // Only committed messages: a given-up allocation's leftovers were never stored.
          seq: { $lt: head.message_count },
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
    const appendId = crypto.randomUUID();
    const docs = messageDocs(userId, plan.inserts, appendId, head.incarnation);
    checkDocumentSizes(docs, context.maxDocumentBytes);

    const start = head.message_count;
    const end = start + plan.inserts.length;
    const allocated = await readBackOnFailure(
      context,
      () =>
        context.conversations.updateOne(
          {
            _id: conversationId,
            user_id: userId,
            incarnation: head.incarnation,
            append_id: null,
            next_seq: start,
            message_count: start,
          },
          {
            $set: {
              next_seq: end,
              append_id: appendId,
              append_lease_until: context.wallClock() + LEASE_MS,
              append_updated_at: now,
            },
          },
        ),
      // Without retryable writes (Cosmos DB) a lost answer would leave this allocation waiting
      // out its own lease: read whether it was made.
      async () =>
        (await headState(context, userId, conversationId))?.append_id === appendId
          ? { matchedCount: 1 }
          : null,
    );
    if (allocated.matchedCount === 0) continue;
    const allocation: Allocation = { userId, conversationId, start, end, appendId, docs };
    try {
      await writeAllocation(context, allocation);
    } catch (error) {
      await giveBack(context, allocation);
      throw error;
    }
    let committed: ConversationDoc | null;
    try {
      committed = await context.run(() =>
        context.conversations.findOneAndUpdate(
          { _id: conversationId, user_id: userId, append_id: appendId, next_seq: end },
          {
            $set: { message_count: end, append_id: null },
            $inc: { version: 1 },
            $max: { updated_at: now },
          },
          { returnDocument: "after", projection: WITHOUT_SEARCH_FIELDS },
        )
      );
    } catch (error) {
      // Whether the commit happened is unknown, and it may still happen: delete nothing. If it
      // did not, every message is written, so the next append commits it once the lease is out.
      const after = await committedAnyway(context, allocation, head.incarnation, false)
        .catch(() => null);
      if (!after) throw error;
      committed = after;
    }
    committed ??= await committedAnyway(context, allocation, head.incarnation, true);
    if (!committed) {
      // Taken back after a stall, or the conversation was deleted meanwhile.
      const still = await context.run(() =>
        context.conversations.findOne(
          { _id: conversationId, user_id: userId, incarnation: head.incarnation, ...VISIBLE },
          { projection: { _id: 1 } },
        )
      );
      if (!still) return null;
      throw new AllocationLost();
    }
    return { conversation: toConversation(committed), messages: plan.results };
  }
}

/** A new conversation's head and messages, as createConversation writes them. */
export interface Creation {
  head: ConversationDoc;
  allocation: Allocation;
}

/**
 * Creates a conversation with its first messages: all of it becomes visible at once, or none of
 * it (see the top of this file). A Conflict when the id is taken.
 */
export async function createConversation(
  context: AppendContext,
  userId: string,
  input: NewConversation,
): Promise<ConversationDoc> {
  // Worked out before anything is written: a Conflict inside the batch stores nothing.
  const plan = planAppend(input.id, input.messages, new Map(), 0, input.now);
  const appendId = crypto.randomUUID();
  const docs = messageDocs(userId, plan.inserts, appendId, appendId);
  checkDocumentSizes(docs, context.maxDocumentBytes);
  const title = indexedText(input.title);
  const head: ConversationDoc = {
    _id: input.id,
    user_id: userId,
    title: input.title,
    tags: input.tags,
    source: input.source,
    metadata_json: JSON.stringify(input.metadata),
    message_count: 0,
    next_seq: docs.length,
    append_id: appendId,
    append_lease_until: context.wallClock() + LEASE_MS,
    creating: true,
    incarnation: appendId,
    version: 1,
    created_at: input.createdAt ?? input.now,
    updated_at: input.now,
    search_text: title.stream,
    search_chars: title.chars,
  };
  await claimHead(context, head);
  const allocation = {
    userId,
    conversationId: input.id,
    start: 0,
    end: docs.length,
    appendId,
    docs,
  };
  return await completeCreation(context, { head, allocation });
}

/**
 * Inserts a new head marked `creating`. Another head under the id is a Conflict once created; one
 * still being created is waited for; one whose creator is gone (its lease ran out) is removed with
 * its messages and the insert tried again.
 */
export async function claimHead(context: AppendContext, head: ConversationDoc): Promise<void> {
  const started = context.wallClock();
  let unseen = 0;
  for (let attempt = 0;; attempt++) {
    if (attempt > 0) {
      if (context.wallClock() - started > WAIT_MS) {
        throw new Unavailable("This conversation is being saved; try again shortly.", 1);
      }
      await context.sleep(pollDelay(attempt));
    }
    // The lease runs from the insert, not from before any wait for an earlier creator.
    head.append_lease_until = context.wallClock() + LEASE_MS;
    try {
      await readBackOnFailure(
        context,
        async () => {
          await context.conversations.insertOne(head);
          return true;
        },
        async () =>
          (await headState(context, head.user_id, head._id))?.append_id === head.append_id
            ? true
            : null,
      );
      return;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    const existing = await context.run(() =>
      context.conversations.findOne({ _id: head._id, user_id: head.user_id }, {
        projection: { creating: 1, append_id: 1, append_lease_until: 1 },
      })
    );
    if (!existing) {
      // Another account's conversation, or one deleted a moment ago: ask again once.
      if (++unseen >= 2) throw new Conflict("A conversation with this id exists.");
      continue;
    }
    if (!existing.creating) throw new Conflict("A conversation with this id exists.");
    if (existing.append_lease_until > context.wallClock()) continue;
    const removed = await context.run(() =>
      context.conversations.deleteOne({
        _id: head._id,
        user_id: head.user_id,
        creating: true,
        append_id: existing.append_id,
      })
    );
    if (removed.deletedCount > 0 && existing.append_id) {
      await context.run(() =>
        context.messages.deleteMany({
          user_id: head.user_id,
          conversation_id: head._id,
          append_id: existing.append_id!,
        })
      );
    }
  }
}

/**
 * Writes a claimed head's messages and makes it visible. On failure the head and what was
 * written are removed (as the SQLite store rolls back) and the error is thrown.
 */
export async function completeCreation(
  context: AppendContext,
  creation: Creation,
): Promise<ConversationDoc> {
  const { head, allocation } = creation;
  const abandon = async () => {
    await context.run(() =>
      context.conversations.deleteOne({
        _id: head._id,
        user_id: head.user_id,
        creating: true,
        append_id: allocation.appendId,
      })
    ).catch(() => {});
    await dropOwn(context, allocation).catch(() => {});
  };
  try {
    // Messages an earlier conversation under this id left behind are cleared as they get in the
    // way (writeAllocation): they belong to allocations that can never commit.
    if (allocation.docs.length) await writeAllocation(context, allocation);
  } catch (error) {
    await abandon();
    throw error;
  }
  const done = await readBackOnFailure(
    context,
    () =>
      context.conversations.findOneAndUpdate(
        { _id: head._id, user_id: head.user_id, creating: true, append_id: allocation.appendId },
        { $set: { message_count: allocation.end, append_id: null }, $unset: { creating: "" } },
        { returnDocument: "after", projection: WITHOUT_SEARCH_FIELDS },
      ),
    () =>
      context.conversations.findOne(
        { _id: head._id, user_id: head.user_id, incarnation: head.incarnation, ...VISIBLE },
        { projection: WITHOUT_SEARCH_FIELDS },
      ),
  );
  if (!done) {
    // Its lease ran out during a stall and a retry of the same save took the id over.
    await dropOwn(context, allocation).catch(() => {});
    throw new AllocationLost();
  }
  return done;
}
