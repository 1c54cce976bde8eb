/**
 * Runs the official MCP conformance suite (npm:@modelcontextprotocol/conformance) against a real
 * Pensieve process, scenario by scenario, and prints one line per scenario:
 *
 *   PASS            no check of the scenario failed (warnings are named on the line)
 *   EXPECTED-FAIL   the scenario needs something Pensieve does not offer (see NOT_APPLICABLE)
 *                   and every failing check says exactly that
 *   FAIL            anything else: a conformance bug, or a new scenario nobody has looked at
 *
 * Exits 1 only if some scenario FAILs. Run with `deno task conformance`.
 *
 * Targets. The suite's `server` command has no way to send an Authorization header, and `/mcp`
 * rightly answers 401 without one. So this script registers an account, creates a personal
 * access token, and points the suite at a reverse proxy on 127.0.0.1, inside this script only,
 * that adds `Authorization: Bearer <token>` to each request and forwards it to `/mcp` otherwise
 * unchanged (Host and Origin included, so the DNS-rebinding scenario still meets Pensieve's own
 * guard). The server is not changed in any way. `/open/mcp`, which needs no credential, is run
 * directly, at the 2025-11-25 wire only: it does not speak 2026-07-28.
 *
 * Scenarios are taken from `conformance list --server --spec-version <v>`, so a scenario added
 * to the suite shows up here and FAILs until someone looks at it. Extension scenarios (tasks-*,
 * sep-2640-skills-*) belong to no spec version and are not run: Pensieve declares no extension.
 *
 * Flags: `--only=<regex>` runs the scenarios whose `<run label> <scenario>` matches;
 * `--verbose` prints every check that did not succeed, with its details.
 */

import { request as httpRequest } from "node:http";
import { spawnServer } from "../tests/_helpers/process.ts";

/** One pass of the suite: a suite version, the wire it speaks, and where it points. */
interface Run {
  label: string;
  /** npm version of @modelcontextprotocol/conformance. */
  suite: string;
  /** Passed as --spec-version: picks the scenarios and the wire (2026-07-28 is stateless). */
  specVersion: "2025-11-25" | "2026-07-28";
  target: "mcp" | "open";
}

const STABLE = "0.1.16";
const NEXT = "0.2.0-alpha.12";

const RUNS: Run[] = [
  { label: `${STABLE} 2025-11-25 /mcp`, suite: STABLE, specVersion: "2025-11-25", target: "mcp" },
  { label: `${NEXT} 2025-11-25 /mcp`, suite: NEXT, specVersion: "2025-11-25", target: "mcp" },
  { label: `${NEXT} 2026-07-28 /mcp`, suite: NEXT, specVersion: "2026-07-28", target: "mcp" },
  { label: `${NEXT} 2025-11-25 /open/mcp`, suite: NEXT, specVersion: "2025-11-25", target: "open" },
];

/**
 * A scenario that does not apply to Pensieve. It counts as EXPECTED-FAIL only if every failing
 * check's message matches `because`; failing any other way it is still a FAIL.
 */
interface NotApplicable {
  reason: string;
  because: RegExp;
  /** Only on these targets; on every target if absent. */
  targets?: Run["target"][];
}

/** The suite's reference server ("everything server") has tools, resources and prompts by name. */
const FIXTURE_TOOL = /Tool '?test_\w+'? not found/;
const FIXTURE_PROMPT = /Prompt test_\w+ not found/;
const FIXTURE_RESOURCE = /Resource not found: test:\/\//;
const METHOD_NOT_FOUND = /Method not found/;
/** 2026-07-28 input-required scenarios: every one starts by calling a fixture tool or prompt. */
const INPUT_REQUIRED =
  /(Tool|Prompt) test_input_required_result_\w+ not found|Expected InputRequiredResult|could not get initial InputRequiredResult/;

const fixtureTool = (what: string): NotApplicable => ({
  reason: `needs the suite's fixture tool (${what})`,
  because: FIXTURE_TOOL,
});
const fixturePrompt = (what: string): NotApplicable => ({
  reason: `needs the suite's fixture prompt (${what})`,
  because: FIXTURE_PROMPT,
});
const fixtureResource = (what: string): NotApplicable => ({
  reason: `needs the suite's fixture resource (${what})`,
  because: FIXTURE_RESOURCE,
});
const inputRequired = (what: string): NotApplicable => ({
  reason: `needs a fixture tool that asks the client for input (${what}); Pensieve never does`,
  because: INPUT_REQUIRED,
});

