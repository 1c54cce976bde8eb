/**
 * A POST to /mcp whose body is not JSON is answered with the SDK's parse error and leaves nothing
 * on the server's stderr. The body used to be handed on as `new Request(request, …)`, which
 * follows the request's signal, and Deno warned once per process that a followed request signal
 * aborts on a completed response.
 */
import assert from "node:assert/strict";
import { spawnServer } from "../_helpers/process.ts";
import { callAt, signUpForMcp } from "../_helpers/server.ts";

Deno.test("mcp: a body that is not JSON gets a parse error and leaves nothing on stderr", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pensieve-mcp-stderr-" });
  const server = await spawnServer({ PENSIEVE_DB: `sqlite:${dir}/pensieve.db` }, { stderr: true });
  try {
    const { token } = await signUpForMcp({ call: callAt(server.url) });
    for (const body of ["{not json", ""]) {
      const res = await fetch(`${server.url}/mcp`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${token}`,
          "Content-Type": "application/json",
          Accept: "application/json, text/event-stream",
          "MCP-Protocol-Version": "2025-11-25",
        },
        body,
      });
      const answer = await res.json();
      assert.equal(res.status, 400, JSON.stringify(answer));
      assert.equal(answer.error?.code, -32700, JSON.stringify(answer));
    }
    server.child.kill("SIGTERM");
    const { code, stdout } = await server.wait();
    assert.equal(code, 0, stdout);
    assert.equal(server.errors(), "");
  } finally {
    await server.kill();
    await Deno.remove(dir, { recursive: true });
  }
});
