import { type Scope, SCOPE_DESCRIPTIONS } from "../core/oauth/scopes.ts";

/** Escapes text for HTML content and attribute values. Stored and client-supplied text is never markup. */
export function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;background:#f6f5f2;color:#222;margin:0}
main{max-width:26rem;margin:8vh auto;background:#fff;padding:2rem;border-radius:12px;
box-shadow:0 1px 4px #0002}
h1{font-size:1.3rem;margin-top:0}label{display:block;margin:.8rem 0 .2rem}
input[type=email],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font:inherit}
button{font:inherit;padding:.5rem 1.2rem;margin:1rem .5rem 0 0;border-radius:6px;border:1px solid #888}
button.primary{background:#2d4a8a;color:#fff;border-color:#2d4a8a}
.error{color:#a00}.muted{color:#666;font-size:.9rem}code{word-break:break-all}`;

/** A whole page, with a policy that allows its own inline style and posting back here (and on to `formTarget`). */
export function page(title: string, body: string, formTargets: string[] = []): {
  html: string;
  csp: string;
} {
  return {
    html: `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
      `<meta name="viewport" content="width=device-width,initial-scale=1">` +
      `<title>${escapeHtml(title)} · Pensieve</title><style>${STYLE}</style></head>` +
      `<body><main>${body}</main></body></html>`,
    csp: [
      "default-src 'none'",
      "style-src 'unsafe-inline'",
      // Browsers apply form-action to the redirect after a POST, so the client's callback
      // origin must be allowed too.
      `form-action 'self' ${formTargets.join(" ")}`.trim(),
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ].join("; "),
  };
}

function hidden(fields: Record<string, string>): string {
  return Object.entries(fields).map(([name, value]) =>
    `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`
  ).join("");
}

/** Sign-in, when /authorize finds no Pensieve session in the browser. */
export function signInPage(params: Record<string, string>, clientName: string, error?: string) {
  return page(
    "Sign in",
    `<h1>Sign in to Pensieve</h1>` +
      `<p><strong>${escapeHtml(clientName)}</strong> wants to connect to your Pensieve.</p>` +
      (error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : "") +
      `<form method="post" action="/authorize">${hidden({ ...params, action: "login" })}` +
      `<label for="email">Email</label>` +
      `<input id="email" name="email" type="email" autocomplete="username" required autofocus>` +
      `<label for="password">Password</label>` +
      `<input id="password" name="password" type="password" autocomplete="current-password" required>` +
      `<button class="primary" type="submit">Sign in</button></form>`,
  );
}

/** The consent page: who asks, where the answer goes, and what it may do. */
export function consentPage(input: {
  params: Record<string, string>;
  csrf: string;
  clientName: string;
  redirectUri: string;
  scopes: Scope[];
  email: string;
}) {
  const target = new URL(input.redirectUri);
  const scopes = input.scopes.map((s) =>
    `<li><strong>${
      escapeHtml(SCOPE_DESCRIPTIONS[s])
    }</strong> <span class="muted">(${s})</span></li>`
  ).join("");
  return page(
    "Connect",
    `<h1>Connect ${escapeHtml(input.clientName)}?</h1>` +
      `<p>Signed in as ${escapeHtml(input.email)}.</p>` +
      `<p><strong>${escapeHtml(input.clientName)}</strong> will be able to:</p><ul>${scopes}</ul>` +
      `<p class="muted">After you approve, you go back to <code>${
        escapeHtml(target.host)
      }</code>. You can disconnect it at any time under connected apps.</p>` +
      `<form method="post" action="/authorize">${hidden({ ...input.params, csrf: input.csrf })}` +
      `<button class="primary" type="submit" name="action" value="approve">Approve</button>` +
      `<button type="submit" name="action" value="deny">Deny</button></form>`,
    [target.origin],
  );
}

/** A request that cannot be sent back to the client: shown here instead. */
export function authorizeErrorPage(message: string) {
  return page(
    "Cannot connect",
    `<h1>This connection request cannot be used</h1><p class="error">${
      escapeHtml(message)
    }</p><p class="muted">Start the connection again from the app you came from.</p>`,
  );
}
