import { sha256Hex } from "../core/secrets.ts";
import type { SqliteStore } from "../db/sqlite/store.ts";

/** Two bench accounts; the first holds a personal access token `token`. Returns their ids. */
export async function seedUsers(store: SqliteStore, token: string, at: number): Promise<string[]> {
  const users = [crypto.randomUUID(), crypto.randomUUID()];
  for (const [i, id] of users.entries()) {
    await store.createUser({
      id,
      email: `bench${i}@example.com`,
      passwordHash: "$argon2id$unused",
      createdAt: at,
      tokensValidAfter: 0,
    });
  }
  await store.createPersonalToken(users[0], {
    id: crypto.randomUUID(),
    name: "bench",
    prefix: token.slice(0, 10),
    secretHash: await sha256Hex(token),
    createdAt: at,
    expiresAt: null,
  });
  return users;
}
