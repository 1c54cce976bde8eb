/** Who is making a request, as established from a verified credential. */
export interface Principal {
  userId: string;
  credential:
    | { kind: "access_token"; jti: string; expiresAt: number }
    | { kind: "personal_token"; tokenId: string }
    | { kind: "oauth"; grantId: string; clientId: string };
  /** What the credential may do: every scope, except for an OAuth token. */
  scopes: readonly string[];
}
