import type { Clock } from "../clock.ts";
import { emailSchema } from "../schemas.ts";
import { uuidFromText } from "../secrets.ts";
import type { Store } from "../../db/store.ts";
import { ImportProblem } from "./imported.ts";
import { emptySummary, type Importer, type ImportSummary, noteSkipped } from "./importer.ts";
import { fromLegacyPensieve, legacyId, legacyUser } from "./legacy_pensieve.ts";

/** The original Pensieve's data, as documents of its two MongoDB collections. */
export interface LegacySource {
  users(): AsyncIterable<unknown>;
  conversations(): AsyncIterable<unknown>;
}

/** What a migration did: accounts, then conversations (as an import summary). */
export interface MigrationSummary {
  users_created: number;
  /** Accounts this migration made on an earlier run: their conversations are brought up to date. */
  users_already_migrated: number;
  users_skipped: { user: string; reason: string }[];
  conversations: ImportSummary;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Brings the original Pensieve's accounts and conversations over. Accounts keep their id (its
 * UUIDs) and their bcrypt hash, so people sign in with their old password (the hash is upgraded
 * to argon2id then). An email already taken here by someone else is left alone, and so are that
 * account's conversations: a migration never hands data to an account it did not make.
 * Running it again adds only what is new.
 */
export class LegacyMigration {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly importer: Importer,
  ) {}

  async migrate(
    source: LegacySource,
    onProgress?: (summary: MigrationSummary) => void,
  ): Promise<MigrationSummary> {
    const summary: MigrationSummary = {
      users_created: 0,
      users_already_migrated: 0,
      users_skipped: [],
      conversations: emptySummary(),
    };
    const accounts = new Map<string, string>();
    const made = new Set<string>();
    let position = 0;
    for await (const raw of source.users()) {
      try {
        const [legacy, userId] = await this.#account(raw, position++, made, summary);
        accounts.set(legacy, userId);
      } catch (error) {
        if (!(error instanceof ImportProblem)) throw error;
        summary.users_skipped.push({ user: error.conversation, reason: error.message });
      }
      onProgress?.(summary);
    }
    position = 0;
    for await (const raw of source.conversations()) {
      await this.#conversation(raw, position++, accounts, summary.conversations);
      onProgress?.(summary);
    }
    return summary;
  }

  /** One conversation, to its owner's account; skipped when the owner was not brought over. */
  async #conversation(
    raw: unknown,
    position: number,
    accounts: Map<string, string>,
    summary: ImportSummary,
  ): Promise<void> {
    try {
      const conversation = fromLegacyPensieve(raw, position);
      const owner = legacyId((raw as Record<string, unknown>).user_id);
      const userId = owner === null ? undefined : accounts.get(owner);
      if (!userId) {
        throw new ImportProblem(
          conversation.sourceId,
          "user_id",
          owner === null ? "is missing" : `is ${owner}, an account that was not brought over`,
        );
      }
      await this.importer.add(userId, conversation, summary);
    } catch (error) {
      if (!(error instanceof ImportProblem)) throw error;
      noteSkipped(summary, error.conversation, error.message);
    }
  }

  /** The account for one legacy user, made now or on an earlier run: [legacy id, our id]. */
  async #account(
    raw: unknown,
    position: number,
    made: Set<string>,
    summary: MigrationSummary,
  ): Promise<[string, string]> {
    const legacy = legacyUser(raw, position);
    const parsed = emailSchema.safeParse(legacy.email);
    if (!parsed.success) throw new ImportProblem(legacy.email, "email", "is not a valid email");
    const email = parsed.data;
    const id = UUID.test(legacy.id)
      ? legacy.id.toLowerCase()
      : await uuidFromText(`pensieve-v1-user\n${legacy.id}`);
    const existing = await this.store.findUserByEmail(email);
    if (existing) {
      if (existing.id !== id) {
        throw new ImportProblem(
          legacy.email,
          "email",
          made.has(existing.id)
            ? "is another original account's address but for case: not brought over"
            : "belongs to an account made here, not by this migration: left alone",
        );
      }
      summary.users_already_migrated++;
      return [legacy.id, id];
    }
    if (await this.store.getUser(id)) {
      throw new ImportProblem(legacy.email, "_id", `is already the id of another account here`);
    }
    await this.store.createUser({
      id,
      email,
      passwordHash: legacy.passwordHash,
      createdAt: legacy.createdAt ?? this.clock.now(),
      tokensValidAfter: 0,
    });
    made.add(id);
    summary.users_created++;
    return [legacy.id, id];
  }
}
