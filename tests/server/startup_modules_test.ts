import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;

interface GraphModule {
  specifier: string;
  dependencies?: { code?: { specifier?: string }; isDynamic?: boolean }[];
}

/** Every npm package main.ts loads before it can answer: its static imports, transitively. */
async function packagesLoadedAtStart(): Promise<Set<string>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    roots: string[];
    modules: GraphModule[];
  };
  const modules = new Map(graph.modules.map((m) => [m.specifier, m]));
  const packages = new Set<string>();
  const seen = new Set<string>();
  const pending = [...graph.roots];
  while (pending.length > 0) {
    const specifier = pending.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dependency of modules.get(specifier)?.dependencies ?? []) {
      const target = dependency.code?.specifier;
      if (!target || dependency.isDynamic) continue;
      if (target.startsWith("npm:")) packages.add(/^npm:\/?((?:@[^/]+\/)?[^@/]+)/.exec(target)![1]);
      else pending.push(target);
    }
  }
  return packages;
}

/**
 * Scale-to-zero deployments pay the start-up on every first request, so what only some requests
 * need is loaded when one first arrives (BENCHMARKS.md, cold start). A static import of any of
 * these from the start-up path would quietly add it back.
 */
Deno.test("start-up does not load the MCP SDK, metrics, zip, Markdown, multipart or storage drivers it may never use", async () => {
  const packages = await packagesLoadedAtStart();
  assert.ok(packages.has("hono") && packages.has("zod"), `graph read: ${[...packages]}`);
  for (
    const lazy of [
      "@modelcontextprotocol/server",
      "prom-client",
      "fflate",
      "markdown-it",
      "mongodb",
      "bson",
      "@node-rs/argon2",
      "bcryptjs",
      "busboy",
    ]
  ) {
    assert.ok(!packages.has(lazy), `${lazy} is imported statically from main.ts`);
  }
});
