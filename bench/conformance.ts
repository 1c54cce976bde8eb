/**
 * Runs the official MCP conformance suite (npm:@modelcontextprotocol/conformance) against a real
 * Pensieve process, scenario by scenario, and prints one line per scenario:
 *
 *   PASS            every check of the scenario passed (warnings are listed, not failures)
 *   EXPECTED-FAIL   the scenario tests something Pensieve does not offer (see NOT_APPLICABLE),
 *                   and it failed the way that says so
 *   FAIL            anything else: a conformance bug, or a new scenario nobody has looked at
 *
 * Exits 1 only if some scenario FAILs. Run with `deno task conformance`.
 *
 * The suite's `server` command cannot send an Authorization header, and `/mcp` rightly answers
 * 401 without one. So the script registers an account, creates a personal access token, and
 * points the suite at a small reverse proxy on 127.0.0.1 that adds `Authorization: Bearer
 * <token>` to every request and forwards it to `/mcp` unchanged otherwise (Host and Origin
 * included, so the DNS-rebinding scenario still reaches Pensieve's own guard). The proxy lives
 * only in this script: the server itself is not changed. `/open/mcp`, which needs no
 * credential, is also run directly, without the proxy.
 *
 * Flags: `--only=<regex>` runs only scenarios whose `<run> <scenario>` label matches;
 * `--verbose` prints every failing check's details.
 */

import { request as httpRequest } from "node:http";
import { spawnServer } from "../tests/_helpers/process.ts";

/** One pass of the suite: a suite version, the wire it speaks, and where it points. */
interface Run {
  label: string;
  /** npm version of @modelcontextprotocol/conformance. */
  suite: string;
  /** Passed as --spec-version: picks the scenarios and the wire (2026-07-28 is stateless). */
  specVersion: string;
  target: "mcp" | "open";
}

const RUNS: Run[] = [
  { label: "0.1.16/2025-11-25 /mcp", suite: "0.1.16", specVersion: "2025-11-25", target: "mcp" },
  {
    label: "0.2.0-alpha.12/2025-11-25 /mcp",
    suite: "0.2.0-alpha.12",
    specVersion: "2025-11-25",
    target: "mcp",
  },
  {
    label: "0.2.0-alpha.12/2026-07-28 /mcp",
    suite: "0.2.0-alpha.12",
    specVersion: "2026-07-28",
    target: "mcp",
  },
  {
    label: "0.2.0-alpha.12/2025-11-25 /open/mcp",
    suite: "0.2.0-alpha.12",
    specVersion: "2025-11-25",
    target: "open",
  },
];

/**
 * Scenarios that do not apply to Pensieve. `because` must match every failing check's message,
 * so a scenario that fails for some other reason is still reported as FAIL.
 */
interface NotApplicable {
  reason: string;
  because: RegExp;
  /** Only on these targets; every target if absent. */
  targets?: Run["target"][];
}

const NOT_APPLICABLE: Record<string, NotApplicable> = {};

const SCENARIO_TIMEOUT_MS = 60_000;

function flag(name: string): string | undefined {
  const prefix = `--${name}=`;
  const arg = Deno.args.find((a) => a === `--${name}` || a.startsWith(prefix));
  if (arg === undefined) return undefined;
  return arg.startsWith(prefix) ? arg.slice(prefix.length) : "";
}

const only = flag("only") ? new RegExp(flag("only")!) : undefined;
const verbose = flag("verbose") !== undefined;

// ---------------------------------------------------------------------------------------------
// The server, an account and a token.

