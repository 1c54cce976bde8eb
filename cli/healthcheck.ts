/**
 * `deno task healthcheck`: the container's HEALTHCHECK (the Deno image has no curl). Exits 0 when
 * this machine's server answers 200 at /healthz on PORT, 1 otherwise.
 */
const port = Deno.env.get("PORT") || "8000";
let healthy = false;
try {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`, {
    signal: AbortSignal.timeout(4_000),
  });
  await response.body?.cancel();
  healthy = response.status === 200;
} catch {
  healthy = false;
}
if (!healthy) console.error(`healthcheck: http://127.0.0.1:${port}/healthz did not answer 200`);
Deno.exit(healthy ? 0 : 1);
