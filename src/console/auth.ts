import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Who may use the console: whoever opened the URL it printed. The login token in that URL
 * is made fresh for each run and traded, on first use in a browser, for a session cookie
 * (HttpOnly, SameSite=Strict), so it leaves the address bar and the history at once. Every
 * session has its own CSRF token, which every form carries and every POST must return.
 *
 * Secrets are compared in constant time (SHA-256 of both sides, then timingSafeEqual, so
 * neither content nor length leaks through timing). The login token is never logged: it
 * appears only in the URL printed once at start.
 */
export interface ConsoleSession {
  csrf: string;
}

/** Sessions kept at once; the oldest is forgotten first (its browser logs in again with the URL). */
const MAX_SESSIONS = 100;

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

/** Constant-time equality of two secrets of any length. */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export class ConsoleAuth {
  private readonly sessions = new Map<string, ConsoleSession>();

  constructor(readonly loginToken: string = randomBytes(24).toString("base64url")) {}

  tokenMatches(candidate: string): boolean {
    return secretsEqual(candidate, this.loginToken);
  }

  /** A new session; returns the cookie value (kept only as its hash here). */
  login(): { cookie: string; session: ConsoleSession } {
    const cookie = randomBytes(32).toString("base64url");
    const session = { csrf: randomBytes(32).toString("base64url") };
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value ?? "");
    this.sessions.set(digest(cookie).toString("hex"), session);
    return { cookie, session };
  }

  /** The session a session cookie's value names, if any. */
  sessionOf(cookie: string | undefined): ConsoleSession | undefined {
    return cookie === undefined ? undefined : this.sessions.get(digest(cookie).toString("hex"));
  }

  csrfMatches(session: ConsoleSession, candidate: string | undefined): boolean {
    return candidate !== undefined && secretsEqual(candidate, session.csrf);
  }
}
