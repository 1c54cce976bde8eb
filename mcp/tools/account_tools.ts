import type { CallToolResult, McpServer, ServerContext } from "@modelcontextprotocol/server";
import { Invalid } from "../../core/errors.ts";
import { credentialsSchema, loginSchema } from "../../core/schemas.ts";
import type { SignInCredential } from "../../core/mcp_sessions.ts";
import type { User } from "../../core/types.ts";
import { apiTokenInput, credentialsInput, signedInOutput } from "../schemas.ts";
import { errorResult } from "../tool_result.ts";
import { type McpDeps, requestCaller } from "../tool_context.ts";

const SAFER = "Prefer connecting Pensieve with OAuth or a personal access token: a password " +
  "typed into a chat passes through the model and the chat history.";

/**
 * In-band sign-in for `/open/…`, for clients that can neither send a header nor do OAuth. Each
 * binds the user to the MCP session in the store; other tools answer "log in first" until then.
 */
export function registerAccountTools(server: McpServer, deps: McpDeps): void {
  const { accounts, authenticator } = deps.services;

  const bind = async (
    extra: ServerContext,
    user: Pick<User, "id" | "email">,
    signIn: SignInCredential,
    verb: string,
  ): Promise<CallToolResult> => {
    const sessionId = requestCaller(extra).sessionId;
    if (!sessionId || !(await deps.sessions.bind(sessionId, user.id, signIn))) {
      throw new Invalid(
        "This connection has no MCP session to sign in to. Reconnect (the client must keep " +
          "the Mcp-Session-Id of its initialize, or use the SSE transport), or use OAuth.",
      );
    }
    const data = { user: { id: user.id, email: user.email } };
    return {
      content: [{ type: "text", text: `${verb} as ${user.email}.` }],
      structuredContent: data,
    };
  };
  const credentials = (input: unknown, schema = credentialsSchema) => {
    const parsed = schema.safeParse(input);
    if (!parsed.success) throw new Invalid(parsed.error.issues[0].message);
    return parsed.data;
  };
  const guard = async (fn: () => Promise<CallToolResult>): Promise<CallToolResult> => {
    try {
      return await fn();
    } catch (error) {
      return errorResult(error, deps.onUnexpected);
    }
  };

  server.registerTool("mcp_register", {
    title: "Create a Pensieve account",
    description: "Create a Pensieve account and sign this connection in to it. Only when the " +
      `user asks to, with an email and password they chose. ${SAFER}`,
    inputSchema: credentialsInput,
    outputSchema: signedInOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
  }, (input, extra) =>
    guard(async () => {
      const { email, password } = credentials(input);
      const { clientAddress } = requestCaller(extra);
      const session = await accounts.register(email, password, clientAddress);
      return bind(extra, session.user, { kind: "password" }, "Account created; signed in");
    }));

  server.registerTool("mcp_login", {
    title: "Sign in to Pensieve",
    description: "Sign this connection in to the user's Pensieve account with email and " +
      `password, so the conversation tools work. ${SAFER}`,
    inputSchema: credentialsInput,
    outputSchema: signedInOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
  }, (input, extra) =>
    guard(async () => {
      const { email, password } = credentials(input, loginSchema);
      const { clientAddress } = requestCaller(extra);
      const session = await accounts.login(email, password, clientAddress);
      return bind(extra, session.user, { kind: "password" }, "Signed in");
    }));

  server.registerTool("set_api_token", {
    title: "Sign in with a token",
    description: "Sign this connection in with a Pensieve personal access token (psv_…) the " +
      "user created in the dashboard. Safer than a password, though the token still passes " +
      "through the chat; OAuth avoids that entirely.",
    inputSchema: apiTokenInput,
    outputSchema: signedInOutput,
    annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
  }, ({ token }, extra) =>
    guard(async () => {
      const secret = token.trim();
      const principal = await authenticator.authenticate(secret);
      return bind(
        extra,
        await accounts.me(principal.userId),
        { kind: "token", secret, principal },
        "Signed in",
      );
    }));
}
