/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The dashboard's islands: small Preact components mounted into server-rendered pages that work
 * without them. One bundle (`deno task build`), loaded with `defer` from /static.
 */
import { h, render } from "preact";
import { useState } from "preact/hooks";

type Strings = { copy: string; copied: string; copyMarkdown: string; loading: string };

function strings(): Strings {
  const lang = document.documentElement.lang;
  return lang === "ko"
    ? { copy: "복사", copied: "복사됨", copyMarkdown: "Markdown 복사", loading: "불러오는 중…" }
    : { copy: "Copy", copied: "Copied", copyMarkdown: "Copy as Markdown", loading: "Loading…" };
}

/** A button that copies text (or text fetched from a URL) to the clipboard, and says so. */
function CopyButton(props: { text?: string; url?: string; label: string; done: string }) {
  const [state, setState] = useState<"idle" | "done" | "failed">("idle");
  const copy = async () => {
    try {
      let text = props.text ?? "";
      if (props.url) {
        // A lapsed session redirects to the sign-in page: that is a failure, not the text.
        const res = await fetch(props.url, { credentials: "same-origin", redirect: "error" });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        text = await res.text();
      }
      await navigator.clipboard.writeText(text);
      setState("done");
      setTimeout(() => setState("idle"), 2000);
    } catch {
      setState("failed");
    }
  };
  return h(
    "button",
    { type: "button", class: "copy", onClick: copy, "aria-live": "polite" },
    state === "done" ? props.done : state === "failed" ? "✕" : props.label,
  );
}

/** Copy buttons beside every `pre[data-copy]`, and on `[data-copy-url]` placeholders. */
function mountCopyButtons(t: Strings): void {
  for (const pre of document.querySelectorAll<HTMLElement>("pre[data-copy]")) {
    const slot = document.createElement("div");
    slot.className = "copy-slot";
    pre.after(slot);
    render(h(CopyButton, { text: pre.innerText.trim(), label: t.copy, done: t.copied }), slot);
  }
  for (const slot of document.querySelectorAll<HTMLElement>("[data-copy-url]")) {
    render(
      h(CopyButton, { url: slot.dataset.copyUrl!, label: t.copyMarkdown, done: t.copied }),
      slot,
    );
  }
}

/** Each search or page load gets a number; only the newest one may change the page. */
let generation = 0;
let inflight: AbortController | undefined;

/**
 * Replaces the results region with the one from `url`, fetched as a whole page (an error page's
 * region too, so a refused search says why). With `append`, adds its items instead, unless a
 * newer search started meanwhile.
 */
async function swapResults(url: string, append: boolean): Promise<void> {
  const mine = append ? generation : ++generation;
  if (!append) inflight?.abort();
  const controller = new AbortController();
  if (!append) inflight = controller;
  let res: Response;
  try {
    res = await fetch(url, {
      credentials: "same-origin",
      redirect: "error",
      headers: { Accept: "text/html" },
      signal: controller.signal,
    });
  } catch {
    return; // aborted by a newer search, or the session lapsed: the form still works
  }
  const page = await res.text();
  if (mine !== generation) return;
  const next = new DOMParser().parseFromString(page, "text/html");
  const incoming = next.querySelector("#results");
  const current = document.querySelector("#results");
  if (!incoming || !current) return;
  if (append) {
    const list = current.querySelector("ul.conversations");
    const more = incoming.querySelector("ul.conversations");
    if (list && more) list.append(...Array.from(more.children));
    current.querySelector(".pager")?.replaceWith(
      incoming.querySelector(".pager") ?? document.createElement("span"),
    );
  } else {
    current.replaceWith(incoming);
  }
  watchPager();
}

/** Search as you type: the form still submits without JavaScript. */
function mountLiveSearch(): void {
  const form = document.querySelector<HTMLFormElement>("form.search");
  const input = form?.querySelector<HTMLInputElement>("input[name=q]");
  if (!form || !input) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const params = new URLSearchParams(new FormData(form) as unknown as Record<string, string>);
      const url = `/dashboard?${params}`;
      history.replaceState(null, "", url);
      swapResults(url, false);
    }, 250);
  });
}

/** The endless list: the "Older" link loads itself when it comes into view. */
function watchPager(): void {
  const link = document.querySelector<HTMLAnchorElement>("#results .pager a");
  if (!link || !("IntersectionObserver" in window)) return;
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) {
      observer.disconnect();
      link.textContent = strings().loading;
      swapResults(link.href, true);
    }
  });
  observer.observe(link);
}

/**
 * The import form: the chosen file goes up as the request body itself, streamed, with the form's
 * CSRF token in a header; the summary is shown in place. Without JavaScript the form posts
 * multipart instead.
 */
function mountImport(): void {
  const form = document.querySelector<HTMLFormElement>("form[data-import]");
  if (!form) return;
  const status = form.querySelector<HTMLElement>("[data-import-status]");
  const ko = document.documentElement.lang === "ko";
  form.addEventListener("submit", async (event) => {
    const input = form.querySelector<HTMLInputElement>("input[type=file]");
    const file = input?.files?.[0];
    const csrf = form.querySelector<HTMLInputElement>("input[name=csrf]")?.value ?? "";
    if (!file || !status) return;
    event.preventDefault();
    status.textContent = ko ? "가져오는 중…" : "Importing…";
    try {
      const res = await fetch(`/settings/import?name=${encodeURIComponent(file.name)}`, {
        method: "POST",
        body: file,
        headers: { "Content-Type": "application/octet-stream", "X-CSRF-Token": csrf },
        credentials: "same-origin",
        redirect: "error",
      });
      const answer = await res.json();
      if (!res.ok) {
        status.textContent = answer.error?.message ?? `HTTP ${res.status}`;
        return;
      }
      const s = answer.summary;
      status.textContent = ko
        ? `가져왔습니다: 새 대화 ${s.conversations_created}개, 갱신 ${s.conversations_updated}개, 메시지 ${s.messages_added}개 추가, 건너뜀 ${
          s.skipped_count ?? s.skipped.length
        }개.`
        : `Imported: ${s.conversations_created} new conversations, ${s.conversations_updated} updated, ${s.messages_added} messages added, ${
          s.skipped_count ?? s.skipped.length
        } skipped.`;
    } catch {
      status.textContent = ko ? "가져오지 못했습니다." : "The import failed.";
    }
  });
}

const t = strings();
mountCopyButtons(t);
mountImport();
mountLiveSearch();
watchPager();
document.documentElement.dataset.islands = "ready";
