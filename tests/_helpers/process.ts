/** Runs main.ts as a real server process, as `deno task start` would, on a free port. */
export interface ServerProcess {
  url: string;
  child: Deno.ChildProcess;
  /** Everything the process printed to stdout so far. */
  output(): string;
  /** Everything it printed to stderr so far, when spawned with `{ stderr: true }` (else ""). */
  errors(): string;
  /** Waits for exit; returns the status and the whole stdout. */
  wait(): Promise<{ code: number; stdout: string }>;
  /** SIGKILLs it unless it has already exited, and waits: for a test's `finally`. */
  kill(): Promise<void>;
}

const root = new URL("../../", import.meta.url).pathname;

/**
 * The `--v8-flags=…` and `--node-modules-dir=…` a deno.json task runs with, so a spawned process
 * is tuned and starts as it would.
 */
export function taskRunFlags(task: string): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${root}deno.json`));
  return String(config.tasks[task] ?? "").split(/\s+/).filter((a) =>
    a.startsWith("--v8-flags=") || a.startsWith("--node-modules-dir=")
  );
}

export async function spawnServer(
  env: Record<string, string>,
  options: {
    /** Collect stderr (see `errors()`) instead of passing it through. */
    stderr?: boolean;
  } = {},
): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...taskRunFlags("start"),
      "--allow-net",
      "--allow-env",
      // The same grants as `deno task start`, except that reads and writes reach temp dirs.
      "--allow-sys=cpus,networkInterfaces,hostname,statfs",
      "--allow-ffi",
      "--allow-read",
      "--allow-write",
      "main.ts",
    ],
    cwd: root,
    env: { HOST: "127.0.0.1", PORT: "0", ...env },
    stdout: "piped",
    stderr: options.stderr ? "piped" : "inherit",
  }).spawn();
  let text = "";
  let errors = "";
  const decoder = new TextDecoder();
  const errorsRead = options.stderr
    ? child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
      new WritableStream({ write: (chunk) => void (errors += chunk) }),
    )
    : Promise.resolve();
  const reader = child.stdout.getReader();
  let url: string | undefined;
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += decoder.decode(value, { stream: true });
    }
  })();
  for (let i = 0; i < 600 && !url; i++) {
    url = /listening on (http:\/\/[^\s]+)/.exec(text)?.[1];
    if (!url) await new Promise((r) => setTimeout(r, 50));
  }
  if (!url) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(`server did not start:\n${text}`);
  }
  const wait = async () => {
    const status = await child.status;
    await pump;
    await errorsRead;
    return { code: status.code, stdout: text };
  };
  return {
    url,
    child,
    output: () => text,
    errors: () => errors,
    wait,
    async kill() {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await wait();
    },
  };
}
