/**
 * A second baseline of `deno task bench:cold`: the least any server on Pensieve's stack loads
 * before its first answer (Hono, zod, node:crypto, node:sqlite), serving one route that touches
 * each, on HOST:PORT. The gap between this and bench/bare_hello.ts is the stack's own start-up,
 * which no change to Pensieve's code can remove.
 */
import { createHash } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { Hono } from "hono";
import { z } from "zod";

const probe = z.object({ digest: z.string().length(64) });
const db = new DatabaseSync(":memory:");
db.exec("CREATE TABLE probe (n INTEGER)");
const count = db.prepare("SELECT count(*) AS n FROM probe");

const app = new Hono().get("/healthz", (c) =>
  c.json({
    ok: probe.safeParse({ digest: createHash("sha256").update("probe").digest("hex") }).success,
    rows: count.get(),
  }));

Deno.serve({
  hostname: Deno.env.get("HOST") ?? "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? 8000),
  onListen: ({ hostname, port }) => console.log(`floor: listening on http://${hostname}:${port}`),
}, app.fetch);
