import assert from "node:assert/strict";
import { signUp, withServer } from "../_helpers/server.ts";

Deno.test("every response carries security headers; API responses are not cached", () =>
  withServer(async (server) => {
    for (const path of ["/healthz", "/api/conversations", "/auth/me", "/nope"]) {
      const res = await server.call(path);
      await res.body?.cancel();
      assert.equal(res.headers.get("X-Content-Type-Options"), "nosniff", path);
      assert.match(res.headers.get("Content-Security-Policy") ?? "", /default-src 'none'/, path);
      assert.match(res.headers.get("Content-Security-Policy") ?? "", /frame-ancestors 'none'/);
      assert.equal(res.headers.get("Referrer-Policy"), "no-referrer", path);
      assert.equal(res.headers.get("X-Frame-Options"), "DENY", path);
      assert.equal(res.headers.get("Strict-Transport-Security"), null, "no HSTS over http");
    }
    for (const path of ["/api/conversations", "/auth/me"]) {
      const res = await server.call(path);
      await res.body?.cancel();
      assert.equal(res.headers.get("Cache-Control"), "no-store", path);
    }
    // A body refused for its size is an API answer too.
    const { token } = await signUp(server);
    const big = await server.call("/api/conversations", {
      method: "POST",
      token,
      json: { title: "x".repeat(4000) },
    });
    await big.body?.cancel();
    assert.equal(big.status, 413);
    assert.equal(big.headers.get("Cache-Control"), "no-store");
  }, { env: { PENSIEVE_MAX_BODY_BYTES: "2048" } }));

Deno.test("HSTS is sent when the public URL is https", () =>
  withServer(async (server) => {
    const res = await server.call("/healthz");
    await res.body?.cancel();
    assert.match(res.headers.get("Strict-Transport-Security") ?? "", /max-age=\d+/);
  }, {
    env: { PENSIEVE_PUBLIC_URL: "https://pensieve.example.com" },
  }));

Deno.test("CORS answers only configured origins", () =>
  withServer(async (server) => {
    const preflight = (origin: string) =>
      server.call("/api/conversations", {
        method: "OPTIONS",
        headers: {
          Origin: origin,
          "Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": "authorization, content-type",
        },
      });
    const allowed = await preflight("https://app.example.com");
    await allowed.body?.cancel();
    assert.equal(allowed.headers.get("Access-Control-Allow-Origin"), "https://app.example.com");
    assert.match(allowed.headers.get("Access-Control-Allow-Headers") ?? "", /Authorization/i);
    const refused = await preflight("https://evil.example.com");
    await refused.body?.cancel();
    assert.equal(refused.headers.get("Access-Control-Allow-Origin"), null);
    const simple = await server.call("/healthz", {
      headers: { Origin: "https://evil.example.com" },
    });
    await simple.body?.cancel();
    assert.equal(simple.headers.get("Access-Control-Allow-Origin"), null);
  }, { env: { PENSIEVE_CORS_ORIGINS: "https://app.example.com" } }));

Deno.test("health: /healthz always, /readyz until draining", () =>
  withServer(async (server) => {
    assert.deepEqual(await (await server.call("/healthz")).json(), { status: "ok" });
    assert.deepEqual(await (await server.call("/readyz")).json(), {
      status: "ready",
      store: "sqlite",
    });
    server.app.startDraining();
    const draining = await server.call("/readyz");
    assert.equal(draining.status, 503);
    assert.equal((await draining.json()).error.code, "unavailable");
    const health = await server.call("/healthz");
    assert.equal(health.status, 200);
    await health.body?.cancel();
  }));

Deno.test("/openapi.json describes every route with strict request schemas", () =>
  withServer(async (server) => {
    const doc = await (await server.call("/openapi.json")).json();
    assert.equal(doc.openapi, "3.1.0");
    assert.deepEqual(Object.keys(doc.paths).sort(), [
      "/api/connected-apps",
      "/api/connected-apps/{id}",
      "/api/conversations",
      "/api/conversations/{id}",
      "/api/conversations/{id}/messages",
      "/api/search",
      "/api/tokens",
      "/api/tokens/{id}",
      "/auth/account",
      "/auth/login",
      "/auth/logout",
      "/auth/me",
      "/auth/password",
      "/auth/register",
      "/healthz",
      "/readyz",
    ]);
    const save = doc.paths["/api/conversations"].post.requestBody.content["application/json"]
      .schema;
    assert.equal(save.additionalProperties, false);
    assert.equal(save.properties.messages.items.additionalProperties, false);
    assert.deepEqual(save.properties.messages.items.properties.role.enum, [
      "user",
      "assistant",
      "system",
      "tool",
    ]);
    const search = doc.paths["/api/search"].get.parameters.map((p: { name: string }) => p.name);
    assert.ok(search.includes("q") && search.includes("cursor"));
    assert.equal(doc.components.securitySchemes.bearer.scheme, "bearer");
  }));
