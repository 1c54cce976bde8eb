import htm from "htm";
import { h, type VNode } from "preact";
import { render } from "preact-render-to-string";

/** JSX-like templates without a build step: html`<p>${text}</p>`. Text is always escaped. */
export const html = (htm as unknown as {
  bind(factory: typeof h): (strings: TemplateStringsArray, ...values: unknown[]) => VNode;
}).bind(h);

/** A whole page as a string, with the doctype. */
export function renderPage(page: VNode): string {
  return `<!doctype html>${render(page)}`;
}
