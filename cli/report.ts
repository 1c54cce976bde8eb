/** What the command-line tools print: a progress line on a terminal, and summaries. */
import { type ImportSummary, noteSkipped } from "../core/import/importer.ts";

const encoder = new TextEncoder();

/** A progress line on stderr, redrawn at most five times a second; silent when not a terminal. */
export class ProgressLine {
  readonly #tty = Deno.stderr.isTerminal();
  #last = 0;

  /** `fraction` in 0…1 draws a bar; null shows only the text. */
  update(fraction: number | null, text: string): void {
    const now = Date.now();
    if (!this.#tty || now - this.#last < 200) return;
    this.#last = now;
    let bar = "";
    if (fraction !== null) {
      const pct = Math.max(0, Math.min(100, Math.floor(fraction * 100)));
      bar = `[${"#".repeat(Math.floor(pct / 4)).padEnd(25, ".")}] ${pct}% `;
    }
    Deno.stderr.writeSync(encoder.encode(`\r\x1b[K${bar}${text}`));
  }

  clear(): void {
    if (this.#tty) Deno.stderr.writeSync(encoder.encode("\r\x1b[K"));
  }
}

/** Counts bytes as they pass, for a progress bar. */
export function counting(onBytes: (n: number) => void): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, controller) {
      onBytes(chunk.length);
      controller.enqueue(chunk);
    },
  });
}

export function conversationsDone(s: ImportSummary): number {
  return s.conversations_created + s.conversations_updated + s.conversations_unchanged;
}

/** Adds one summary's counts to another's. */
export function addSummary(total: ImportSummary, one: ImportSummary): void {
  total.conversations_created += one.conversations_created;
  total.conversations_updated += one.conversations_updated;
  total.conversations_unchanged += one.conversations_unchanged;
  total.messages_added += one.messages_added;
  for (const x of one.skipped) noteSkipped(total, x.conversation, x.reason);
  // Those past the list of `one` were counted there but not listed.
  total.skipped_count += one.skipped_count - one.skipped.length;
}

/** The summary's lines: the counts, then each skipped conversation with its reason. */
export function summaryLines(s: ImportSummary): string[] {
  return [
    `${s.conversations_created} new conversations, ${s.conversations_updated} updated, ` +
    `${s.conversations_unchanged} unchanged, ${s.messages_added} messages added, ` +
    `${s.skipped_count} skipped.`,
    ...s.skipped.map((x) => `  skipped ${x.conversation}: ${x.reason}`),
    ...(s.skipped_count > s.skipped.length
      ? [`  … and ${s.skipped_count - s.skipped.length} more skipped`]
      : []),
  ];
}
