import { Hono } from "hono";
import { Invalid } from "../../core/errors.ts";
import type { Services } from "../../core/services.ts";
import type { ImportJob } from "../../core/types.ts";
import type { AppEnv } from "../env.ts";

function jobView(job: ImportJob) {
  return {
    id: job.id,
    status: job.status,
    summary: job.summary,
    error: job.error,
    created_at: new Date(job.createdAt).toISOString(),
    updated_at: new Date(job.updatedAt).toISOString(),
  };
}

/** The export file, sent as is as the body (any content type but multipart). */
function fileOf(request: Request): ReadableStream<Uint8Array> {
  if ((request.headers.get("Content-Type") ?? "").startsWith("multipart/")) {
    throw new Invalid("Send the export file itself as the body, not a multipart form.");
  }
  if (!request.body) throw new Invalid("The body is empty: send the export file.");
  return request.body;
}

/**
 * /api/import: `POST /` imports the body (a ChatGPT, Claude or Pensieve export) and answers with
 * the summary. For progress: `POST /jobs` makes a job, `PUT /jobs/{id}` sends it the file (and
 * answers when it is done), and `GET /jobs/{id}` reports on it meanwhile, from any instance.
 */
export function importRoutes(services: Services): Hono<AppEnv> {
  const { importer, importJobs } = services;
  return new Hono<AppEnv>()
    .post("/", async (c) => {
      const summary = await importer.import(c.var.principal.userId, fileOf(c.req.raw), {
        name: c.req.query("name") ?? "upload",
      });
      return c.json({ summary });
    })
    .post("/jobs", async (c) => {
      const job = await importJobs.create(c.var.principal.userId);
      c.header("Location", `/api/import/jobs/${job.id}`);
      return c.json({ job: jobView(job) }, 201);
    })
    .put("/jobs/:id", async (c) => {
      const job = await importJobs.run(
        c.var.principal.userId,
        c.req.param("id"),
        fileOf(c.req.raw),
        c.req.query("name") ?? "upload",
      );
      return c.json({ job: jobView(job) }, job.status === "done" ? 200 : 400);
    })
    .get("/jobs/:id", async (c) => {
      return c.json({
        job: jobView(await importJobs.get(c.var.principal.userId, c.req.param("id"))),
      });
    });
}
