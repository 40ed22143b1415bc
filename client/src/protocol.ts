/**
 * The wire vocabulary Warden's server and its clients share: error names and codes, WebSocket
 * close codes, the event that says why a socket's authentication ended, and the storage key of the
 * browser's token. The server's error catalogue (errors/catalogue.ts) and close-code list
 * (errors/close-codes.ts) are built on this module, and the client package exports it, so a name
 * or a code exists exactly once.
 *
 * No imports and no runtime dependencies: it is bundled into the browser client as it is.
 */

/**
 * Every error Warden sends, by `name` (what a client sees as `error.name`): its stable `code` and
 * the HTTP status the server answers with.
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

/**
 * Every WebSocket close code Warden sends, in one place.
 *
 * SocketCluster reserves 4000-4009 (4000 server ping timeout, 4001 client pong timeout, 4002 token
 * signing failure, 4005 handshake timeout, ...), so Warden's own codes live in 4100-4199
 * (client reconnects after its back-off) and 4500+ (socketcluster-client never reconnects).
 */
export const CloseCodes = {
  /**
   * The worker is draining (SIGTERM, rolling update). Reconnect elsewhere soon. A stock
   * socketcluster-client reconnects at once only after 4000/4001/1005; Warden's client tunes its
   * back-off so that this code means a reconnect within about a second.
   */
  WORKER_DRAINING: 4100,
  /** The socket stayed over SOCKET_RATE_LIMIT for 5 s: it is flooding, not bursting. */
  RATE_LIMITED: 4129,
  /** MAX_CONNECTIONS_PER_ADDRESS sockets from this client address are already open on this worker. */
  TOO_MANY_CONNECTIONS: 4130,
  /** Still unauthenticated UNAUTHENTICATED_TIMEOUT after connecting or after losing its authentication. */
  UNAUTHENTICATED_TIMEOUT: 4131,
  /** The client broke the SocketCluster protocol (e.g. a second #handshake on one socket). */
  PROTOCOL_VIOLATION: 4140,
  /** The handshake came from an Origin outside ALLOWED_ORIGINS: retrying cannot help. */
  ORIGIN_FORBIDDEN: 4503,
  /**
   * The trusted gateway passed an upgrade on without an identity (GATEWAY_UNAUTH_ACTION=deny) or
   * with one that cannot be read: reconnecting through the same gateway cannot help until the
   * user has logged in there.
   */
  GATEWAY_IDENTITY_REQUIRED: 4510,
} as const;

export type CloseCode = (typeof CloseCodes)[keyof typeof CloseCodes];

/** Close codes after which reconnecting cannot help (socketcluster-client never retries >= 4500). */
export function isTerminalCloseCode(code: number): boolean {
  return code >= 4500;
}

/**
 * The event the server transmits to a socket when it ends that socket's authentication
 * (SocketCluster's own deauthentication carries no reason).
 */
export const AUTH_ENDED_EVENT = 'warden:authEnded';

/**
 * Why an authentication ended, as `reason` in the AUTH_ENDED_EVENT payload:
 * - `logout`: this client logged out;
 * - `logout-elsewhere`: the token was logged out by another holder (another tab, `POST /auth/logout`);
 * - `revoked`: an operator revoked the user's tokens, or a replaced token was used again;
 * - `expired`: the token expired without being renewed;
 * - `session-ended`: the session reached its maximum age or idle limit, or its identity provider ended it;
 * - `disabled`: the account was disabled or removed.
 */
export const AUTH_ENDED_REASONS = [
  'logout',
  'logout-elsewhere',
  'revoked',
  'expired',
  'session-ended',
  'disabled',
] as const;

export type AuthEndedReason = (typeof AUTH_ENDED_REASONS)[number];

/** What the server transmits with AUTH_ENDED_EVENT. */
export interface AuthEndedPayload {
  readonly name: WardenErrorName;
  readonly code: WardenErrorCode;
  readonly message: string;
  readonly reason: AuthEndedReason;
}

export function isAuthEndedReason(value: unknown): value is AuthEndedReason {
  return typeof value === 'string' && (AUTH_ENDED_REASONS as readonly string[]).includes(value);
}

/**
 * Event naming the worker that serves a connection, sent to each new socket outside production
 * (`{worker}`): the demo page shows a reconnect landing on another worker.
 */
export const HELLO_EVENT = 'warden:hello';

/**
 * Event telling a socket authenticated by the HttpOnly session cookie who it is (`{claims}`, the
 * claims its token holds): the page never receives the cookie's token itself, so a stock
 * socketcluster-client does not write one to localStorage.
 */
export const SESSION_EVENT = 'warden:session';

/**
 * The localStorage key of the browser's token. socketcluster-client 20 would otherwise derive a
 * host-specific key (`socketcluster.authToken.<host>:<port>`).
 */
export const AUTH_TOKEN_NAME = 'socketcluster.authToken';
