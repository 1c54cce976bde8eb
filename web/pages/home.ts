import type { VNode } from "preact";
import { html } from "../html.ts";
import { Layout, type PageContext } from "../layout.ts";

/** `/`: what Pensieve is, and how to connect each client to this very server. */
export function HomePage(ctx: PageContext): VNode {
  const { t } = ctx;
  const mcp = `${ctx.publicUrl}/mcp`;
  const desktop = JSON.stringify(
    { mcpServers: { pensieve: { command: "npx", args: ["-y", "mcp-remote", mcp] } } },
    null,
    2,
  );
  const clients: [string, VNode][] = [
    [
      "claude.ai / Claude Desktop",
      html`
        <p>Settings → Connectors → Add custom connector →</p>
        <pre data-copy><code>${mcp}</code></pre>
      `,
    ],
    [
      "ChatGPT",
      html`
        <p>Settings → Apps & Connectors → Developer mode → Create, OAuth →</p>
        <pre data-copy><code>${mcp}</code></pre>
      `,
    ],
    [
      "Claude Code",
      html`<pre data-copy><code>claude mcp add --transport http pensieve ${mcp}</code></pre>`,
    ],
    ["mcp-remote (stdio clients)", html`<pre data-copy><code>${desktop}</code></pre>`],
    [
      "MCP Inspector",
      html`
        <pre
          data-copy><code>npx @modelcontextprotocol/inspector --cli ${mcp} --transport http --header "Authorization: Bearer psv_…" --method tools/list</code></pre>
      `,
    ],
  ];
  return Layout(
    ctx,
    "Pensieve",
    html`
      <section class="hero">
              <h1>Pensieve</h1>
              <p class="lead">${t.tagline}</p>
              <p>${t.intro}</p>
              ${ctx.user
                ? html`<p><a class="button primary" href="/dashboard">${t.conversations}</a></p>`
                : html`<p><a class="button primary" href="/signup">${t.signUp}</a> <a class="button" href="/login">${t.signIn}</a></p>`}
            </section>
      <section>
              <h2>${t.connect}</h2>
              <p>${t.connectHelp} <code>${mcp}</code></p>
              ${clients.map(([name, how]) => html`<div class="card"><h3>${name}</h3>${how}</div>`)}
            </section>
    `,
  );
}
