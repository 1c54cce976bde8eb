import { z } from "zod";
import { conversationViewSchema, messageViewSchema } from "../core/view_schemas.ts";
import {
  appendMessagesSchema,
  changePasswordSchema,
  createTokenSchema,
  credentialsSchema,
  deleteAccountSchema,
  listQuerySchema,
  loginSchema,
  messagesQuerySchema,
  renameTokenSchema,
  saveConversationSchema,
  searchQuerySchema,
  updateConversationSchema,
} from "../core/schemas.ts";

/** Response shapes, written once here for the document (the views in core/views.ts fill them). */
const time = z.string().meta({ format: "date-time" });
const user = z.object({ id: z.uuid(), email: z.string(), created_at: time });
const session = z.object({
  user,
  access_token: z.string(),
  token_type: z.literal("Bearer"),
  expires_in: z.int(),
});
const conversation = conversationViewSchema.extend({ id: z.uuid() });
const message = messageViewSchema;
const token = z.object({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string(),
  created_at: time,
  expires_at: time.nullable(),
  last_used_at: time.nullable(),
});
const errorShape = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});

interface Operation {
  summary: string;
  auth?: boolean;
  query?: z.ZodObject;
  body?: z.ZodType;
  status: number;
  response?: z.ZodType;
  idempotencyKey?: boolean;
}

const idPath = { name: "id", in: "path", required: true, schema: { type: "string" } };

const operations: Record<string, Record<string, Operation>> = {
  "/auth/register": {
    post: {
      summary: "Create an account and sign in",
      body: credentialsSchema,
      status: 201,
      response: session,
    },
  },
  "/auth/login": {
    post: { summary: "Sign in", body: loginSchema, status: 200, response: session },
  },
  "/auth/logout": { post: { summary: "Revoke this access token", auth: true, status: 204 } },
  "/auth/me": {
    get: {
      summary: "The signed-in account",
      auth: true,
      status: 200,
      response: z.object({ user }),
    },
  },
  "/auth/password": {
    post: {
      summary: "Change the password; revokes every older token",
      auth: true,
      body: changePasswordSchema,
      status: 200,
      response: session,
    },
  },
  "/auth/account": {
    delete: {
      summary: "Delete the account and everything in it",
      auth: true,
      body: deleteAccountSchema,
      status: 204,
    },
  },
  "/api/tokens": {
    get: {
      summary: "List personal access tokens",
      auth: true,
      status: 200,
      response: z.object({ tokens: z.array(token) }),
    },
    post: {
      summary: "Create a personal access token (the secret is shown only here)",
      auth: true,
      body: createTokenSchema,
      status: 201,
      response: z.object({ token, secret: z.string() }),
    },
  },
  "/api/tokens/{id}": {
    patch: {
      summary: "Rename a personal access token",
      auth: true,
      body: renameTokenSchema,
      status: 200,
      response: z.object({ token }),
    },
    delete: { summary: "Revoke a personal access token", auth: true, status: 204 },
  },
  "/api/connected-apps": {
    get: {
      summary: "Apps connected by OAuth, with their scopes and last use",
      auth: true,
      status: 200,
      response: z.object({
        connected_apps: z.array(z.object({
          id: z.string(),
          client_id: z.string(),
          client_name: z.string(),
          scopes: z.array(z.string()),
          connected_at: z.string(),
          last_used_at: z.string(),
          expires_at: z.string(),
        })),
      }),
    },
  },
  "/api/connected-apps/{id}": {
    delete: { summary: "Disconnect an app: its tokens stop working", auth: true, status: 204 },
  },
  "/api/conversations": {
    get: {
      summary: "List conversations, newest first",
      auth: true,
      query: listQuerySchema,
      status: 200,
      response: z.object({
        conversations: z.array(conversation),
        next_cursor: z.string().nullable(),
      }),
    },
    post: {
      summary: "Save a conversation (201; 200 with the first one when an Idempotency-Key repeats)",
      auth: true,
      body: saveConversationSchema,
      status: 201,
      response: z.object({ conversation }),
      idempotencyKey: true,
    },
  },
  "/api/conversations/{id}": {
    get: {
      summary: "Load a conversation and a page of its messages",
      auth: true,
      query: messagesQuerySchema,
      status: 200,
      response: z.object({
        conversation,
        messages: z.array(message),
        next_after_seq: z.int().nullable(),
      }),
    },
    patch: {
      summary: "Rename, retag or change metadata",
      auth: true,
      body: updateConversationSchema,
      status: 200,
      response: z.object({ conversation }),
    },
    delete: { summary: "Delete a conversation and its messages", auth: true, status: 204 },
  },
  "/api/conversations/{id}/messages": {
    get: {
      summary: "A page of messages",
      auth: true,
      query: messagesQuerySchema,
      status: 200,
      response: z.object({ messages: z.array(message), next_after_seq: z.int().nullable() }),
    },
    post: {
      summary: "Append messages (201 when something was stored, 200 when all were duplicates)",
      auth: true,
      body: appendMessagesSchema,
      status: 201,
      response: z.object({
        conversation,
        messages: z.array(message.extend({ duplicate: z.boolean() })),
      }),
      idempotencyKey: true,
    },
  },
  "/api/search": {
    get: {
      summary: "Ranked full-text search over titles and messages",
      auth: true,
      query: searchQuerySchema,
      status: 200,
      response: z.object({
        results: z.array(z.object({
          conversation,
          seq: z.int().nullable(),
          role: z.string().nullable(),
          snippet: z.string(),
          highlights: z.array(z.tuple([z.int(), z.int()])),
          score: z.number(),
        })),
        next_cursor: z.string().nullable(),
      }),
    },
  },
  "/healthz": { get: { summary: "Liveness", status: 200 } },
  "/readyz": { get: { summary: "Readiness: store reachable and not draining", status: 200 } },
};

