import type { VNode } from "preact";
import type { SearchResult } from "../../core/conversations.ts";
import type { Conversation } from "../../core/types.ts";
import { html } from "../html.ts";
import { Layout, Notice, type PageContext } from "../layout.ts";

/** Text with its highlighted ranges (UTF-16 offsets) wrapped in <mark>, all of it escaped. */
export function Highlighted(text: string, ranges: [number, number][]): VNode[] {
  const parts: VNode[] = [];
  let at = 0;
  for (const [start, end] of [...ranges].sort((a, b) => a[0] - b[0])) {
    if (start < at) continue;
    if (start > at) parts.push(html`${text.slice(at, start)}`);
    parts.push(html`<mark>${text.slice(start, end)}</mark>`);
    at = end;
  }
  if (at < text.length) parts.push(html`${text.slice(at)}`);
  return parts;
}

function when(ms: number, ctx: PageContext): string {
  return new Date(ms).toLocaleString(ctx.locale === "ko" ? "ko-KR" : "en-GB", {
    dateStyle: "medium",
    timeStyle: "short",
    timeZone: "UTC",
  }) + " UTC";
}

function Meta(ctx: PageContext, c: Conversation): VNode {
  const { t } = ctx;
  return html`<p class="meta">
    <span class="source">${t.from} ${c.source}</span>
    <span>${c.messageCount} ${t.messages}</span>
    <span>${t.updated} <time datetime=${new Date(c.updatedAt).toISOString()}>${
    when(c.updatedAt, ctx)
  }</time></span>
    ${
    c.tags.map((tag) =>
      html`<a class="tag" href=${`/dashboard?tag=${encodeURIComponent(tag)}`}>${tag}</a>`
    )
  }
  </p>`;
}

export interface DashboardState {
  query: string;
  tag?: string;
  source?: string;
  conversations?: Conversation[];
  results?: SearchResult[];
  nextCursor: string | null;
  error?: string;
}

/** `/dashboard`: newest first, or search results with highlighted snippets; paged by cursor. */
export function DashboardPage(ctx: PageContext, state: DashboardState): VNode {
  const { t } = ctx;
  const searching = state.query.trim() !== "";
  const params = (cursor: string) => {
    const p = new URLSearchParams();
    if (searching) p.set("q", state.query);
    if (state.tag) p.set("tag", state.tag);
    if (state.source) p.set("source", state.source);
    p.set("cursor", cursor);
    return `/dashboard?${p}`;
  };
  const list = searching
    ? (state.results ?? []).map((r) =>
      html`<li class="card">
          <h2><a href=${`/dashboard/conversations/${r.conversation.id}${
        r.seq === null ? "" : `#m${r.seq}`
      }`}>${r.conversation.title}</a></h2>
          <p class="snippet">${Highlighted(r.snippet.text, r.snippet.highlights)}</p>
          ${Meta(ctx, r.conversation)}
        </li>`
    )
    : (state.conversations ?? []).map((c) =>
      html`<li class="card">
          <h2><a href=${`/dashboard/conversations/${c.id}`}>${c.title}</a></h2>
          ${Meta(ctx, c)}
        </li>`
    );
  const empty = searching
    ? html`<p class="empty">${t.noResults}</p>`
    : state.tag || state.source
    ? html`<p class="empty">${t.noResults}</p>`
    : html`
      <div class="empty">
        <p><strong>${t.noConversations}</strong></p>
        <p>${t.noConversationsNext}</p>
        <p><a href="/">${t.connect}</a></p>
      </div>
    `;
  return Layout(
    ctx,
    t.conversations,
    html`<h1>${t.conversations}</h1>
      <form class="search" method="get" action="/dashboard" role="search">
        <label for="q">${t.search}</label>
        <input id="q" name="q" type="search" value=${state.query} placeholder=${t.searchPlaceholder} />
        ${state.tag ? html`<input type="hidden" name="tag" value=${state.tag} />` : null}
        <button type="submit">${t.search}</button>
        ${searching || state.tag ? html`<a href="/dashboard">${t.clear}</a>` : null}
      </form>

      ${
      state.tag
        ? html`<p class="filter">${t.tags}: <span class="tag">${state.tag}</span></p>`
        : null
    }
      <div id="results">
        ${Notice("error", state.error)}
        ${list.length ? html`<ul class="conversations">${list}</ul>` : empty}
        ${
      state.nextCursor
        ? html`<p class="pager"><a class="button" href=${
          params(state.nextCursor)
        }>${t.older}</a></p>`
        : null
    }
      </div>`,
  );
}

export { Meta as ConversationMeta, when };
