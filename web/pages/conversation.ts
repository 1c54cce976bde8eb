import type { VNode } from "preact";
import type { Conversation, Message } from "../../core/types.ts";
import { html } from "../html.ts";
import { Layout, Notice, type PageContext, PostForm } from "../layout.ts";
import { renderMarkdown } from "../markdown.ts";
import { ConversationMeta, when } from "./dashboard.ts";

/** One conversation: every message with role and time, Markdown rendered safely; edit, delete, download. */
export function ConversationPage(
  ctx: PageContext,
  state: {
    conversation: Conversation;
    messages: Message[];
    nextAfterSeq: number | null;
    notice?: string;
    error?: string;
  },
): VNode {
  const { t } = ctx;
  const c = state.conversation;
  const base = `/dashboard/conversations/${c.id}`;
  return Layout(
    ctx,
    c.title,
    html`<article class="conversation">
      <h1>${c.title}</h1>
      ${ConversationMeta(ctx, c)}
      ${Notice("ok", state.notice)} ${Notice("error", state.error)}
      <p class="actions">
        <a class="button" href=${`${base}/download?format=md`} download>${t.downloadMarkdown}</a>
        <a class="button" href=${`${base}/download?format=json`} download>${t.downloadJson}</a>
        <span data-copy-url=${`${base}/download?format=md`}></span>
      </p>
      <ol class="messages">
        ${
      state.messages.map((m) =>
        html`
          <li class=${`message ${m.role}`} id=${`m${m.seq}`}>
            <p class="who"><strong>${t[`role_${m.role}`]}</strong>
                        <time datetime=${new Date(m.createdAt).toISOString()}>${when(
                          m.createdAt,
                          ctx,
                        )}</time></p>
            <div class="body" dangerouslySetInnerHTML=${{
              __html: renderMarkdown(m.content),
            }}></div>
          </li>
        `
      )
    }
      </ol>
      ${
      state.nextAfterSeq !== null
        ? html`<p><a class="button" href=${`${base}?after_seq=${state.nextAfterSeq}`}>${t.more}</a></p>`
        : null
    }
      <details class="edit">
        <summary>${t.rename}</summary>
        ${
      PostForm(
        ctx,
        base,
        html`
          <label for="title">${t.title}</label>
          <input id="title" name="title" required maxlength="300" value=${c.title} />
          <label for="tags">${t.tags}</label>
          <input id="tags" name="tags" value=${c.tags.join(", ")} aria-describedby="tags-hint" />
          <input type="hidden" name="tags_shown" value=${c.tags.join(", ")} />
          <p id="tags-hint" class="hint">${t.tagsHint}</p>
          <button type="submit">${t.save}</button>
        `,
      )
    }
      </details>
      <p><a class="button danger" href=${`${base}/delete`}>${t.delete}</a></p>
    </article>`,
  );
}

/** The confirmation before a conversation is deleted. */
export function DeleteConversationPage(ctx: PageContext, c: Conversation): VNode {
  const { t } = ctx;
  const base = `/dashboard/conversations/${c.id}`;
  return Layout(
    ctx,
    t.deleteConversation,
    html`<section class="narrow">
      <h1>${t.deleteConversation}</h1>
      <p><strong>${c.title}</strong></p>
      <p>${t.deleteWarning}</p>
      ${
      PostForm(
        ctx,
        `${base}/delete`,
        html`
          <button class="danger" type="submit">${t.delete}</button>
          <a class="button" href=${base}>${t.cancel}</a>
        `,
      )
    }
    </section>`,
  );
}

/** A page for a missing thing, or a failed action, in words. */
export function MessagePage(ctx: PageContext, title: string, text: string): VNode {
  return Layout(
    ctx,
    title,
    html`
      <section class="narrow">
        <h1>${title}</h1>
        <p>${text}</p>
        <p><a href="/">${ctx.t.goHome}</a></p>
      </section>
    `,
  );
}
