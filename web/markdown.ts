import type MarkdownIt from "markdown-it";

type Renderer = ReturnType<typeof MarkdownIt>;

const SAFE_LINK = /^(https?:|mailto:)/i;

/**
 * Markdown for untrusted conversation text: raw HTML is shown as text, only http(s) and mailto
 * links are made, and every link opens apart from this page.
 */
function createRenderer(Markdown: typeof MarkdownIt): Renderer {
  const md = new Markdown({ html: false, linkify: true, breaks: true });
  md.validateLink = (url) => SAFE_LINK.test(url.trim());
  const base = md.renderer.rules.link_open ??
    ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
  md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
    tokens[idx].attrSet("rel", "noopener noreferrer nofollow");
    tokens[idx].attrSet("target", "_blank");
    return base(tokens, idx, options, env, self);
  };
  // Images would load from anywhere the text says; show them as links instead.
  md.renderer.rules.image = (tokens, idx) => {
    const token = tokens[idx];
    const src = String(token.attrGet("src") ?? "");
    const alt = md.utils.escapeHtml(String(token.content || src));
    return SAFE_LINK.test(src)
      ? `<a href="${
        md.utils.escapeHtml(src)
      }" rel="noopener noreferrer nofollow" target="_blank">${alt}</a>`
      : alt;
  };
  return md;
}

// One renderer per process: it holds only its settings. Loaded with the first conversation page,
// not at start-up, which would pay for markdown-it and its dependencies on every start.
let renderer: Renderer | undefined;

/** Loads the renderer; `renderMarkdown` may be called once this has resolved. */
export async function loadMarkdown(): Promise<void> {
  renderer ??= createRenderer((await import("markdown-it")).default);
}

/** Markdown to HTML that cannot run anything or reach anywhere on its own. */
export function renderMarkdown(text: string): string {
  if (!renderer) throw new Error("renderMarkdown before loadMarkdown");
  return renderer.render(text);
}
