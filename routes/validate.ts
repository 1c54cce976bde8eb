import type { Context } from "hono";
import type { z } from "zod";
import { Invalid } from "../core/errors.ts";

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue.path.map(String).join(".");
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** Parses `value` with `schema`, or throws Invalid naming the first problem. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new Invalid(describe(result.error));
  return result.data;
}

/** The request's JSON body, validated. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    throw new Invalid("The request body must be valid JSON.");
  }
  return parseWith(schema, body);
}

/** The query string, validated. A repeated parameter is refused rather than guessed at. */
export function readQuery<S extends z.ZodType>(c: Context, schema: S): z.output<S> {
  const query: Record<string, string> = {};
  for (const [key, values] of Object.entries(c.req.queries())) {
    if (values.length > 1) throw new Invalid(`${key}: give this parameter once`);
    query[key] = values[0];
  }
  return parseWith(schema, query);
}
