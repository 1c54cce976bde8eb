import type { SqliteStore } from "../db/sqlite/store.ts";
import type { Corpus } from "./corpus.ts";

/**
 * Stores `count` conversations of `perConversation` corpus messages for `userId` through the
 * Store itself (the API's own write path), dated one second apart from `from`. Returns the ids.
 */
export async function seedConversations(
  store: SqliteStore,
  userId: string,
  options: { count: number; perConversation: number; text: Corpus; from: number },
): Promise<string[]> {
  const ids: string[] = [];
  for (let c = 0; c < options.count; c++) {
    const contents = Array.from({ length: options.perConversation }, () => options.text.message());
    const conversation = await store.createConversation(userId, {
      id: crypto.randomUUID(),
      title: contents[0].split(" ").slice(0, 6).join(" "),
      tags: [],
      source: "bench",
      metadata: {},
      messages: contents.map((content, i) => ({
        role: i % 2 ? "assistant" as const : "user" as const,
        content,
      })),
      now: options.from + c * 1000,
    });
    ids.push(conversation.id);
  }
  return ids;
}
