import assert from "node:assert/strict";
import {
  Client,
  SSEClientTransport,
  StreamableHTTPClientTransport,
} from "@modelcontextprotocol/client";
import { callOk, callTool } from "../_helpers/mcp_client.ts";
import { consentInBrowser, MemoryOAuthProvider } from "../_helpers/oauth.ts";
import { signUp, withServer } from "../_helpers/server.ts";

Deno.test("OAuth end to end: discover, register, sign in, consent, tools, refresh, revoke", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const provider = new MemoryOAuthProvider();
    const mcpUrl = new URL(`${server.url}/mcp`);
    const connect = async () => {
      const client = new Client({ name: "oauth-test", version: "1" });
      const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
      await client.connect(transport);
      return { client, transport };
    };

    // First contact: 401 → metadata → registration → the user is sent to /authorize.
    const first = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
    await assert.rejects(new Client({ name: "oauth-test", version: "1" }).connect(first));
    assert.ok(provider.info?.client_id, "registered dynamically");
    const authorizeUrl = provider.authorizationUrl!;
    assert.equal(authorizeUrl.origin + authorizeUrl.pathname, `${server.url}/authorize`);
    assert.equal(authorizeUrl.searchParams.get("code_challenge_method"), "S256");
    assert.equal(authorizeUrl.searchParams.get("resource"), `${server.config.publicUrl}/mcp`);

    const consent = await consentInBrowser(server, authorizeUrl, account);
    assert.equal(consent.status, 302, consent.page ?? "");
    const back = new URL(consent.location);
    assert.equal(back.origin + back.pathname, provider.redirectUrl);
    assert.equal(back.searchParams.get("iss"), server.config.publicUrl);
    assert.equal(back.searchParams.get("state"), authorizeUrl.searchParams.get("state"));
    await first.finishAuth(back.searchParams);
    assert.ok(provider.saved?.access_token);
    assert.ok(provider.saved?.refresh_token?.startsWith("psr_"));
    assert.equal(
      provider.saved?.scope,
      "conversations:read conversations:write conversations:delete",
    );

    // Connected: the tools act for the account that approved.
    const { client } = await connect();
    const saved = await callOk(client, "save_conversation", {
      messages: [{ role: "user", content: "saved through OAuth" }],
    });
    const viaApi = await (await server.call(`/api/conversations/${saved.conversation.id}`, {
      token: account.token,
    })).json();
    assert.equal(viaApi.messages[0].content, "saved through OAuth");

    // The access token is for /mcp only; the dashboard's token is for the API only.
    const onApi = await server.call("/api/conversations", { token: provider.saved!.access_token });
    assert.equal(onApi.status, 401);
    await onApi.body?.cancel();

    // A stale access token: the client refreshes (rotating the refresh token) and carries on.
    const oldRefresh = provider.saved!.refresh_token;
    provider.saved = { ...provider.saved!, access_token: "expired.or.garbage" };
    const listed = await callOk(client, "list_conversations", {});
    assert.equal(listed.conversations.length, 1);
    assert.notEqual(provider.saved!.refresh_token, oldRefresh, "rotated");
    assert.notEqual(provider.saved!.access_token, "expired.or.garbage");

    // The user sees the app, then disconnects it: the client is cut off at its next call.
    const apps = await (await server.call("/api/connected-apps", { token: account.token })).json();
    assert.equal(apps.connected_apps.length, 1);
    assert.equal(apps.connected_apps[0].client_name, "Pensieve test client");
    assert.deepEqual(apps.connected_apps[0].scopes, [
      "conversations:read",
      "conversations:write",
      "conversations:delete",
    ]);
    const revoked = await server.call(`/api/connected-apps/${apps.connected_apps[0].id}`, {
      method: "DELETE",
      token: account.token,
    });
    assert.equal(revoked.status, 204);
    const held = { ...provider.saved! };
    await assert.rejects(callTool(client, "list_conversations", {}));
    const raw = await fetch(`${server.url}/mcp`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${held.access_token}`,
        "Content-Type": "application/json",
        Accept: "application/json, text/event-stream",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    assert.equal(raw.status, 401, "the access token died with the grant");
    await raw.body?.cancel();
    const refresh = await fetch(`${server.url}/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: held.refresh_token!,
        client_id: provider.info!.client_id,
      }),
    });
    assert.equal(refresh.status, 400);
    assert.equal((await refresh.json()).error, "invalid_grant");
    const after = await (await server.call("/api/connected-apps", { token: account.token })).json();
    assert.deepEqual(after.connected_apps, []);
    await client.close().catch(() => {});
  }));

Deno.test("OAuth: a read-only grant gets 403 insufficient_scope naming the scope it lacks", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const provider = new MemoryOAuthProvider();
    const mcpUrl = new URL(`${server.url}/mcp`);
    const first = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
    await assert.rejects(new Client({ name: "ro", version: "1" }).connect(first));
    const url = provider.authorizationUrl!;
    url.searchParams.set("scope", "conversations:read");
    const consent = await consentInBrowser(server, url, account);
    await first.finishAuth(new URL(consent.location).searchParams);
    assert.equal(provider.saved?.scope, "conversations:read");

    const call = (name: string, args: Record<string, unknown>) =>
      fetch(`${server.url}/mcp`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${provider.saved!.access_token}`,
          "Content-Type": "application/json",
          Accept: "application/json, text/event-stream",
          "MCP-Protocol-Version": "2025-11-25",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "tools/call",
          params: { name, arguments: args },
        }),
      });
    const read = await call("list_conversations", {});
    assert.equal(read.status, 200);
    await read.body?.cancel();
    for (
      const [tool, scope] of [["save_conversation", "conversations:write"], [
        "delete_conversation",
        "conversations:delete",
      ]]
    ) {
      const refused = await call(tool, { messages: [], conversation_id: "x" });
      assert.equal(refused.status, 403, tool);
      const challenge = refused.headers.get("WWW-Authenticate")!;
      assert.match(challenge, /error="insufficient_scope"/);
      assert.match(challenge, new RegExp(`scope="${scope}"`));
      assert.match(
        challenge,
        /resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource\/mcp"/,
      );
      assert.equal((await refused.json()).error.code, "insufficient_scope");
    }
    assert.equal(Number(server.store.rawQuery("SELECT count(*) AS n FROM conversations")[0].n), 0);
  }));

Deno.test("OAuth over the legacy SSE transport: the same sign-in, then tools on /sse", () =>
  withServer(async (server) => {
    const account = await signUp(server);
    const provider = new MemoryOAuthProvider();
    const sseUrl = new URL(`${server.url}/sse`);
    const first = new SSEClientTransport(sseUrl, { authProvider: provider });
    await assert.rejects(new Client({ name: "sse-oauth", version: "1" }).connect(first));
    const consent = await consentInBrowser(server, provider.authorizationUrl!, account);
    assert.equal(consent.status, 302, consent.page ?? "");
    await first.finishAuth(new URL(consent.location).searchParams);
    const client = new Client({ name: "sse-oauth", version: "1" });
    await client.connect(new SSEClientTransport(sseUrl, { authProvider: provider }));
    const saved = await callOk(client, "save_conversation", {
      messages: [{ role: "user", content: "over SSE with OAuth" }],
    });
    assert.ok(saved.conversation.id);
    await client.close();
  }));
