import { ERRORS, type WardenErrorCode, type WardenErrorName } from '../client/src/protocol.ts';

/**
 * Warden's one error catalogue, shared by the HTTP routes and the socket paths.
 *
 * Every error has a stable `name` (what SocketCluster clients see as `error.name`), a stable
 * `code`, an HTTP status and a client-safe message. Only `name`, `message`, `code` and the
 * explicitly public `details` are own enumerable properties: SocketCluster serialises every own
 * enumerable property of an error passed to `action.block()` / `request.error()`, so internals
 * travel only as the standard, non-enumerable `cause`.
 *
 * The table of names, codes and statuses is in the protocol module the client package shares
 * (client/src/protocol.ts): the browser and Node clients read the same names.
 *
 * @example
 *   throw new WardenError('PublishError', 'channel "a.b" is not in your publish claims');
 */
export { ERRORS, type WardenErrorName, type WardenErrorCode };

/** Public extra fields a client may act on (e.g. `retryAfter` seconds for a rate limit). */
export interface ErrorDetails {
  retryAfter?: number;
  reason?: string;
}

export class WardenError extends Error {
  override readonly name: WardenErrorName;
  readonly code: WardenErrorCode;
  declare readonly status: number;
  declare readonly isBadToken: boolean;

  constructor(
    name: WardenErrorName,
    message: string,
    /** `status` overrides the catalogue's for the errors that document several (RegistrationError). */
    options?: { cause?: unknown; details?: ErrorDetails; status?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = name;
    this.code = ERRORS[name].code;
    if (options?.details?.retryAfter !== undefined) this.retryAfter = options.details.retryAfter;
    if (options?.details?.reason !== undefined) this.reason = options.details.reason;
    // Not serialised to clients: HTTP status and SocketCluster's "bad token" flag, which makes SC
    // tell the client to drop a token it should never send again.
    Object.defineProperty(this, 'status', {
      value: options?.status ?? ERRORS[name].status,
      enumerable: false,
    });
    Object.defineProperty(this, 'isBadToken', {
      value: name.startsWith('AuthToken') || name === 'TokenReuseError' || name === 'SessionExpiredError',
      enumerable: false,
    });
  }

  retryAfter?: number;
  reason?: string;

  /** The JSON body of an HTTP error response. */
  toJSON(): { error: { name: string; code: string; message: string; retryAfter?: number; reason?: string } } {
    return {
      error: {
        name: this.name,
        code: this.code,
        message: this.message,
        ...(this.retryAfter === undefined ? {} : { retryAfter: this.retryAfter }),
        ...(this.reason === undefined ? {} : { reason: this.reason }),
      },
    };
  }
}

export function isWardenError(value: unknown): value is WardenError {
  return value instanceof WardenError;
}

/**
 * Converts anything thrown below a boundary (driver, library) into a WardenError. Unknown errors
 * become InternalError with a generic message; the original is kept only as `cause`.
 */
export function toWardenError(error: unknown): WardenError {
  if (error instanceof WardenError) return error;
  return new WardenError('InternalError', 'internal server error', { cause: error });
}
