import { Hono } from "hono";
import { Invalid } from "../../core/errors.ts";
import { idleLimited, UPLOAD_IDLE_MS } from "../../core/import/idle_upload.ts";
import type { Services } from "../../core/services.ts";
import type { ImportJob } from "../../core/types.ts";
import type { AppEnv } from "../env.ts";
import { errorBody } from "../errors.ts";
import { isMultipart, multipartFile } from "../multipart_file.ts";

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

/**
 * The export file and its name: the body itself (named by `?name=`), or the one file part of a
 * multipart form (named by its filename), streamed either way.
 */
async function fileOf(
  request: Request,
  query: string | undefined,
): Promise<{ stream: ReadableStream<Uint8Array>; name: string }> {
  if (isMultipart(request)) {
    const upload = await multipartFile(request, { idleMs: UPLOAD_IDLE_MS });
    return {
      stream: idleLimited(upload.stream, UPLOAD_IDLE_MS),
      name: upload.name ?? query ?? "upload",
    };
  }
  if (!request.body) throw new Invalid("The body is empty: send the export file.");
  return { stream: idleLimited(request.body, UPLOAD_IDLE_MS), name: query ?? "upload" };
}

/**
 * /api/import: `POST /` imports the file (a ChatGPT, Claude or Pensieve export), sent as the body
 * or as the one file of a multipart form, and answers with the summary. For progress: `POST /jobs`
 * makes a job, `PUT /jobs/{id}` sends it the file the same way (and answers when it is done), and
 * `GET /jobs/{id}` reports on it meanwhile, from any instance.
 */
export function importRoutes(services: Services): Hono<AppEnv> {
  const { importer, importJobs } = services;
  return new Hono<AppEnv>()
    .post("/", async (c) => {
      const file = await fileOf(c.req.raw, c.req.query("name"));
      const summary = await importer.import(c.var.principal.userId, file.stream, {
        name: file.name,
      });
      return c.json({ summary });
    })
    .post("/jobs", async (c) => {
      const job = await importJobs.create(c.var.principal.userId);
      c.header("Location", `/api/import/jobs/${job.id}`);
      return c.json({ job: jobView(job) }, 201);
    })
    .put("/jobs/:id", async (c) => {
      const file = await fileOf(c.req.raw, c.req.query("name"));
      const job = await importJobs.run(
        c.var.principal.userId,
        c.req.param("id"),
        file.stream,
        file.name,
      );
      if (job.status === "done") return c.json({ job: jobView(job) });
      // A failed job is a refused upload: the job, and the one error shape every 4xx has.
      return c.json(
        { job: jobView(job), ...errorBody("invalid_request", job.error ?? "The import failed.") },
        400,
      );
    })
    .get("/jobs/:id", async (c) => {
      return c.json({
        job: jobView(await importJobs.get(c.var.principal.userId, c.req.param("id"))),
      });
    });
}
