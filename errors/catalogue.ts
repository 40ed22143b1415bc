/**
 * Warden's one error catalogue, shared by the HTTP routes and the socket paths.
 *
 * Every error has a stable `name` (what SocketCluster clients see as `error.name`), a stable
 * `code`, an HTTP status and a client-safe message. Only `name`, `message`, `code` and the
 * explicitly public `details` are own enumerable properties: SocketCluster serialises every own
 * enumerable property of an error passed to `action.block()` / `request.error()`, so internals
 * travel only as the standard, non-enumerable `cause`.
 *
 * @example
 *   throw new WardenError('PublishError', 'channel "a.b" is not in your publish claims');
 */
export const ERRORS = {
  LoginError: { code: 'LOGIN_FAILED', status: 401 },
  BadRequestError: { code: 'BAD_REQUEST', status: 400 },
  PayloadTooLargeError: { code: 'PAYLOAD_TOO_LARGE', status: 413 },
  UnsupportedMediaTypeError: { code: 'UNSUPPORTED_MEDIA_TYPE', status: 415 },
  RateLimitError: { code: 'RATE_LIMITED', status: 429 },
  AuthTokenMissingError: { code: 'TOKEN_MISSING', status: 401 },
  AuthTokenInvalidError: { code: 'TOKEN_INVALID', status: 401 },
  AuthTokenExpiredError: { code: 'TOKEN_EXPIRED', status: 401 },
  AuthTokenRevokedError: { code: 'TOKEN_REVOKED', status: 401 },
  TokenReuseError: { code: 'TOKEN_REUSED', status: 401 },
  SessionExpiredError: { code: 'SESSION_EXPIRED', status: 401 },
  PublishError: { code: 'PUBLISH_FORBIDDEN', status: 403 },
  SubscribeError: { code: 'SUBSCRIBE_FORBIDDEN', status: 403 },
  InvokeError: { code: 'INVOKE_FORBIDDEN', status: 403 },
  OriginError: { code: 'ORIGIN_FORBIDDEN', status: 403 },
  GatewayIdentityError: { code: 'GATEWAY_IDENTITY', status: 401 },
  NotFoundError: { code: 'NOT_FOUND', status: 404 },
  UserExistsError: { code: 'USER_EXISTS', status: 409 },
  /** Self-service registration refused: 400 (password rule), 403 (closed, invite), 409 (name taken). */
  RegistrationError: { code: 'REGISTRATION_REFUSED', status: 400 },
  UserNotFoundError: { code: 'USER_NOT_FOUND', status: 404 },
  RoleExistsError: { code: 'ROLE_EXISTS', status: 409 },
  RoleNotFoundError: { code: 'ROLE_NOT_FOUND', status: 404 },
  StoreUnavailableError: { code: 'STORE_UNAVAILABLE', status: 503 },
  ServiceUnavailableError: { code: 'SERVICE_UNAVAILABLE', status: 503 },
  InternalError: { code: 'INTERNAL', status: 500 },
} as const satisfies Record<string, { code: string; status: number }>;

export type WardenErrorName = keyof typeof ERRORS;
export type WardenErrorCode = (typeof ERRORS)[WardenErrorName]['code'];

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