const NOT_APPLICABLE: Record<string, NotApplicable> = {
  "logging-set-level": {
    reason: "Pensieve declares no logging capability, so logging/setLevel is not a method",
    because: METHOD_NOT_FOUND,
  },
  "completion-complete": {
    reason: "Pensieve declares no completions capability, so completion/complete is not a method",
    because: METHOD_NOT_FOUND,
  },
  "tools-call-simple-text": fixtureTool("test_simple_text"),
  "tools-call-image": fixtureTool("test_image_content"),
  "tools-call-audio": fixtureTool("test_audio_content"),
  "tools-call-embedded-resource": fixtureTool("test_embedded_resource"),
  "tools-call-mixed-content": fixtureTool("test_multiple_content_types"),
  "tools-call-error": fixtureTool("test_error_handling"),
  "tools-call-with-progress": fixtureTool("test_tool_with_progress"),
  "tools-call-with-logging": {
    reason: "needs logging (logging/setLevel) and the fixture tool test_tool_with_logging",
    because: METHOD_NOT_FOUND,
  },
  "tools-call-sampling": fixtureTool("test_sampling; Pensieve never asks for sampling"),
  "tools-call-elicitation": fixtureTool("test_elicitation; Pensieve never elicits"),
  "elicitation-sep1034-defaults": fixtureTool("test_elicitation_sep1034_defaults; no elicitation"),
  "elicitation-sep1330-enums": fixtureTool("test_elicitation_sep1330_enums; no elicitation"),
  "json-schema-2020-12": {
    reason: "needs the suite's fixture tool (json_schema_2020_12_tool); pending in the suite",
    because: /Tool 'json_schema_2020_12_tool' not found/,
  },
  "resources-read-text": fixtureResource("test://static-text"),
  "resources-read-binary": fixtureResource("test://static-binary"),
  "resources-templates-read": fixtureResource("test://template/{id}/data"),
  "resources-subscribe": {
    reason: "Pensieve declares no resource subscriptions, so resources/subscribe is not a method",
    because: METHOD_NOT_FOUND,
  },
  "resources-unsubscribe": {
    reason: "Pensieve declares no resource subscriptions, so resources/unsubscribe is not a method",
    because: METHOD_NOT_FOUND,
  },
  "resources-list": {
    reason: "on /open/mcp resources/list answers 'Log in first' until mcp_login is called",
    because: /Log in first/,
    targets: ["open"],
  },
  "prompts-get-simple": fixturePrompt("test_simple_prompt"),
  "prompts-get-with-args": fixturePrompt("test_prompt_with_arguments"),
  "prompts-get-embedded-resource": fixturePrompt("test_prompt_with_embedded_resource"),
  "prompts-get-with-image": fixturePrompt("test_prompt_with_image"),
  "server-stateless": {
    reason: "its failing checks need the suite's diagnostic tools (test_missing_capability, " +
      "test_streaming_elicitation, test_logging_tool); the rest pass",
    because: /^Not testable: server does not list the diagnostic tool/,
  },
  "http-custom-header-server-validation": {
    reason: "no Pensieve tool has x-mcp-header parameters (SEP-2243); pending in the suite",
    because: /^Not testable: server exposes no tool with x-mcp-header annotations/,
  },
  "input-required-result-basic-elicitation": inputRequired("elicitation"),
  "input-required-result-basic-sampling": inputRequired("sampling"),
  "input-required-result-basic-list-roots": inputRequired("roots/list"),
  "input-required-result-request-state": inputRequired("requestState"),
  "input-required-result-multiple-input-requests": inputRequired("several inputs"),
  "input-required-result-multi-round": inputRequired("several rounds"),
  "input-required-result-non-tool-request": inputRequired("a prompt that asks"),
  "input-required-result-result-type": inputRequired("resultType"),
  "input-required-result-tampered-state": inputRequired("requestState integrity"),
  "input-required-result-capability-check": inputRequired("client capabilities"),
};

const SCENARIO_TIMEOUT_MS = 60_000;

