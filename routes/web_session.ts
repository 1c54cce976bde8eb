import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Config } from "../config.ts";
import { Hmac, randomSecret, timingSafeEqual } from "../core/secrets.ts";
import type { Services } from "../core/services.ts";
import type { AppEnv } from "./env.ts";

/** The signed-in browser: the token in its session cookie, and whose it is. */
export interface BrowserSession {
  token: string;
  userId: string;
}

/**
 * Browser sessions for the dashboard and the OAuth pages: an HttpOnly, SameSite=Lax cookie
 * holding a dashboard access token (never readable by scripts, never in localStorage), and CSRF
 * tokens derived from it with a server key.
 */
export class WebSessions {
  readonly cookieName: string;
  readonly #secure: boolean;
  readonly #hmac: Hmac;

  constructor(private readonly config: Config, private readonly services: Services) {
    this.#secure = config.publicUrl.startsWith("https:");
    this.cookieName = this.#secure ? "__Host-pensieve_session" : "pensieve_session";
    this.#hmac = new Hmac(config.jwtSecret!);
  }

  async current(c: Context<AppEnv>): Promise<BrowserSession | null> {
    const token = getCookie(c, this.cookieName);
    if (!token) return null;
    try {
      const principal = await this.services.authenticator.authenticate(token);
      c.set("principal", principal); // for the request log
      return { token, userId: principal.userId };
    } catch {
      return null;
    }
  }

  start(c: Context<AppEnv>, token: string, maxAgeSeconds: number): void {
    setCookie(c, this.cookieName, token, {
      httpOnly: true,
      secure: this.#secure,
      sameSite: "Lax",
      path: "/",
      maxAge: maxAgeSeconds,
    });
  }

  end(c: Context<AppEnv>): void {
    deleteCookie(c, this.cookieName, { path: "/", secure: this.#secure });
  }

  /**
   * The CSRF token of a form: bound to the session (or, before sign-in, to a random cookie of
   * its own) and to what the form is for.
   */
  csrfToken(
    c: Context<AppEnv>,
    session: BrowserSession | null,
    purpose = "form",
  ): Promise<string> {
    return this.#mac(`${purpose}\n${session ? session.token : this.#anonymous(c)}`);
  }

  /** Whether a state-changing request came from our own page: same origin and a valid token. */
  async verify(
    c: Context<AppEnv>,
    session: BrowserSession | null,
    submitted: unknown,
    purpose = "form",
  ): Promise<boolean> {
    const origin = c.req.header("Origin");
    // "null" is what a browser sends when it will not say; the token decides then.
    if (origin && origin !== "null" && origin !== this.config.publicUrl) return false;
    if (typeof submitted !== "string" || submitted.length === 0) return false;
    const anonymous = session ? null : getCookie(c, ANON_COOKIE);
    if (!session && !anonymous) return false;
    const expected = await this.#mac(`${purpose}\n${session ? session.token : anonymous}`);
    return timingSafeEqual(submitted, expected);
  }

  /** The pre-sign-in CSRF cookie, set on first sight. */
  #anonymous(c: Context<AppEnv>): string {
    let value = getCookie(c, ANON_COOKIE);
    if (!value) {
      value = randomSecret();
      setCookie(c, ANON_COOKIE, value, {
        httpOnly: true,
        secure: this.#secure,
        sameSite: "Lax",
        path: "/",
      });
    }
    return value;
  }

  #mac(text: string): Promise<string> {
    return this.#hmac.sign(text);
  }
}

const ANON_COOKIE = "pensieve_csrf";
