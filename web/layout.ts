import type { VNode } from "preact";
import { html } from "./html.ts";
import type { Locale, Messages } from "./i18n.ts";

/** What every page knows about the request it answers. */
export interface PageContext {
  t: Messages;
  locale: Locale;
  user: { email: string } | null;
  /** The session's CSRF token, for forms that change something. */
  csrf: string;
  publicUrl: string;
  /** The current path and query, for the language switch to come back to. */
  here: string;
  stylesheet: string;
  /** The islands bundle, when it was built; pages work without it. */
  script: string | null;
}

/** A hidden CSRF field; every form that changes state carries one. */
export function csrfField(ctx: PageContext): VNode {
  return html`<input type="hidden" name="csrf" value=${ctx.csrf} />`;
}

/** A POST form that changes state: with its CSRF field, never sent cross-site. */
export function PostForm(
  ctx: PageContext,
  action: string,
  children: unknown,
  attrs: Record<string, string> = {},
): VNode {
  return html`<form method="post" action=${action} ...${attrs}>${csrfField(ctx)}${children}</form>`;
}

/** The frame of every page: header with navigation and language switch, main, footer. */
export function Layout(ctx: PageContext, title: string, body: unknown): VNode {
  const { t } = ctx;
  const other: Locale = ctx.locale === "en" ? "ko" : "en";
  return html`
    <html lang=${ctx.locale}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>${title} · Pensieve</title>
        <link rel="stylesheet" href=${ctx.stylesheet} />
      ${ctx.script ? html`<script src=${ctx.script} defer></script>` : null}
      </head>
      <body>
        <a class="skip" href="#main">${t.skip}</a>
        <header class="top">
          <a class="brand" href="/">Pensieve</a>
          <nav aria-label="Main">
              ${ctx.user
                ? html`<a href="/dashboard">${t.conversations}</a>
              <a href="/settings">${t.settings}</a>
              ${
                  PostForm(
                    ctx,
                    "/logout",
                    html`<button class="link" type="submit">${t.signOut}</button>`,
                    {
                      class: "inline",
                    },
                  )
                }`
                : html`<a href="/login">${t.signIn}</a> <a href="/signup">${t.signUp}</a>`}
              <a href=${`/language/${other}?next=${encodeURIComponent(ctx.here)}`} lang=${other}
                hreflang=${other}>${other === "ko" ? "한국어" : "English"}</a>
            </nav>
        </header>
        <main id="main">${body}</main>
      </body>
    </html>
  `;
}

/** A message shown above a page's content: errors in words, successes in words. */
export function Notice(kind: "error" | "ok", text: string | null | undefined): VNode | null {
  if (!text) return null;
  return html`<p class=${`notice ${kind}`} role=${
    kind === "error" ? "alert" : "status"
  }>${text}</p>`;
}
