/**
 * What a log line may carry: secrets removed, errors made plain. Applied to every field of every
 * line before pino sees it, so that no call site can leak a secret by passing the wrong object.
 *
 * Two nets: a field whose name says it holds a secret (`password`, `token`, `cookie`, ...) loses
 * its value whatever it is, and any string that looks like a JWT (three base64url parts, the
 * first a JSON header: `eyJ...`) is cut out of every string, messages and error texts included.
 */

const REDACTED = '[redacted]';

/**
 * Field names whose value is a secret. Matched on the name's words, so `password`, `newPassword`,
 * `accessToken`, `logout_token`, `authorization` and `set-cookie` are caught, and `tokenKind` or
 * `tokensValidFrom` are not (they are not exact words at the end).
 */
const SECRET_WORDS = 'password|passwd|secret|token|ticket|cookie|authorization|key|code|invite|credentials?';
const SECRET_NAME = new RegExp(`(?:^|[_-])(?:${SECRET_WORDS})$`, 'i');
/** camelCase: a lower-case letter, then the word capitalised (`accessToken`, not `monkey`). */
const SECRET_CAMEL = new RegExp(
  `[a-z](?:${SECRET_WORDS.replace(/(^|\|)([a-z])/g, (_m, bar: string, c: string) => bar + c.toUpperCase())})$`,
);

/** JWT-shaped: base64url header starting `{"`, payload, and a signature part (possibly empty). */
const JWT = /eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*/g;

const MAX_DEPTH = 5;
const MAX_ARRAY = 50;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) || SECRET_CAMEL.test(name);
}

/** A string with every JWT-shaped part replaced. */
export function scrubText(text: string): string {
  return text.includes('eyJ') ? text.replace(JWT, REDACTED) : text;
}

export interface SerializedError {
  type: string;
  message: string;
  code?: string;
  reason?: string;
  stack?: string;
  cause?: SerializedError | string;
  errors?: Array<SerializedError | string>;
}

/**
 * An error as a plain object: name, message, code, stack, and its `cause` chain (which Warden's
 * boundary errors use to keep the driver's error: "the user store is unavailable" says why).
 * Other own properties are left out: a driver's error may carry the query or its parameters.
 */
export function serializeError(error: Error, depth = 0): SerializedError {
  const out: SerializedError = { type: error.name, message: scrubText(error.message) };
  const { code, reason } = error as { code?: unknown; reason?: unknown };
  if (typeof code === 'string' || typeof code === 'number') out.code = String(code);
  if (typeof reason === 'string') out.reason = reason;
  if (typeof error.stack === 'string') out.stack = scrubText(error.stack);
  if (error.cause !== undefined && depth < MAX_DEPTH) {
    out.cause =
      error.cause instanceof Error ? serializeError(error.cause, depth + 1) : scrubText(String(error.cause));
  }
  if (error instanceof AggregateError && depth < MAX_DEPTH) {
    out.errors = error.errors
      .slice(0, 10)
      .map((each: unknown) =>
        each instanceof Error ? serializeError(each, depth + 1) : scrubText(String(each)),
      );
  }
  return out;
}

/** A field value made safe to log (see the module comment). */
export function sanitizeValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object') {
    return typeof value === 'bigint' ? String(value) : typeof value === 'function' ? undefined : value;
  }
  if (value instanceof Error) return serializeError(value);
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (Array.isArray(value)) return value.slice(0, MAX_ARRAY).map((each) => sanitizeValue(each, depth + 1));
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return REDACTED;
  const out: Record<string, unknown> = {};
  for (const [key, each] of Object.entries(value)) {
    out[key] = isSecretName(key) && !isHarmless(each) ? REDACTED : sanitizeValue(each, depth + 1);
  }
  return out;
}

/** Booleans, numbers and null under a secret-sounding name say nothing secret (`token: false`). */
function isHarmless(value: unknown): boolean {
  return value === null || value === undefined || typeof value === 'boolean' || typeof value === 'number';
}

/** Every field of a log line made safe; `reserved` names (the line's own keys) get a `_` suffix. */
export function sanitizeFields(
  fields: Record<string, unknown>,
  reserved: ReadonlySet<string>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    const name = reserved.has(key) ? `${key}_` : key;
    out[name] = isSecretName(key) && !isHarmless(value) ? REDACTED : sanitizeValue(value);
  }
  return out;
}
