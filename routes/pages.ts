import { type Context, Hono } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { Config } from "../config.ts";
import { Invalid, PensieveError } from "../core/errors.ts";
import { LIMITS } from "../core/limits.ts";
import {
  changePasswordSchema,
  createTokenSchema,
  credentialsSchema,
  loginSchema,
  updateConversationSchema,
} from "../core/schemas.ts";
import type { Services } from "../core/services.ts";
import { renderPage } from "../web/html.ts";
import { loadMarkdown } from "../web/markdown.ts";
import { type Locale, messagesFor, pickLocale } from "../web/i18n.ts";
import type { PageContext } from "../web/layout.ts";
import { AccountFormPage } from "../web/pages/account_forms.ts";
import {
  ConversationPage,
  DeleteConversationPage,
  MessagePage,
} from "../web/pages/conversation.ts";
import { DashboardPage } from "../web/pages/dashboard.ts";
import { HomePage } from "../web/pages/home.ts";
import { SettingsPage, type SettingsState } from "../web/pages/settings.ts";
import type { AppEnv } from "./env.ts";
import { clientAddress } from "./middleware/client_address.ts";
import { multipartFile } from "./multipart_file.ts";
import { idleLimited, UPLOAD_IDLE_MS } from "../core/import/idle_upload.ts";
import type { BrowserSession, WebSessions } from "./web_session.ts";

/** Pages: no inline script, nothing from elsewhere, not framable. */
const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "connect-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join("; ");

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Only a path on this site may be a place to go back to. Control characters are refused outright
 * (browsers drop tabs and newlines, so "/\t/evil" would become "//evil"), then the value must
 * resolve to this very origin.
 */
function safeNext(value: unknown, origin: string): string {
  const hasControl = typeof value === "string" &&
    [...value].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f || ch === "\\");
  if (typeof value !== "string" || !value.startsWith("/") || hasControl) {
    return "/dashboard";
  }
  try {
    const url = new URL(value, origin);
    return url.origin === origin ? url.pathname + url.search + url.hash : "/dashboard";
  } catch {
    return "/dashboard";
  }
}

function idOf(c: Context<AppEnv>): string {
  return c.req.param("id") ?? "";
}

function splitTags(value: string): string[] {
  return value.split(",").map((tag) => tag.trim()).filter(Boolean);
}

