import type { VNode } from "preact";
import type { ImportSummary } from "../../core/import/importer.ts";
import type { PersonalToken } from "../../core/types.ts";
import { html } from "../html.ts";
import { Layout, Notice, type PageContext, PostForm } from "../layout.ts";
import { when } from "./dashboard.ts";

export interface SettingsState {
  tokens: PersonalToken[];
  apps: { id: string; name: string; scopes: string[]; connectedAt: number; lastUsedAt: number }[];
  /** A token secret just created: shown this once. */
  newSecret?: string;
  /** The summary of an import just done. */
  imported?: ImportSummary;
  notice?: string;
  error?: string;
}

/** `/settings`: tokens, connected apps, password, account deletion. */
export function SettingsPage(ctx: PageContext, state: SettingsState): VNode {
  const { t } = ctx;
  return Layout(
    ctx,
    t.settings,
    html`
      <h1>${t.settings}</h1>
            ${Notice("ok", state.notice)} ${Notice("error", state.error)}
            <section class="card" aria-labelledby="tokens">
              <h2 id="tokens">${t.tokens}</h2>
              <p>${t.tokensHelp}</p>
              ${state.newSecret
                ? html`
                  <div class="secret" role="status">
                    <p>${t.tokenCreated}</p>
                    <pre data-copy><code>${state.newSecret}</code></pre>
                  </div>
                `
                : null}
              ${state.tokens.length
                ? html`<ul class="rows">${
                  state.tokens.map((token) =>
                    html`<li><strong>${token.name}</strong> <code>${token.prefix}…</code>
              <span class="hint">${t.lastUsed}: ${
                      token.lastUsedAt ? when(token.lastUsedAt, ctx) : t.never
                    }${
                      token.expiresAt ? html`; ${t.expires} ${when(token.expiresAt, ctx)}` : null
                    }</span>
              ${
                      PostForm(
                        ctx,
                        `/settings/tokens/${token.id}/revoke`,
                        html`<button type="submit">${t.revoke}</button>`,
                        { class: "inline" },
                      )
                    }
            </li>`
                  )
                }</ul>`
                : html`<p class="empty">${t.noTokens}</p>`}
              ${PostForm(
                ctx,
                "/settings/tokens",
                html`
                  <label for="token-name">${t.tokenName}</label>
                  <input id="token-name" name="name" required maxlength="100" />
                  <button type="submit">${t.createToken}</button>
                `,
              )}
            </section>
            <section class="card" aria-labelledby="apps">
              <h2 id="apps">${t.connectedApps}</h2>
              ${state.apps.length
                ? html`<ul class="rows">${
                  state.apps.map((app) =>
                    html`<li><strong>${app.name}</strong>
              <span class="hint">${app.scopes.join(", ")}; ${t.lastUsed}: ${
                      when(app.lastUsedAt, ctx)
                    }</span>
              ${
                      PostForm(
                        ctx,
                        `/settings/apps/${app.id}/disconnect`,
                        html`<button type="submit">${t.disconnect}</button>`,
                        { class: "inline" },
                      )
                    }
            </li>`
                  )
                }</ul>`
                : html`<p class="empty">${t.noApps}</p>`}
            </section>
            <section class="card" aria-labelledby="import">
        <h2 id="import">${t.importTitle}</h2>
        <p>${t.importHelp}</p>
        ${state.imported ? ImportResult(ctx, state.imported) : null}
        ${PostForm(
          ctx,
          "/settings/import",
          html`
            <label for="import-file">${t.importFile}</label>
            <input id="import-file" name="file" type="file" accept=".zip,.json,application/zip,application/json"
              required />
            <button type="submit">${t.importButton}</button>
            <p class="hint" data-import-status role="status"></p>
          `,
          { enctype: "multipart/form-data", "data-import": "" },
        )}
      </section>
      <section class="card" aria-labelledby="export">
        <h2 id="export">${t.exportAll}</h2>
        <p>${t.exportHelp}</p>
        <p><a class="button" href="/settings/export" download>${t.exportAll}</a></p>
      </section>
            <section class="card" aria-labelledby="password">
              <h2 id="password">${t.changePassword}</h2>
              ${PostForm(
                ctx,
                "/settings/password",
                html`
                  <label for="current">${t.currentPassword}</label>
                  <input id="current" name="current_password" type="password" required
                    autocomplete="current-password" />
                  <label for="next">${t.newPassword}</label>
                  <input id="next" name="new_password" type="password" required minlength="8"
                    autocomplete="new-password" />
                  <button type="submit">${t.changePassword}</button>
                `,
              )}
            </section>
            <section class="card danger-zone" aria-labelledby="delete">
              <h2 id="delete">${t.deleteAccount}</h2>
              <p>${t.deleteAccountWarning}</p>
              ${PostForm(
                ctx,
                "/settings/delete-account",
                html`
                  <label for="delete-password">${t.currentPassword}</label>
                  <input id="delete-password" name="password" type="password" required
                    autocomplete="current-password" />
                  <button class="danger" type="submit">${t.deleteAccount}</button>
                `,
              )}
            </section>
    `,
  );
}

/** What an import did, in words. */
export function ImportResult(ctx: PageContext, summary: ImportSummary): VNode {
  const { t } = ctx;
  return html`<div class="notice ok" role="status">
    <p>${
    t.importDone(
      summary.conversations_created,
      summary.conversations_updated,
      summary.messages_added,
    )
  }</p>
    ${
    summary.skipped_count
      ? html`
        <p>${t.importSkipped(summary.skipped_count)}</p>
        <ul>${summary.skipped.slice(0, 20).map((s) => html`<li>${s.reason}</li>`)}</ul>
      `
      : null
  }
  </div>`;
}