function jsonSchema(schema: z.ZodType, io: "input" | "output") {
  return z.toJSONSchema(schema, { io, unrepresentable: "any", target: "draft-2020-12" });
}

function queryParameters(schema: z.ZodObject) {
  const shape = jsonSchema(schema, "input") as {
    properties?: Record<string, unknown>;
    required?: string[];
  };
  return Object.entries(shape.properties ?? {}).map(([name, property]) => ({
    name,
    in: "query",
    required: shape.required?.includes(name) ?? false,
    schema: property,
  }));
}

/** The OpenAPI 3.1 document, generated from the same zod schemas that validate requests. */
export function openApiDocument(publicUrl: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, methods] of Object.entries(operations)) {
    paths[path] = {};
    for (const [method, op] of Object.entries(methods)) {
      const parameters: unknown[] = [];
      if (path.includes("{id}")) parameters.push(idPath);
      if (op.query) parameters.push(...queryParameters(op.query));
      if (op.idempotencyKey) {
        parameters.push({
          name: "Idempotency-Key",
          in: "header",
          required: false,
          schema: { type: "string", maxLength: 100 },
          description: "A retried request with the same key stores nothing twice.",
        });
      }
      paths[path][method] = {
        summary: op.summary,
        ...(op.auth ? { security: [{ bearer: [] }] } : {}),
        ...(parameters.length ? { parameters } : {}),
        ...(op.body
          ? {
            requestBody: {
              required: true,
              content: { "application/json": { schema: jsonSchema(op.body, "input") } },
            },
          }
          : {}),
        responses: {
          [op.status]: op.response
            ? {
              description: "Success",
              content: { "application/json": { schema: jsonSchema(op.response, "output") } },
            }
            : { description: "Success" },
          default: {
            description: "Error",
            content: { "application/json": { schema: jsonSchema(errorShape, "output") } },
          },
        },
      };
    }
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Pensieve API",
      version: "1.0.0",
      description: "Keep AI conversations and carry them between AI clients.",
    },
    servers: [{ url: publicUrl }],
    components: {
      securitySchemes: {
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "An access token from /auth/login, or a personal access token (psv_…).",
        },
      },
    },
    paths,
  };
}