async function freePort(): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function postJson(url: string, body: unknown, token?: string): Promise<unknown> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(token && { Authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${text}`);
  return JSON.parse(text);
}

// ---------------------------------------------------------------------------------------------
// The proxy that adds the credential. Deno's fetch will not send a custom Host header, so the
// upstream side uses node:http, which sends headers as given.

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "content-length",
]);

function startAuthProxy(upstream: URL, token: string): { url: string; close(): Promise<void> } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const incoming = new URL(req.url);
      const headers: Record<string, string> = {};
      req.headers.forEach((value, key) => {
        if (!HOP_BY_HOP.has(key)) headers[key] = value;
      });
      headers["authorization"] = `Bearer ${token}`;
      const body = req.body ? new Uint8Array(await req.arrayBuffer()) : undefined;
      if (body) headers["content-length"] = String(body.byteLength);
      return await new Promise<Response>((resolve) => {
        const out = httpRequest({
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: upstream.pathname + incoming.search,
          headers,
        }, (res) => {
          const responseHeaders = new Headers();
          for (const [key, value] of Object.entries(res.headers)) {
            if (value === undefined || HOP_BY_HOP.has(key)) continue;
            for (const v of Array.isArray(value) ? value : [value]) responseHeaders.append(key, v);
          }
          const stream = new ReadableStream<Uint8Array>({
            start(controller) {
              res.on("data", (chunk: Uint8Array) => controller.enqueue(new Uint8Array(chunk)));
              res.on("end", () => controller.close());
              res.on("error", (error) => controller.error(error));
            },
            cancel() {
              res.destroy();
              out.destroy();
            },
          });
          const empty = req.method === "HEAD" || res.statusCode === 204 || res.statusCode === 304;
          resolve(
            new Response(empty ? null : stream, {
              status: res.statusCode ?? 502,
              headers: responseHeaders,
            }),
          );
        });
        out.on("error", (error) => resolve(new Response(`proxy: ${error.message}`, { status: 502 })));
        req.signal.addEventListener("abort", () => out.destroy());
        out.end(body);
      });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/mcp`,
    close: () => server.shutdown(),
  };
}

// ---------------------------------------------------------------------------------------------
// The suite.

interface Check {
  id: string;
  name?: string;
  status: string;
  errorMessage?: string;
  details?: unknown;
}

interface Outcome {
  verdict: "PASS" | "FAIL" | "EXPECTED-FAIL";
  note: string;
  failures: Check[];
}

async function suite(
  version: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string; timedOut: boolean }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--no-config",
      "--no-lock",
      `npm:@modelcontextprotocol/conformance@${version}`,
      ...args,
    ],
    // Outside the repository, so deno.json, deno.lock and node_modules are left alone.
    cwd,
    env: { NO_COLOR: "1", FORCE_COLOR: "0" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, SCENARIO_TIMEOUT_MS);
  const output = await child.output();
  clearTimeout(timer);
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    timedOut,
  };
}

/** Server scenario names the suite lists for a spec version. */
async function listScenarios(version: string, specVersion: string, cwd: string) {
  const { code, stdout, stderr } = await suite(
    version,
    ["list", "--server", "--spec-version", specVersion],
    cwd,
  );
  if (code !== 0) throw new Error(`conformance@${version} list failed:\n${stdout}${stderr}`);
  return [...stdout.matchAll(/^\s+- (\S+)/gm)].map((m) => m[1]);
}

