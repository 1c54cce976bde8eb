import MarkdownIt from "markdown-it";

const SAFE_LINK = /^(https?:|mailto:)/i;

/**
 * Markdown for untrusted conversation text: raw HTML is shown as text, only http(s) and mailto
 * links are made, and every link opens apart from this page.
 */
function createRenderer() {
  const md = new MarkdownIt({ html: false, linkify: true, breaks: true });
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

const renderer = createRenderer();

/** Markdown to HTML that cannot run anything or reach anywhere on its own. */
export function renderMarkdown(text: string): string {
  return renderer.render(text);
}
