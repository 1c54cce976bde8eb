import { OAuthError } from "../errors.ts";

/** What an OAuth client may do with a user's conversations. Personal tokens may do all of it. */
export const SCOPES = [
  "conversations:read",
  "conversations:write",
  "conversations:delete",
] as const;
export type Scope = typeof SCOPES[number];

export const SCOPE_DESCRIPTIONS: Record<Scope, string> = {
  "conversations:read": "Read, list and search your saved conversations",
  "conversations:write": "Save new conversations and add messages to them",
  "conversations:delete": "Delete your saved conversations",
};

/** A space-separated scope parameter; absent or empty asks for every scope. */
export function parseScopes(value: string | null | undefined): Scope[] {
  const asked = (value ?? "").split(" ").filter(Boolean);
  if (asked.length === 0) return [...SCOPES];
  const unknown = asked.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length) {
    throw new OAuthError("invalid_scope", `Unknown scope: ${unknown.join(" ")}.`);
  }
  return SCOPES.filter((s) => asked.includes(s));
}
