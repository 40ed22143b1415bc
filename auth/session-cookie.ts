/** The name of the session cookie (AUTH_COOKIE=on). */
export const SESSION_COOKIE = 'warden_session';

/** A Warden token's characters: what a cookie value must be to be read at all. */
const TOKEN_CHARS = /^[A-Za-z0-9_.-]{1,8192}$/;

/**
 * The session cookie's value in a Cookie header, or undefined. Only the first `warden_session`
 * counts (RFC 6265 §5.4 sends the most specific path first; Warden sets only Path=/).
 */
export function readSessionCookie(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    const value = part.slice(eq + 1).trim();
    return TOKEN_CHARS.test(value) ? value : undefined;
  }
  return undefined;
}

export interface SessionCookieOptions {
  /** Plain http on localhost only: browsers refuse to store a Secure cookie from other http pages. */
  readonly secure: boolean;
}

/**
 * Whether the cookie is Secure: always, unless the server's own origin (PUBLIC_URL, or the
 * localhost default when it is not set) is plain http on localhost.
 */
export function cookieIsSecure(publicUrl: string | null): boolean {
  if (publicUrl === null) return false;
  const url = new URL(publicUrl);
  const local = url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
  return !(url.protocol === 'http:' && local);
}

/**
 * The Set-Cookie value for a session token: HttpOnly (no script reads it), SameSite=Strict (no
 * other site's request carries it), Path=/, Max-Age the token's remaining life.
 *
 * @example
 *   response.setHeader('Set-Cookie', sessionCookie(token, 3600, { secure: true }));
 */
export function sessionCookie(token: string, maxAgeSeconds: number, options: SessionCookieOptions): string {
  const secure = options.secure ? '; Secure' : '';
  return `${SESSION_COOKIE}=${token}; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; Path=/; HttpOnly; SameSite=Strict${secure}`;
}

/** The Set-Cookie value that deletes the session cookie. */
export function clearedSessionCookie(options: SessionCookieOptions): string {
  const secure = options.secure ? '; Secure' : '';
  return `${SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict${secure}`;
}

export interface CookieOriginOptions {
  /** ALLOWED_ORIGINS (or PUBLIC_URL's origin); null: the server's own origins. */
  readonly allowedOrigins: readonly string[] | null;
  readonly ownOrigins: () => readonly string[];
}

/**
 * Whether a request with this Origin header may be authenticated by the session cookie. The
 * browser sends the cookie with a WebSocket upgrade from any page (SameSite does not help when
 * the attacker's page is same-site, e.g. another port of the same host), so the Origin decides:
 * it must be named in the allow-list. A missing Origin is refused (every browser sends one on an
 * upgrade and on a cross-origin POST), and `*` in ALLOWED_ORIGINS does not extend to cookies.
 */
export function createCookieOriginCheck(
  options: CookieOriginOptions,
): (origin: string | undefined) => boolean {
  const allowed = options.allowedOrigins === null ? null : new Set(options.allowedOrigins);
  return (origin) => {
    if (origin === undefined || origin === '*') return false;
    return allowed === null ? options.ownOrigins().includes(origin) : allowed.has(origin);
  };
}
