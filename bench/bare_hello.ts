/**
 * The baseline of `deno task bench:cold`: a bare `Deno.serve` hello on HOST:PORT, started with
 * the same flags as the server, that says where it listens as main.ts does.
 */
Deno.serve({
  hostname: Deno.env.get("HOST") ?? "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? 8000),
  onListen: ({ hostname, port }) => console.log(`hello: listening on http://${hostname}:${port}`),
}, () => new Response("hello"));