function oneLine(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

async function runScenario(run: Run, scenario: string, url: string, workDir: string) {
  const outDir = await Deno.makeTempDir({ dir: workDir, prefix: "out-" });
  const args = [
    "server",
    "--url",
    url,
    "--scenario",
    scenario,
    "--spec-version",
    run.specVersion,
    "-o",
    outDir,
  ];
  const result = await suite(run.suite, args, workDir);
  let checks: Check[] | undefined;
  for await (const entry of Deno.readDir(outDir)) {
    if (!entry.isDirectory) continue;
    try {
      checks = JSON.parse(await Deno.readTextFile(`${outDir}/${entry.name}/checks.json`));
    } catch {
      // no checks.json: handled below
    }
  }
  return { result, checks };
}

function judge(
  run: Run,
  scenario: string,
  result: { code: number; stdout: string; stderr: string; timedOut: boolean },
  checks: Check[] | undefined,
): Outcome {
  if (!checks) {
    const why = result.timedOut
      ? `timed out after ${SCENARIO_TIMEOUT_MS / 1000}s`
      : `no results (exit ${result.code}): ${
        oneLine(result.stderr.split("\n").filter(Boolean).slice(-3).join(" | "))
      }`;
    return { verdict: "FAIL", note: why, failures: [] };
  }
  const failures = checks.filter((c) => c.status === "FAILURE");
  const warnings = checks.filter((c) => c.status === "WARNING");
  const passed = checks.filter((c) => c.status === "SUCCESS").length;
  const warn = warnings.length ? `; warnings: ${warnings.map((c) => c.id).join(", ")}` : "";
  const known = NOT_APPLICABLE[scenario];
  const applies = known && (!known.targets || known.targets.includes(run.target));
  if (failures.length === 0) {
    const stale = applies ? " [listed as not applicable, yet passed]" : "";
    return { verdict: "PASS", note: `${passed}/${checks.length} checks${warn}${stale}`, failures };
  }
  const explained = applies &&
    failures.every((c) => known.because.test(`${c.errorMessage ?? ""} ${c.id}`));
  if (explained) return { verdict: "EXPECTED-FAIL", note: known.reason, failures };
  const first = failures.map((c) => `${c.id}: ${c.errorMessage ?? "(no message)"}`).join(" | ");
  return { verdict: "FAIL", note: oneLine(first, 300), failures };
}

// ---------------------------------------------------------------------------------------------

const started = performance.now();
const workDir = await Deno.makeTempDir({ prefix: "pensieve-conformance-" });
const port = await freePort();
const server = await spawnServer({
  PORT: String(port),
  PENSIEVE_PUBLIC_URL: `http://127.0.0.1:${port}`,
  PENSIEVE_DB: `sqlite:${workDir}/pensieve.db`,
  PENSIEVE_SQLITE_SYNCHRONOUS: "NORMAL",
  PENSIEVE_MCP_CALLS_PER_MINUTE: "1000000",
});
let proxy: { url: string; close(): Promise<void> } | undefined;
let unexpected = 0;
const tally = { PASS: 0, FAIL: 0, "EXPECTED-FAIL": 0 };
try {
  const registered = await postJson(`${server.url}/auth/register`, {
    email: "conformance@example.com",
    password: "conformance-password-1",
  }) as { access_token: string };
  const created = await postJson(
    `${server.url}/api/tokens`,
    { name: "conformance" },
    registered.access_token,
  ) as { secret: string };
  proxy = startAuthProxy(new URL(`${server.url}/mcp`), created.secret);
  console.log(`pensieve at ${server.url}; /mcp through credential proxy ${proxy.url}`);

  for (const run of RUNS) {
    const url = run.target === "mcp" ? proxy.url : `${server.url}/open/mcp`;
    const scenarios = await listScenarios(run.suite, run.specVersion, workDir);
    console.log(`\n== ${run.label} (${scenarios.length} scenarios)`);
    for (const scenario of scenarios) {
      if (only && !only.test(`${run.label} ${scenario}`)) continue;
      const { result, checks } = await runScenario(run, scenario, url, workDir);
      const outcome = judge(run, scenario, result, checks);
      tally[outcome.verdict]++;
      if (outcome.verdict === "FAIL") unexpected++;
      console.log(`${outcome.verdict.padEnd(13)} ${scenario.padEnd(46)} ${outcome.note}`);
      if (verbose && outcome.failures.length) {
        for (const c of outcome.failures) {
          console.log(`    ${c.id}: ${c.errorMessage}\n    ${JSON.stringify(c.details)}`);
        }
      }
    }
  }
} finally {
  await proxy?.close();
  server.child.kill("SIGTERM");
  const { code } = await server.wait();
  await Deno.remove(workDir, { recursive: true }).catch(() => {});
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `\n${tally.PASS} passed, ${tally["EXPECTED-FAIL"]} expected failures, ${tally.FAIL} failed` +
      ` in ${seconds}s; server exited ${code}`,
  );
}
Deno.exit(unexpected ? 1 : 0);
