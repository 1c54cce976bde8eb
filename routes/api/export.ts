import { Hono } from "hono";
import { NotFound } from "../../core/errors.ts";
import type { Services } from "../../core/services.ts";
import type { AppEnv } from "../env.ts";

function attachment(name: string, type: string): HeadersInit {
  return {
    "Content-Type": type,
    "Content-Disposition": `attachment; filename="${name}"`,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
  };
}

/**
 * /api/export: the whole account as one JSON document (`pensieve-export` v1) or, with
 * `?format=markdown`, as a zip of one Markdown file per conversation; `/api/export/{id}` one
 * conversation as JSON or Markdown. Everything is streamed.
 */
export function exportRoutes(services: Services): Hono<AppEnv> {
  const { exporter } = services;
  return new Hono<AppEnv>()
    .get("/", (c) => {
      const day = new Date().toISOString().slice(0, 10);
      const userId = c.var.principal.userId;
      if (c.req.query("format") === "markdown") {
        return new Response(
          exporter.markdownZip(userId),
          { headers: attachment(`pensieve-export-${day}.zip`, "application/zip") },
        );
      }
      return new Response(
        exporter.all(userId),
        { headers: attachment(`pensieve-export-${day}.json`, "application/json; charset=utf-8") },
      );
    })
    .get("/:id", async (c) => {
      const id = c.req.param("id");
      const markdown = c.req.query("format") === "markdown";
      // Streamed a page of messages at a time: a conversation may be far larger than memory.
      const body = /^[0-9a-f-]{36}$/i.test(id)
        ? await exporter.oneStream(c.var.principal.userId, id, {
          format: markdown ? "markdown" : "json",
        })
        : null;
      if (!body) throw new NotFound("No conversation with this id.");
      return new Response(
        body,
        {
          headers: markdown
            ? attachment(`pensieve-${id}.md`, "text/markdown; charset=utf-8")
            : attachment(`pensieve-${id}.json`, "application/json; charset=utf-8"),
        },
      );
    });
}
