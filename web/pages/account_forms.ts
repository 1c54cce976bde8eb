import type { VNode } from "preact";
import { html } from "../html.ts";
import { csrfField, Layout, Notice, type PageContext } from "../layout.ts";

/** `/login` and `/signup`: one form each, errors in words, the entered email kept. */
export function AccountFormPage(
  ctx: PageContext,
  kind: "login" | "signup",
  state: { email?: string; error?: string; next?: string } = {},
): VNode {
  const { t } = ctx;
  const title = kind === "login" ? t.signIn : t.signUp;
  return Layout(
    ctx,
    title,
    html`<section class="narrow">
      <h1>${title}</h1>
      ${Notice("error", state.error)}
      <form method="post" action=${`/${kind}`}>
        ${csrfField(ctx)}
        ${state.next ? html`<input type="hidden" name="next" value=${state.next} />` : null}
        <label for="email">${t.email}</label>
        <input id="email" name="email" type="email" autocomplete="username" required
          value=${state.email ?? ""} />
        <label for="password">${t.password}</label>
        <input id="password" name="password" type="password" minlength="8" required
          autocomplete=${kind === "login" ? "current-password" : "new-password"}
          aria-describedby="password-hint" />
        <p id="password-hint" class="hint">${t.passwordHint}</p>
        <button class="primary" type="submit">${title}</button>
      </form>
      <p>${
      kind === "login"
        ? html`${t.noAccount} <a href="/signup">${t.signUp}</a>`
        : html`${t.haveAccount} <a href="/login">${t.signIn}</a>`
    }</p>
    </section>`,
  );
}
