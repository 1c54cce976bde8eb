/** The original Pensieve's data as its MongoDB held it, for the migration tests. */
import bcrypt from "bcryptjs";
import { serialize } from "bson";

export const ADA_ID = "6f1c7a52-3a0e-4c55-9a43-0c1f3f0e8a11";
export const BOB_ID = "0b6f2d1e-8c4b-4a7e-9b1d-5e2f7a9c3d44";

/** Passwords as people chose them there: the original asked for only six characters. */
export const ADA_PASSWORD = "abc123";
export const BOB_PASSWORD = "bob-password-1";

export function legacyUsers() {
  return [
    {
      _id: ADA_ID,
      email: "Ada@Example.com",
      hashed_password: bcrypt.hashSync(ADA_PASSWORD, 4),
      created_at: new Date("2025-03-01T10:00:00Z"),
    },
    {
      _id: BOB_ID,
      email: "bob@example.com",
      hashed_password: bcrypt.hashSync(BOB_PASSWORD, 4),
      created_at: new Date("2025-04-02T11:00:00Z"),
    },
    // The same address as Ada but for case: the original told them apart, we cannot.
    {
      _id: "7d3a9b8c-1e2f-4a5b-8c7d-9e0f1a2b3c4d",
      email: "ADA@example.com",
      hashed_password: bcrypt.hashSync("whatever1", 4),
      created_at: new Date("2025-05-01T00:00:00Z"),
    },
    { _id: "no-hash", email: "nohash@example.com", created_at: new Date() },
  ];
}

export function legacyConversations(extraMessage = false) {
  const adaMessages: Record<string, unknown>[] = [
    { role: "user", content: "How do I keep a diary?" },
    { role: "assistant", content: "Write a little every day." },
    { role: "human", content: "And in Korean? 일기" },
    { role: "critic", content: "An unknown role is kept, not lost." },
    { role: "assistant", content: "" },
    { role: "assistant", content: [{ type: "text", text: "Blocks from an MCP client" }] },
  ];
  if (extraMessage) adaMessages.push({ role: "user", content: "One more, added later" });
  return [
    {
      _id: "c-ada-1",
      user_id: ADA_ID,
      messages: adaMessages,
      metadata: { title: "Diary", tags: ["habits", "korean"], platform: "claude" },
      created_at: new Date("2025-03-02T09:00:00Z"),
      updated_at: new Date("2025-03-03T09:00:00Z"),
    },
    {
      _id: "c-bob-1",
      user_id: BOB_ID,
      messages: [{ role: "user", content: "Bob's only question" }],
      metadata: {},
      created_at: new Date("2025-04-03T00:00:00Z"),
      updated_at: new Date("2025-04-03T00:00:00Z"),
    },
    {
      _id: "c-orphan",
      user_id: "someone-gone",
      messages: [{ role: "user", content: "nobody's" }],
      metadata: {},
      created_at: new Date("2025-01-01T00:00:00Z"),
      updated_at: new Date("2025-01-01T00:00:00Z"),
    },
    { _id: "c-broken", user_id: BOB_ID, messages: "not a list", metadata: {} },
  ];
}

/** `mongoexport`'s default: JSON lines in Extended JSON (dates as {"$date": …}). */
export function mongoexportLines(documents: Record<string, unknown>[]): string {
  return documents.map((d) =>
    JSON.stringify(d, function (key, value) {
      const raw = (this as Record<string, unknown>)[key];
      return raw instanceof Date ? { $date: raw.toISOString() } : value;
    })
  ).join("\n") + "\n";
}

/** `mongodump`'s `.bson` file: the documents one after the other. */
export function mongodumpFile(documents: Record<string, unknown>[]): Uint8Array {
  const parts = documents.map((d) => serialize(d));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
