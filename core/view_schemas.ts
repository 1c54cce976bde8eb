import { z } from "zod";

/** The shapes of core/views.ts as schemas, for the OpenAPI document and MCP output schemas. */

const time = z.iso.datetime();

export const conversationViewSchema = z.object({
  id: z.string(),
  title: z.string(),
  tags: z.array(z.string()),
  source: z.string(),
  metadata: z.record(z.string(), z.unknown()),
  message_count: z.int(),
  version: z.int(),
  created_at: time,
  updated_at: time,
});

export const messageViewSchema = z.object({
  seq: z.int(),
  role: z.enum(["user", "assistant", "system", "tool"]),
  content: z.string(),
  created_at: time,
  client_message_id: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
});
