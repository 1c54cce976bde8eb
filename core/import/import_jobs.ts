import type { Clock } from "../clock.ts";
import { Conflict, NotFound, PensieveError } from "../errors.ts";
import type { ImportJob } from "../types.ts";
import type { Store } from "../../db/store.ts";
import { emptySummary, type Importer } from "./importer.ts";

/** Progress is written to the store at most this often. */
const PROGRESS_INTERVAL_MS = 500;

/** What an import job reports as it runs, for metrics and logs. */
export interface ImportJobEvents {
  started(): void;
  /** `unexpected` is the error of a job that failed on something other than a domain error. */
  ended(status: "done" | "failed", unexpected?: unknown): void;
}

/**
 * Imports as jobs: created first, then given the file, with progress and the outcome in the
 * store, so any instance can say how an import running on another one is getting on.
 */
export class ImportJobs {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly importer: Importer,
    private readonly events?: ImportJobEvents,
  ) {}

  async create(userId: string): Promise<ImportJob> {
    const now = this.clock.now();
    const job: ImportJob = {
      id: crypto.randomUUID(),
      status: "waiting",
      summary: { ...emptySummary() },
      error: null,
      createdAt: now,
      updatedAt: now,
    };
    await this.store.createImportJob(userId, job);
    return job;
  }

  async get(userId: string, jobId: string): Promise<ImportJob> {
    const job = await this.store.getImportJob(userId, jobId);
    if (!job) throw new NotFound("No import job with this id.");
    return job;
  }

  /** Runs the import of `file` for a waiting job, and returns the job as it ended. */
  async run(
    userId: string,
    jobId: string,
    file: ReadableStream<Uint8Array>,
    name: string,
  ): Promise<ImportJob> {
    const job = await this.get(userId, jobId);
    if (job.status !== "waiting") {
      throw new Conflict(`This import job is ${job.status}; create a new one.`);
    }
    const save = (patch: Partial<ImportJob>) => {
      Object.assign(job, patch, { updatedAt: this.clock.now() });
      return this.store.updateImportJob(userId, job);
    };
    await save({ status: "running" });
    this.events?.started();
    let last = 0;
    let writing: Promise<unknown> = Promise.resolve();
    try {
      const summary = await this.importer.import(userId, file, {
        name,
        onProgress: (progress) => {
          const now = this.clock.now();
          if (now - last < PROGRESS_INTERVAL_MS) return;
          last = now;
          writing = writing.then(() => save({ summary: { ...progress } }));
        },
      });
      await writing;
      await save({ status: "done", summary: { ...summary } });
      this.events?.ended("done");
    } catch (error) {
      await writing.catch(() => {});
      const message = error instanceof PensieveError
        ? error.message
        : "The import stopped on an unexpected error; what was imported so far stays.";
      // Reported before the last write, so a store that fails now cannot leave a job "running".
      const unexpected = error instanceof PensieveError ? undefined : error;
      if (this.events) this.events.ended("failed", unexpected);
      else if (unexpected) console.error("import job failed", unexpected);
      await save({ status: "failed", error: message });
    }
    return job;
  }
}