function flag(name: string): string | undefined {
  const prefix = `--${name}=`;
  const arg = Deno.args.find((a) => a === `--${name}` || a.startsWith(prefix));
  if (arg === undefined) return undefined;
  return arg.startsWith(prefix) ? arg.slice(prefix.length) : "";
}

const onlyPattern = flag("only");
const only = onlyPattern ? new RegExp(onlyPattern) : undefined;
const verbose = flag("verbose") !== undefined;

// ---------------------------------------------------------------------------------------------
// The server, an account, a token and one saved conversation (so resources/list lists something).

function freePort(): number {
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
// The proxy that adds the credential. Deno's fetch does not send a Host header it is given, so
// the upstream side uses node:http, which sends headers as they are.

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

interface Proxy {
  url: string;
  close(): Promise<void>;
}

function startCredentialProxy(upstream: URL, token: string): Proxy {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
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
          path: upstream.pathname + new URL(req.url).search,
          headers,
        }, (res) => {
          const responseHeaders = new Headers();
          for (const [key, value] of Object.entries(res.headers)) {
            if (value === undefined || HOP_BY_HOP.has(key)) continue;
            for (const v of Array.isArray(value) ? value : [value]) responseHeaders.append(key, v);
          }
          // Streamed through as it arrives, so SSE responses stay streams.
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
        out.on(
          "error",
          (error) => resolve(new Response(`proxy: ${error.message}`, { status: 502 })),
        );
        out.end(body);
      });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}${upstream.pathname}`,
    close: () => server.shutdown(),
  };
}

// ---------------------------------------------------------------------------------------------
// The suite.

interface Check {
  id: string;
  status: string;
  errorMessage?: string;
  details?: unknown;
}

interface SuiteResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

async function suite(version: string, args: string[], cwd: string): Promise<SuiteResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--no-config",
      "--no-lock",
      `npm:@modelcontextprotocol/conformance@${version}`,
      ...args,
    ],
    // Outside the repository, so its deno.json, deno.lock and node_modules are left alone.
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

/** The server scenarios the suite lists for a spec version. */
async function listScenarios(run: Run, cwd: string): Promise<string[]> {
  const result = await suite(
    run.suite,
    ["list", "--server", "--spec-version", run.specVersion],
    cwd,
  );
  if (result.code !== 0) {
    throw new Error(`conformance@${run.suite} list failed:\n${result.stdout}${result.stderr}`);
  }
  return [...result.stdout.matchAll(/^\s+- (\S+)/gm)].map((m) => m[1]);
}

function oneLine(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

async function runScenario(run: Run, scenario: string, url: string, workDir: string) {
  const outDir = await Deno.makeTempDir({ dir: workDir, prefix: "out-" });
  const result = await suite(run.suite, [
    "server",
    "--url",
    url,
    "--scenario",
    scenario,
    "--spec-version",
    run.specVersion,
    "-o",
    outDir,
  ], workDir);
  let checks: Check[] | undefined;
  for await (const entry of Deno.readDir(outDir)) {
    if (!entry.isDirectory) continue;
    try {
      checks = JSON.parse(await Deno.readTextFile(`${outDir}/${entry.name}/checks.json`));
    } catch {
      // No checks.json: judged as a failure below.
    }
  }
  return { result, checks };
}

interface Outcome {
  verdict: "PASS" | "FAIL" | "EXPECTED-FAIL";
  note: string;
}

function judge(run: Run, scenario: string, result: SuiteResult, checks?: Check[]): Outcome {
  if (!checks || checks.length === 0) {
    const stderr = result.stderr.split("\n").filter(Boolean).slice(-3).join(" | ");
    const why = result.timedOut
      ? `timed out after ${SCENARIO_TIMEOUT_MS / 1000}s`
      : `no checks recorded (exit ${result.code}): ${oneLine(stderr)}`;
    return { verdict: "FAIL", note: why };
  }
  const failures = checks.filter((c) => c.status === "FAILURE");
  const warnings = checks.filter((c) => c.status === "WARNING");
  const passed = checks.filter((c) => c.status === "SUCCESS").length;
  const known = NOT_APPLICABLE[scenario];
  const applies = known !== undefined && (!known.targets || known.targets.includes(run.target));
  if (failures.length === 0) {
    const warned = warnings.length ? `; warnings: ${warnings.map((c) => c.id).join(", ")}` : "";
    const stale = applies ? " (listed as not applicable, yet passed)" : "";
    return { verdict: "PASS", note: `${passed}/${checks.length} checks ok${warned}${stale}` };
  }
  if (applies && failures.every((c) => known.because.test(c.errorMessage ?? ""))) {
    return { verdict: "EXPECTED-FAIL", note: `${known.reason} (${passed}/${checks.length} ok)` };
  }
  const said = failures.map((c) => `${c.id}: ${c.errorMessage ?? "(no message)"}`).join(" | ");
  return { verdict: "FAIL", note: oneLine(said, 400) };
}

// ---------------------------------------------------------------------------------------------

const started = performance.now();
const workDir = await Deno.makeTempDir({ prefix: "pensieve-conformance-" });
const port = freePort();
const server = await spawnServer({
  PORT: String(port),
  PENSIEVE_PUBLIC_URL: `http://127.0.0.1:${port}`,
  PENSIEVE_DB: `sqlite:${workDir}/pensieve.db`,
  PENSIEVE_SQLITE_SYNCHRONOUS: "NORMAL",
  PENSIEVE_MCP_CALLS_PER_MINUTE: "1000000",
  PENSIEVE_MCP_SESSIONS_PER_MINUTE: "1000000",
});
let serverExit: number | undefined;
server.child.status.then((status) => serverExit = status.code);
let proxy: Proxy | undefined;
const tally = { "PASS": 0, "EXPECTED-FAIL": 0, "FAIL": 0 };
try {
  const { access_token } = await postJson(`${server.url}/auth/register`, {
    email: "conformance@example.com",
    password: "conformance password",
  }) as { access_token: string };
  const { secret } = await postJson(`${server.url}/api/tokens`, {
    name: "conformance suite",
  }, access_token) as { secret: string };
  await postJson(`${server.url}/api/conversations`, {
    title: "Conformance seed",
    messages: [
      { role: "user", content: "Is this conversation listed as a resource?" },
      { role: "assistant", content: "Yes: pensieve://conversations/{id}." },
    ],
  }, secret);
  proxy = startCredentialProxy(new URL(`${server.url}/mcp`), secret);
  console.log(`pensieve ${server.url}; /mcp through the credential proxy at ${proxy.url}`);

  for (const run of RUNS) {
    const url = run.target === "mcp" ? proxy.url : `${server.url}/open/mcp`;
    const scenarios = (await listScenarios(run, workDir))
      .filter((scenario) => !only || only.test(`${run.label} ${scenario}`));
    if (scenarios.length === 0) continue;
    console.log(`\n== conformance@${run.label}: ${url}`);
    for (const scenario of scenarios) {
      const { result, checks } = await runScenario(run, scenario, url, workDir);
      const outcome = judge(run, scenario, result, checks);
      tally[outcome.verdict]++;
      console.log(`${outcome.verdict.padEnd(13)} ${scenario.padEnd(46)} ${outcome.note}`);
      if (verbose) {
        for (const c of checks ?? []) {
          if (c.status === "SUCCESS") continue;
          console.log(`    ${c.status} ${c.id}: ${c.errorMessage ?? ""}`);
          if (c.details !== undefined) {
            console.log(`      ${oneLine(JSON.stringify(c.details), 1500)}`);
          }
        }
      }
      if (serverExit !== undefined) {
        throw new Error(
          `the server exited (${serverExit}) during ${scenario}:\n${server.output()}`,
        );
      }
    }
  }
} catch (error) {
  tally.FAIL++;
  console.error(`\nconformance run aborted: ${error instanceof Error ? error.message : error}`);
} finally {
  await proxy?.close();
  if (serverExit === undefined) server.child.kill("SIGTERM");
  const { code } = await server.wait();
  await Deno.remove(workDir, { recursive: true }).catch(() => {});
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `\n${tally.PASS} passed, ${tally["EXPECTED-FAIL"]} expected failures, ${tally.FAIL} failed` +
      ` in ${seconds}s; the server exited with ${code}`,
  );
}
Deno.exit(tally.FAIL > 0 ? 1 : 0);