/** The server-rendered web pages: home, sign-in and sign-up, dashboard, conversation, settings. */
export function pageRoutes(deps: {
  config: Config;
  services: Services;
  sessions: WebSessions;
  stylesheet: string;
  script: string | null;
}): Hono<AppEnv> {
  const { config, services, sessions } = deps;
  const { conversations, accounts, personalTokens, authorizationServer } = services;

  const context = async (
    c: Context<AppEnv>,
    session: BrowserSession | null,
  ): Promise<PageContext> => {
    const locale: Locale = pickLocale(
      getCookie(c, "pensieve_lang"),
      c.req.header("Accept-Language"),
    );
    return {
      t: messagesFor(locale),
      locale,
      user: session ? { email: (await accounts.me(session.userId)).email } : null,
      csrf: await sessions.csrfToken(c, session),
      publicUrl: config.publicUrl,
      here: pageOf(c),
      stylesheet: deps.stylesheet,
      script: deps.script,
    };
  };

  /**
   * The page a request belongs to: its own URL for a GET; for a form post, the page the form was
   * on (the post's own URL is no page to come back to).
   */
  const pageOf = (c: Context<AppEnv>): string => {
    const url = new URL(c.req.url);
    if (c.req.method === "GET") return url.pathname + url.search;
    const referer = c.req.header("Referer");
    if (referer) {
      const from = safeNext(new URL(referer, config.publicUrl).pathname, config.publicUrl);
      if (referer.startsWith(config.publicUrl)) return from;
    }
    return url.pathname.startsWith("/settings") ? "/settings" : "/dashboard";
  };

  const send = (c: Context<AppEnv>, body: string, status = 200) => {
    c.header("Content-Security-Policy", PAGE_CSP);
    // Same-origin referrers make browsers send a real Origin with form posts.
    c.header("Referrer-Policy", "same-origin");
    c.header("Cache-Control", "no-store");
    c.header("Vary", "Cookie, Accept-Language");
    return c.html(body, status as 200);
  };

  /** Runs a signed-in page; the signed-out are sent to sign in and brought back. */
  const signedIn = (
    handler: (c: Context<AppEnv>, session: BrowserSession, ctx: PageContext) => Promise<Response>,
  ) =>
  async (c: Context<AppEnv>) => {
    const session = await sessions.current(c);
    if (!session) return c.redirect(`/login?next=${encodeURIComponent(pageOf(c))}`, 303);
    return handler(c, session, await context(c, session));
  };

  /** A signed-in form post: refused without a valid CSRF token or from another origin. */
  const signedInPost = (
    handler: (
      c: Context<AppEnv>,
      session: BrowserSession,
      ctx: PageContext,
      form: Record<string, string>,
    ) => Promise<Response>,
  ) =>
    signedIn(async (c, session, ctx) => {
      const form = Object.fromEntries(new URLSearchParams(await c.req.text()));
      if (!(await sessions.verify(c, session, form.csrf))) {
        return send(c, renderPage(MessagePage(ctx, ctx.t.formExpired, ctx.t.formExpired)), 403);
      }
      return handler(c, session, ctx, form);
    });

  const wordsOf = (error: unknown): string => {
    if (error instanceof PensieveError) return error.message;
    throw error;
  };

  const settingsState = async (userId: string): Promise<SettingsState> => ({
    tokens: await personalTokens.list(userId),
    apps: (await authorizationServer.connectedApps(userId)).map(({ grant, clientName }) => ({
      id: grant.id,
      name: clientName,
      scopes: grant.scopes,
      connectedAt: grant.createdAt,
      lastUsedAt: grant.lastUsedAt,
    })),
  });

  const accountForm = (kind: "login" | "signup") => ({
    get: async (c: Context<AppEnv>) => {
      const session = await sessions.current(c);
      const next = safeNext(c.req.query("next"), config.publicUrl);
      if (session) return c.redirect(next, 303);
      return send(c, renderPage(AccountFormPage(await context(c, null), kind, { next })));
    },
    post: async (c: Context<AppEnv>) => {
      const form = Object.fromEntries(new URLSearchParams(await c.req.text()));
      const ctx = await context(c, null);
      const next = safeNext(form.next, config.publicUrl);
      if (!(await sessions.verify(c, null, form.csrf))) {
        return send(
          c,
          renderPage(AccountFormPage(ctx, kind, { error: ctx.t.formExpired, next })),
          403,
        );
      }
      const parsed = (kind === "login" ? loginSchema : credentialsSchema)
        .safeParse({ email: form.email, password: form.password });
      if (!parsed.success) {
        const error = parsed.error.issues[0].message;
        return send(
          c,
          renderPage(AccountFormPage(ctx, kind, { email: form.email, error, next })),
          400,
        );
      }
      try {
        const address = clientAddress(c, config.trustProxy);
        const { email, password } = parsed.data;
        const session = kind === "login"
          ? await accounts.login(email, password, address, config.webSessionSeconds)
          : await accounts.register(email, password, address, config.webSessionSeconds);
        sessions.start(c, session.accessToken, session.expiresIn);
        return c.redirect(next, 303);
      } catch (error) {
        const status = error instanceof PensieveError && error.code === "too_many_requests"
          ? 429
          : error instanceof PensieveError && error.code === "conflict"
          ? 409
          : 401;
        return send(
          c,
          renderPage(
            AccountFormPage(ctx, kind, { email: form.email, error: wordsOf(error), next }),
          ),
          status,
        );
      }
    },
  });

  const login = accountForm("login");
  const signup = accountForm("signup");

  const loadConversation = async (userId: string, id: string, afterSeq?: number) => {
    if (!UUID.test(id)) return null;
    await loadMarkdown(); // its page shows the messages as Markdown
    try {
      return await conversations.load(userId, id, {
        afterSeq,
        limit: LIMITS.messagePageMax,
      });
    } catch (error) {
      if (error instanceof PensieveError && error.code === "not_found") return null;
      throw error;
    }
  };

  const notFound = (c: Context<AppEnv>, ctx: PageContext) =>
    send(c, renderPage(MessagePage(ctx, ctx.t.notFound, ctx.t.notFound)), 404);

  return new Hono<AppEnv>()
    .get(
      "/",
      async (c) => send(c, renderPage(HomePage(await context(c, await sessions.current(c))))),
    )
    .get("/login", login.get)
    .post("/login", login.post)
    .get("/signup", signup.get)
    .post("/signup", signup.post)
    .post(
      "/logout",
      signedInPost(async (c, session) => {
        try {
          await accounts.logout(await services.authenticator.authenticate(session.token));
        } finally {
          sessions.end(c);
        }
        return c.redirect("/", 303);
      }),
    )
    .get("/language/:locale", (c) => {
      const locale = c.req.param("locale");
      if (locale === "en" || locale === "ko") {
        setCookie(c, "pensieve_lang", locale, {
          path: "/",
          sameSite: "Lax",
          maxAge: 365 * 86_400,
        });
      }
      return c.redirect(safeNext(c.req.query("next") ?? "/", config.publicUrl), 303);
    })
    .get(
      "/dashboard",
      signedIn(async (c, session, ctx) => {
        const query = c.req.query("q") ?? "";
        const tag = c.req.query("tag") || undefined;
        const source = c.req.query("source") || undefined;
        const cursor = c.req.query("cursor") || undefined;
        try {
          if (query.trim()) {
            const page = await conversations.search(session.userId, {
              q: query.slice(0, LIMITS.queryMax),
              tag,
              source,
              cursor,
              limit: LIMITS.searchPageDefault,
            });
            return send(
              c,
              renderPage(
                DashboardPage(ctx, {
                  query,
                  tag,
                  source,
                  results: page.items,
                  nextCursor: page.nextCursor,
                }),
              ),
            );
          }
          const page = await conversations.list(session.userId, {
            tag,
            source,
            cursor,
            limit: LIMITS.listPageDefault,
          });
          return send(
            c,
            renderPage(
              DashboardPage(ctx, {
                query,
                tag,
                source,
                conversations: page.items,
                nextCursor: page.nextCursor,
              }),
            ),
          );
        } catch (error) {
          return send(
            c,
            renderPage(DashboardPage(ctx, { query, tag, nextCursor: null, error: wordsOf(error) })),
            400,
          );
        }
      }),
    )
    .get(
      "/dashboard/conversations/:id",
      signedIn(async (c, session, ctx) => {
        const after = Number(c.req.query("after_seq"));
        const loaded = await loadConversation(
          session.userId,
          idOf(c),
          Number.isInteger(after) && after >= 0 ? after : undefined,
        );
        if (!loaded) return notFound(c, ctx);
        return send(
          c,
          renderPage(
            ConversationPage(ctx, { ...loaded, notice: c.req.query("saved") ? "✓" : undefined }),
          ),
        );
      }),
    )
    .post(
      "/dashboard/conversations/:id",
      signedInPost(async (c, session, ctx, form) => {
        const id = idOf(c);
        // Tags are only sent back when the field was edited: a tag may itself hold a comma.
        const tagsChanged = (form.tags ?? "") !== (form.tags_shown ?? "");
        const parsed = (form.title ?? "").trim() === ""
          ? { success: false as const, error: { issues: [{ message: ctx.t.titleRequired }] } }
          : updateConversationSchema.safeParse({
            title: form.title,
            ...(tagsChanged ? { tags: splitTags(form.tags ?? "") } : {}),
          });
        const loaded = await loadConversation(session.userId, id);
        if (!loaded) return notFound(c, ctx);
        if (!parsed.success) {
          return send(
            c,
            renderPage(ConversationPage(ctx, { ...loaded, error: parsed.error.issues[0].message })),
            400,
          );
        }
        await conversations.update(session.userId, id, parsed.data);
        return c.redirect(`/dashboard/conversations/${id}?saved=1`, 303);
      }),
    )
    .get(
      "/dashboard/conversations/:id/delete",
      signedIn(async (c, session, ctx) => {
        const loaded = await loadConversation(session.userId, idOf(c));
        if (!loaded) return notFound(c, ctx);
        return send(c, renderPage(DeleteConversationPage(ctx, loaded.conversation)));
      }),
    )
    .post(
      "/dashboard/conversations/:id/delete",
      signedInPost(async (c, session, ctx) => {
        const id = idOf(c);
        if (!UUID.test(id)) return notFound(c, ctx);
        try {
          await conversations.delete(session.userId, id);
        } catch (error) {
          if (error instanceof PensieveError && error.code === "not_found") return notFound(c, ctx);
          throw error;
        }
        return c.redirect("/dashboard", 303);
      }),
    )
    .get(
      "/dashboard/conversations/:id/download",
      signedIn(async (c, session, ctx) => {
        const id = idOf(c);
        const format = c.req.query("format") === "json" ? "json" : "markdown";
        // Streamed a page of messages at a time, like GET /api/export/{id}: never held whole.
        const body = UUID.test(id)
          ? await services.exporter.oneStream(session.userId, id, { format })
          : null;
        if (!body) return notFound(c, ctx);
        const name = `pensieve-${id}`;
        c.header("Cache-Control", "no-store");
        c.header("X-Content-Type-Options", "nosniff");
        c.header(
          "Content-Disposition",
          `attachment; filename="${name}.${format === "json" ? "json" : "md"}"`,
        );
        c.header(
          "Content-Type",
          format === "json" ? "application/json; charset=utf-8" : "text/markdown; charset=utf-8",
        );
        return c.body(body);
      }),
    )
    .get(
      "/settings",
      signedIn(async (c, session, ctx) =>
        send(c, renderPage(SettingsPage(ctx, await settingsState(session.userId))))
      ),
    )
    .post(
      "/settings/import",
      signedIn(async (c, session, ctx) => {
        // Two ways in: the island sends the file itself as the body with the token in a header
        // (streamed); without JavaScript, the form posts multipart (the browser's only way).
        const type = c.req.header("Content-Type") ?? "";
        const multipart = type.startsWith("multipart/form-data");
        let file: ReadableStream<Uint8Array> | null = null;
        let token: unknown = c.req.header("X-CSRF-Token");
        let name = "upload";
        if (multipart) {
          // Streamed like the API's upload; the CSRF field comes before the file in the form.
          try {
            const upload = await multipartFile(c.req.raw, { idleMs: UPLOAD_IDLE_MS });
            token = upload.fields.csrf;
            file = idleLimited(upload.stream, UPLOAD_IDLE_MS);
            name = upload.name ?? name;
          } catch (error) {
            if (!(error instanceof Invalid)) throw error;
            token = undefined;
            file = null;
          }
        } else {
          file = c.req.raw.body && idleLimited(c.req.raw.body, UPLOAD_IDLE_MS);
          name = c.req.query("name") ?? name;
        }
        if (!(await sessions.verify(c, session, token))) {
          if (!multipart) {
            return c.json({ error: { code: "forbidden", message: ctx.t.formExpired } }, 403);
          }
          return send(c, renderPage(MessagePage(ctx, ctx.t.formExpired, ctx.t.formExpired)), 403);
        }
        const state = await settingsState(session.userId);
        if (!file) {
          return send(c, renderPage(SettingsPage(ctx, { ...state, error: ctx.t.chooseFile })), 400);
        }
        try {
          const summary = await services.importer.import(session.userId, file, { name });
          if (!multipart) return c.json({ summary });
          return send(c, renderPage(SettingsPage(ctx, { ...state, imported: summary })));
        } catch (error) {
          if (!multipart) {
            return c.json({ error: { code: "invalid_request", message: wordsOf(error) } }, 400);
          }
          return send(c, renderPage(SettingsPage(ctx, { ...state, error: wordsOf(error) })), 400);
        }
      }),
    )
    .get(
      "/settings/export",
      signedIn((_c, session) => {
        const body = services.exporter.all(session.userId);
        const day = new Date().toISOString().slice(0, 10);
        return Promise.resolve(
          new Response(body, {
            headers: {
              "Content-Type": "application/json; charset=utf-8",
              "Content-Disposition": `attachment; filename="pensieve-export-${day}.json"`,
              "Cache-Control": "no-store",
            },
          }),
        );
      }),
    )
    .post(
      "/settings/tokens",
      signedInPost(async (c, session, ctx, form) => {
        const parsed = createTokenSchema.safeParse({ name: form.name });
        const state = await settingsState(session.userId);
        if (!parsed.success) {
          return send(
            c,
            renderPage(SettingsPage(ctx, { ...state, error: parsed.error.issues[0].message })),
            400,
          );
        }
        const created = await personalTokens.create(session.userId, { name: parsed.data.name });
        return send(
          c,
          renderPage(
            SettingsPage(ctx, {
              ...(await settingsState(session.userId)),
              newSecret: created.secret,
            }),
          ),
        );
      }),
    )
    .post(
      "/settings/tokens/:id/revoke",
      signedInPost(async (c, session) => {
        await personalTokens.revoke(session.userId, idOf(c)).catch((error) => {
          if (!(error instanceof PensieveError)) throw error;
        });
        return c.redirect("/settings", 303);
      }),
    )
    .post(
      "/settings/apps/:id/disconnect",
      signedInPost(async (c, session) => {
        await authorizationServer.disconnect(session.userId, idOf(c)).catch((error) => {
          if (!(error instanceof PensieveError)) throw error;
        });
        return c.redirect("/settings", 303);
      }),
    )
    .post(
      "/settings/password",
      signedInPost(async (c, session, ctx, form) => {
        const parsed = changePasswordSchema.safeParse({
          current_password: form.current_password,
          new_password: form.new_password,
        });
        try {
          if (!parsed.success) throw parsed.error;
          const renewed = await accounts.changePassword(
            session.userId,
            parsed.data.current_password,
            parsed.data.new_password,
            config.webSessionSeconds,
          );
          sessions.start(c, renewed.accessToken, renewed.expiresIn);
          const fresh = { token: renewed.accessToken, userId: session.userId };
          return send(
            c,
            renderPage(SettingsPage(await context(c, fresh), {
              ...(await settingsState(session.userId)),
              notice: ctx.t.passwordChanged,
            })),
          );
        } catch (error) {
          const words = parsed.success ? wordsOf(error) : parsed.error.issues[0].message;
          return send(
            c,
            renderPage(
              SettingsPage(ctx, { ...(await settingsState(session.userId)), error: words }),
            ),
            400,
          );
        }
      }),
    )
    .post(
      "/settings/delete-account",
      signedInPost(async (c, session, ctx, form) => {
        try {
          await accounts.deleteAccount(session.userId, String(form.password ?? ""));
        } catch (error) {
          return send(
            c,
            renderPage(
              SettingsPage(ctx, {
                ...(await settingsState(session.userId)),
                error: wordsOf(error),
              }),
            ),
            403,
          );
        }
        sessions.end(c);
        return c.redirect("/", 303);
      }),
    );
}
