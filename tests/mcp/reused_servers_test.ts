import assert from "node:assert/strict";
import { callOk, callTool, connectMcp, errorText, type Json } from "../_helpers/mcp_client.ts";
import { signUpForMcp, withServer } from "../_helpers/server.ts";

// Stateless requests are served on MCP servers kept for reuse: these pin that a reused server
// answers each request for that request's caller only, however requests of different callers
// interleave.

Deno.test("reused servers: interleaved calls of two users each see only their own", () =>
  withServer(async (server) => {
    const users = [await signUpForMcp(server), await signUpForMcp(server)];
    const clients = await Promise.all(
      users.map((u) => connectMcp(server, { mode: "legacy", token: u.token })),
    );
    const ids = await Promise.all(
      clients.map(async (client, i) =>
        (await callOk(client, "save_conversation", {
          title: `user ${i}`,
          messages: [{ role: "user", content: `only for user ${i}` }],
        })).conversation.id
      ),
    );
    const rounds = await Promise.all(
      Array.from({ length: 40 }, (_, n) => {
        const i = n % 2;
        return callOk(clients[i], "list_conversations", {}).then((listed: Json) => ({
          i,
          seen: listed.conversations.map((c: Json) => c.id),
        }));
      }),
    );
    for (const { i, seen } of rounds) assert.deepEqual(seen, [ids[i]], `user ${i}`);
    for (const client of clients) await client.close();
  }));

Deno.test("reused servers on /open: a sign-in binds one session, never a request of another", () =>
  withServer(async (server) => {
    const account = await signUpForMcp(server);
    const signedIn = await connectMcp(server, { mode: "legacy", open: true });
    const signedOut = await connectMcp(server, { mode: "legacy", open: true });
    await callOk(signedIn, "mcp_login", { email: account.email, password: account.password });
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, n) => {
        const client = n % 2 === 0 ? signedIn : signedOut;
        return callTool(client, "list_conversations", {}).then((result) => ({ n, result }));
      }),
    );
    for (const { n, result } of answers) {
      if (n % 2 === 0) assert.ok(!result.isError, JSON.stringify(result.content));
      else assert.match(errorText(result), /Log in first/);
    }
    await signedIn.close();
    await signedOut.close();
  }));
