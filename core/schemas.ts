import { z } from "zod";
import { LIMITS } from "./limits.ts";

/**
 * Input schemas for every surface (REST, MCP, OpenAPI). Objects are strict: an unknown field is
 * a mistake the caller should hear about, not something silently dropped.
 */

const textEncoder = new TextEncoder();

/**
 * A JSON object of at most `max` bytes. A `__proto__` key at its top is refused: zod leaves that
 * key out of a parsed record (so it cannot become the prototype), which would drop it silently.
 */
export function boundedJson(max: number) {
  return z.preprocess(
    (value, ctx) => {
      if (typeof value === "object" && value !== null && Object.hasOwn(value, "__proto__")) {
        ctx.issues.push({
          code: "custom",
          message: 'must not have a "__proto__" key',
          input: value,
        });
      }
      return value;
    },
    z.record(z.string(), z.unknown()),
  ).refine(
    (value) => textEncoder.encode(JSON.stringify(value)).length <= max,
    { message: `metadata must be at most ${max} bytes of JSON` },
  );
}

/**
 * Text is stored exactly as given or refused: SQLite cuts a string at its first NUL, and an
 * unpaired surrogate has no UTF-8 form, so either would be changed silently after a 2xx.
 */
const isStorable = (value: string) => !value.includes("\u0000") && value.isWellFormed();
const NOT_STORABLE = { message: "must not contain NUL characters or unpaired surrogates" };

/**
 * A time with an offset, kept as epoch milliseconds. It must fall within the years 0000 to 9999
 * in UTC, as every time Pensieve writes out does: "9999-12-31T23:00:00-05:00" is in the year
 * 10000, which no ISO time without an extended year can say.
 */
const EARLIEST = Date.parse("0000-01-01T00:00:00.000Z");
const LATEST = Date.parse("9999-12-31T23:59:59.999Z");
const isoTime = z.iso.datetime({ offset: true }).transform((value) => Date.parse(value)).refine(
  (ms) => ms >= EARLIEST && ms <= LATEST,
  { message: "must be a time within the years 0000 to 9999 in UTC" },
);

export const emailSchema = z.string().trim().max(LIMITS.emailMax).transform((value) =>
  value.normalize("NFC").toLowerCase()
).pipe(z.email({ message: "email must be an email address" }));

export const passwordSchema = z.string()
  .refine((value) => Array.from(value).length >= LIMITS.passwordMin, {
    message: `password must be at least ${LIMITS.passwordMin} characters`,
  })
  .refine((value) => Array.from(value).length <= LIMITS.passwordMax, {
    message: `password must be at most ${LIMITS.passwordMax} characters`,
  })
  // An unpaired surrogate has no UTF-8 form: hashed as U+FFFD, any other one would match it.
  .refine((value) => value.isWellFormed(), {
    message: "password must not contain unpaired surrogates",
  });

export const credentialsSchema = z.strictObject({
  email: emailSchema,
  password: passwordSchema,
});

/**
 * Signing in checks only the password's size: the length rule is for new passwords, and accounts
 * brought over from the original Pensieve may have shorter ones (it asked for 6).
 */
export const loginSchema = z.strictObject({
  email: emailSchema,
  password: z.string().min(1, { message: "password is required" }).max(LIMITS.passwordMax),
});

export const changePasswordSchema = z.strictObject({
  current_password: z.string().max(LIMITS.passwordMax),
  new_password: passwordSchema,
});

export const deleteAccountSchema = z.strictObject({
  password: z.string().max(LIMITS.passwordMax),
});

export const roleSchema = z.enum(["user", "assistant", "system", "tool"]);

export const messageInputSchema = z.strictObject({
  role: roleSchema,
  content: z.string().max(LIMITS.messageContentMax).refine(isStorable, NOT_STORABLE),
  created_at: isoTime.optional(),
  client_message_id: z.string().min(1).max(LIMITS.clientMessageIdMax).refine(
    isStorable,
    NOT_STORABLE,
  ).optional(),
  metadata: boundedJson(LIMITS.metadataBytes).optional(),
});

export const tagSchema = z.string().trim().min(1).max(LIMITS.tagMax).refine(
  isStorable,
  NOT_STORABLE,
)
  .transform((tag) => tag.normalize("NFC"));
export const tagsSchema = z.array(tagSchema).max(LIMITS.tagsMax).transform((tags) => [
  ...new Set(tags),
]);
export const sourceSchema = z.string().trim().toLowerCase().min(1).max(LIMITS.sourceMax).regex(
  /^[a-z0-9][a-z0-9:._-]*$/,
  { message: "source may hold only letters, digits and : . _ -" },
);
export const titleSchema = z.string().trim().max(LIMITS.titleMax).refine(isStorable, NOT_STORABLE)
  .transform((title) => title.normalize("NFC"));

export const saveConversationSchema = z.strictObject({
  title: titleSchema.optional(),
  messages: z.array(messageInputSchema).max(LIMITS.messagesPerRequest).default([]),
  tags: tagsSchema.default([]),
  source: sourceSchema.default("api"),
  metadata: boundedJson(LIMITS.metadataBytes).default({}),
});

export const appendMessagesSchema = z.strictObject({
  messages: z.array(messageInputSchema).min(1).max(LIMITS.messagesPerRequest),
});

export const updateConversationSchema = z.strictObject({
  title: titleSchema.refine((title) => title.length > 0, { message: "title must not be empty" })
    .optional(),
  tags: tagsSchema.optional(),
  metadata: boundedJson(LIMITS.metadataBytes).optional(),
}).refine((patch) => Object.keys(patch).length > 0, {
  message: "give at least one of title, tags, metadata",
});

export const createTokenSchema = z.strictObject({
  name: z.string().trim().min(1).max(LIMITS.tokenNameMax).refine(isStorable, NOT_STORABLE),
  expires_in_days: z.int().min(1).max(3650).optional(),
});

export const renameTokenSchema = z.strictObject({
  name: z.string().trim().min(1).max(LIMITS.tokenNameMax).refine(isStorable, NOT_STORABLE),
});

export const uuidSchema = z.uuid({ message: "not a valid id" });

const pageSize = (fallback: number, max: number) =>
  z.coerce.number().int().min(1).max(max).default(fallback);

const filterFields = {
  tag: tagSchema.optional(),
  source: sourceSchema.optional(),
  updated_from: isoTime.optional(),
  updated_to: isoTime.optional(),
};

export const listQuerySchema = z.strictObject({
  ...filterFields,
  limit: pageSize(LIMITS.listPageDefault, LIMITS.listPageMax),
  cursor: z.string().max(500).optional(),
});

export const searchQuerySchema = z.strictObject({
  ...filterFields,
  q: z.string().max(LIMITS.queryMax),
  limit: pageSize(LIMITS.searchPageDefault, LIMITS.searchPageMax),
  cursor: z.string().max(500).optional(),
});

export const messagesQuerySchema = z.strictObject({
  after_seq: z.coerce.number().int().min(-1).optional(),
  limit: pageSize(LIMITS.messagePageDefault, LIMITS.messagePageMax),
  last: z.enum(["true", "false"]).transform((v) => v === "true").optional(),
});

export type MessageInput = z.output<typeof messageInputSchema>;
export type SaveConversationInput = z.output<typeof saveConversationSchema>;
export type UpdateConversationInput = z.output<typeof updateConversationSchema>;
export type ListQuery = z.output<typeof listQuerySchema>;
export type SearchQueryInput = z.output<typeof searchQuerySchema>;
