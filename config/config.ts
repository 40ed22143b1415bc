import { isIP } from 'node:net';
import { z } from 'zod';
import { ASYMMETRIC_ALGORITHMS } from '../auth/oidc-verifier.ts';
import { patternProblem } from '../auth/patterns.ts';

/**
 * Warden's configuration, parsed once from the environment into a frozen, typed object.
 * Every variable is validated; a bad value throws a ConfigError that names the variable.
 * Secrets are resolved separately (see secrets.ts) because that step touches the file system.
 *
 * @example
 *   const config = parseConfig(process.env, { authKey: 'k'.repeat(32), sccAuthKey: 's'.repeat(32) });
 */
export interface Config {
  readonly nodeEnv: 'development' | 'production' | 'test';
  readonly production: boolean;
  readonly port: number;
  readonly host: string;
  readonly workers: number;
  readonly brokers: number;
  readonly databaseUrl: string;
  readonly dataDir: string;
  /** Shared HS256 key; its UTF-8 bytes are the HMAC key, as with SocketCluster's `authKey`. */
  readonly authKey: string;
  readonly tokenTtl: number;
  readonly tokenRenewInterval: number;
  /** How long a replaced token is still accepted (a reconnect racing its renewal). */
  readonly tokenReuseGrace: number;
  readonly sessionMaxAge: number;
  readonly sessionIdleTimeout: number | null;
  /**
   * Origins allowed in WebSocket handshakes and browser requests: ALLOWED_ORIGINS, else
   * PUBLIC_URL's origin. `null` means neither is set: only `http://localhost:PORT` and
   * `http://127.0.0.1:PORT` of the port the worker listens on. The Host header never decides.
   */
  readonly allowedOrigins: readonly string[] | null;
  /** The origin browsers use (PUBLIC_URL), or null. */
  readonly publicUrl: string | null;
  /** Addresses or CIDRs of reverse proxies whose X-Forwarded-For is believed (TRUST_PROXY). */
  readonly trustProxy: readonly string[];
  readonly maxPayload: number;
  readonly maxChannelsPerSocket: number;
  /** Failed logins per client address (all usernames) per window: LOGIN_RATE_LIMIT/_WINDOW. */
  readonly loginRateLimit: { readonly max: number; readonly windowSeconds: number };
  /** Failed logins per (username, address) pair and per username, in LOGIN_FAILURE_WINDOW. */
  readonly loginFailureLimit: {
    readonly perPair: number;
    readonly perAccount: number;
    readonly windowSeconds: number;
  };
  /** Inbound actions per second per socket (burst: twice that). */
  readonly socketRateLimit: number;
  /** Open sockets per client address per worker. */
  readonly maxConnectionsPerAddress: number;
  /** Seconds a socket may stay unauthenticated before it is closed. */
  readonly unauthenticatedTimeout: number;
  /** Where the state server and brokers listen (SCC_BIND_HOST, default HOST). */
  readonly sccBindHost: string;
  /** Shortest password the CLI and registration accept. */
  readonly passwordMinLength: number;
  /** Lifetime of a ticket or auth code, seconds (TICKET_TTL). */
  readonly ticketTtl: number;
  /** Browser logins also set the `warden_session` cookie, which the handshake accepts (AUTH_COOKIE=on). */
  readonly authCookie: boolean;
  /** Self-service registration (REGISTRATION): closed, open, or with an invite only. */
  readonly registration: 'closed' | 'open' | 'invite';
  /** Roles of a user who registers (REGISTRATION_ROLES). */
  readonly registrationRoles: readonly string[];
  /** OpenID Connect (OIDC_*): null unless OIDC_ISSUER is set. */
  readonly oidc: OidcConfig | null;
  /** Identity passed on by a trusted gateway (GATEWAY_*): null unless GATEWAY_IDENTITY_HEADER is set. */
  readonly gateway: GatewayConfig | null;
  /** What unauthenticated sockets may do (ANONYMOUS=on with ANONYMOUS_*); null: nothing (off). */
  readonly anonymous: AnonymousConfig | null;
  readonly sccStateServerHost: string;
  readonly sccStateServerPort: number;
  readonly sccBrokerServerPort: number;
  readonly sccAuthKey: string;
  /** The address brokers and workers announce to the state server; null: the one it sees. */
  readonly sccInstanceIp: string | null;
  /**
   * Milliseconds a worker gathers its publishes per channel before sending them to the channel's
   * broker as one packet (SCC_PUB_SUB_BATCH_DURATION); null sends each at once.
   */
  readonly sccPubSubBatchDuration: number | null;
  /** Longest a draining worker waits for in-flight RPCs before closing its sockets, seconds. */
  readonly shutdownTimeout: number;
  readonly revocationPollInterval: number;
  /** log2 of scrypt's N for new password hashes. */
  readonly passwordHashCost: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** LOG_FORMAT: JSON lines, or a human-readable rendering of them (the default on a terminal). */
  readonly logFormat: 'json' | 'pretty';
  /** METRICS_PORT: where `GET /metrics` listens (on HOST); null when 0 (off). */
  readonly metricsPort: number | null;
}

export interface OidcConfig {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly jwksUri: string | null;
  readonly algorithms: readonly string[];
  readonly usernameClaim: string;
  readonly rolesClaim: string;
  readonly clockTolerance: number;
}

export interface GatewayConfig {
  /** The identity header, lower-cased as Node keys request headers (e.g. `x-userinfo`). */
  readonly identityHeader: string;
  /** Addresses or CIDRs of the gateway: the TCP peer must be one of them. */
  readonly trustedProxies: readonly string[];
  /** The header carrying the shared secret (lower-cased), or null when no secret is required. */
  readonly secretHeader: string | null;
  readonly secret: string | null;
  /** A trusted gateway's upgrade without identity: refused (`deny`) or admitted unauthenticated. */
  readonly unauthAction: 'deny' | 'pass';
  /** Where the username and the roles are in the identity (OIDC_USERNAME_CLAIM, OIDC_ROLES_CLAIM). */
  readonly usernameClaim: string;
  readonly rolesClaim: string;
}

/** The patterns an unauthenticated socket holds when ANONYMOUS=on. */
export interface AnonymousConfig {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  readonly invoke: readonly string[];
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly variable: string;

  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.variable = variable;
  }
}

const MIN_KEY_BYTES = 32;

const intIn = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const port = intIn(0, 65535);
const seconds = intIn(1, 365 * 24 * 3600);

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: port.default(8000),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  WORKERS: intIn(1, 256).default(2),
  BROKERS: intIn(1, 64).default(1),
  DATABASE_URL: z
    .string()
    .trim()
    .refine(
      (v) => /^sqlite:.+/.test(v) || /^mysql:\/\/.+/.test(v),
      'must be sqlite:PATH or mysql://user:pass@host:port/db',
    )
    .default('sqlite:./data/warden.db'),
  DATA_DIR: z.string().trim().min(1).default('./data'),
  TOKEN_TTL: seconds.default(3600),
  TOKEN_RENEW_INTERVAL: seconds.default(1800),
  TOKEN_REUSE_GRACE: intIn(1, 300).default(10),
  SESSION_MAX_AGE: seconds.default(12 * 3600),
  SESSION_IDLE_TIMEOUT: seconds.optional(),
  ALLOWED_ORIGINS: z.string().trim().optional(),
  WS_MAX_PAYLOAD: intIn(1024, 16 * 1024 * 1024).default(64 * 1024),
  MAX_CHANNELS_PER_SOCKET: intIn(1, 100000).default(1000),
  LOGIN_RATE_LIMIT: intIn(1, 1_000_000).default(60),
  LOGIN_RATE_WINDOW: seconds.default(60),
  LOGIN_FAILURE_LIMIT: intIn(1, 1_000_000).default(5),
  LOGIN_FAILURE_WINDOW: seconds.default(900),
  LOGIN_ACCOUNT_FAILURE_LIMIT: intIn(1, 1_000_000).default(100),
  TRUST_PROXY: z.string().trim().optional(),
  PUBLIC_URL: z.string().trim().optional(),
  SOCKET_RATE_LIMIT: intIn(1, 1_000_000).default(200),
  MAX_CONNECTIONS_PER_ADDRESS: intIn(1, 1_000_000).default(500),
  UNAUTHENTICATED_TIMEOUT: seconds.default(30),
  SCC_BIND_HOST: z.string().trim().min(1).optional(),
  PASSWORD_MIN_LENGTH: intIn(1, 1024).default(10),
  TICKET_TTL: intIn(1, 600).default(30),
  AUTH_COOKIE: z.enum(['off', 'on']).default('off'),
  REGISTRATION: z.enum(['closed', 'open', 'invite']).default('closed'),
  REGISTRATION_ROLES: z.string().trim().default('user'),
  OIDC_ISSUER: z.string().trim().optional(),
  OIDC_AUDIENCE: z.string().trim().optional(),
  OIDC_JWKS_URI: z.string().trim().optional(),
  OIDC_ALGORITHMS: z.string().trim().default('RS256,PS256,ES256'),
  OIDC_USERNAME_CLAIM: z.string().trim().min(1).default('preferred_username'),
  OIDC_ROLES_CLAIM: z.string().trim().min(1).default('realm_access.roles'),
  OIDC_CLOCK_TOLERANCE: intIn(0, 600).default(30),
  GATEWAY_IDENTITY_HEADER: z.string().trim().optional(),
  GATEWAY_TRUSTED_PROXIES: z.string().trim().optional(),
  GATEWAY_SECRET_HEADER: z.string().trim().optional(),
  // No schema checks on the secret itself: a refusal message quotes the value it got.
  GATEWAY_SECRET: z.string().optional(),
  GATEWAY_UNAUTH_ACTION: z.enum(['deny', 'pass']).default('deny'),
  ANONYMOUS: z.enum(['off', 'on']).default('off'),
  ANONYMOUS_SUBSCRIBE: z.string().trim().optional(),
  ANONYMOUS_PUBLISH: z.string().trim().optional(),
  ANONYMOUS_INVOKE: z.string().trim().optional(),
  SCC_STATE_SERVER_HOST: z.string().trim().min(1).default('127.0.0.1'),
  SCC_STATE_SERVER_PORT: port.default(7777),
  SCC_BROKER_SERVER_PORT: port.default(8888),
  SCC_INSTANCE_IP: z.string().trim().min(1).optional(),
  SCC_PUB_SUB_BATCH_DURATION: intIn(0, 1000).default(5),
  SHUTDOWN_TIMEOUT: intIn(1, 600).default(20),
  REVOCATION_POLL_INTERVAL: intIn(50, 60000).default(50),
  PASSWORD_HASH_COST: intIn(14, 20).default(17),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  METRICS_PORT: port.default(9464),
});

export interface ResolvedSecrets {
  authKey: string;
  sccAuthKey: string;
}

function parseOrigins(raw: string | undefined, variable: string): readonly string[] | null {
  if (raw === undefined || raw === '') return null;
  const origins = raw
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  for (const origin of origins) {
    if (origin === '*') continue;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new ConfigError(variable, `"${origin}" is not an origin like https://app.example.com`);
    }
    if (url.origin !== origin.replace(/\/$/, '')) {
      throw new ConfigError(variable, `"${origin}" must be scheme://host[:port] with no path`);
    }
  }
  return Object.freeze(origins.map((o) => o.replace(/\/$/, '')));
}

/** Parses TRUST_PROXY (or `variable`): addresses (IPv4/IPv6) or CIDRs, comma-separated. */
function parseTrustProxy(raw: string | undefined, variable = 'TRUST_PROXY'): readonly string[] {
  if (raw === undefined || raw === '') return Object.freeze([]);
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  for (const entry of entries) {
    const [address, bits, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const max = family === 4 ? 32 : 128;
    const validBits = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max);
    if (family === 0 || !validBits || extra !== undefined) {
      throw new ConfigError(variable, `"${entry}" is not an IP address or CIDR like 10.0.0.0/8`);
    }
  }
  return Object.freeze(entries);
}

function parsePublicUrl(raw: string | undefined): string | null {
  if (raw === undefined || raw === '') return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('PUBLIC_URL', `"${raw}" is not a URL like https://rt.example.com`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError('PUBLIC_URL', `"${raw}" must be an http:// or https:// URL`);
  }
  return url.origin;
}

function httpsOrLocalUrl(variable: string, raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(variable, `"${raw}" is not a URL`);
  }
  const local = url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
    throw new ConfigError(variable, `"${raw}" must be https:// (plain http only on localhost)`);
  }
  return raw.replace(/\/$/, '');
}

interface OidcEnv {
  OIDC_ISSUER?: string | undefined;
  OIDC_AUDIENCE?: string | undefined;
  OIDC_JWKS_URI?: string | undefined;
  OIDC_ALGORITHMS: string;
  OIDC_USERNAME_CLAIM: string;
  OIDC_ROLES_CLAIM: string;
  OIDC_CLOCK_TOLERANCE: number;
}

function parseOidc(v: OidcEnv): OidcConfig | null {
  if (v.OIDC_ISSUER === undefined) return null;
  const issuer = httpsOrLocalUrl('OIDC_ISSUER', v.OIDC_ISSUER);
  const audiences = (v.OIDC_AUDIENCE ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  if (audiences.length === 0) throw new ConfigError('OIDC_AUDIENCE', 'is required with OIDC_ISSUER');
  const algorithms = v.OIDC_ALGORITHMS.split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  for (const algorithm of algorithms) {
    // Asymmetric only: an IdP's public key must never serve as an HMAC secret.
    if (!ASYMMETRIC_ALGORITHMS.has(algorithm))
      throw new ConfigError(
        'OIDC_ALGORITHMS',
        `"${algorithm}" is not an asymmetric JWS algorithm (HMAC and none are never accepted)`,
      );
  }
  if (algorithms.length === 0) throw new ConfigError('OIDC_ALGORITHMS', 'must name at least one algorithm');
  return Object.freeze({
    issuer,
    audiences: Object.freeze(audiences),
    jwksUri: v.OIDC_JWKS_URI === undefined ? null : httpsOrLocalUrl('OIDC_JWKS_URI', v.OIDC_JWKS_URI),
    algorithms: Object.freeze(algorithms),
    usernameClaim: v.OIDC_USERNAME_CLAIM,
    rolesClaim: v.OIDC_ROLES_CLAIM,
    clockTolerance: v.OIDC_CLOCK_TOLERANCE,
  });
}

/** An HTTP header name (RFC 9110 §5.6.2 token). */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

function headerName(variable: string, raw: string): string {
  if (!HEADER_NAME.test(raw)) throw new ConfigError(variable, `"${raw}" is not an HTTP header name`);
  return raw.toLowerCase();
}

interface GatewayEnv {
  GATEWAY_IDENTITY_HEADER?: string | undefined;
  GATEWAY_TRUSTED_PROXIES?: string | undefined;
  GATEWAY_SECRET_HEADER?: string | undefined;
  GATEWAY_SECRET?: string | undefined;
  GATEWAY_UNAUTH_ACTION: 'deny' | 'pass';
  OIDC_USERNAME_CLAIM: string;
  OIDC_ROLES_CLAIM: string;
}

function parseGateway(v: GatewayEnv): GatewayConfig | null {
  const secretHeader =
    v.GATEWAY_SECRET_HEADER === undefined
      ? null
      : headerName('GATEWAY_SECRET_HEADER', v.GATEWAY_SECRET_HEADER);
  const secret = v.GATEWAY_SECRET ?? null;
  if (v.GATEWAY_IDENTITY_HEADER === undefined) {
    for (const name of ['GATEWAY_TRUSTED_PROXIES', 'GATEWAY_SECRET_HEADER', 'GATEWAY_SECRET'] as const) {
      if (v[name] !== undefined) throw new ConfigError(name, 'is used only with GATEWAY_IDENTITY_HEADER');
    }
    return null;
  }
  const identityHeader = headerName('GATEWAY_IDENTITY_HEADER', v.GATEWAY_IDENTITY_HEADER);
  const trustedProxies = parseTrustProxy(v.GATEWAY_TRUSTED_PROXIES, 'GATEWAY_TRUSTED_PROXIES');
  // Without it any client could name itself: the header would be trusted from everyone.
  if (trustedProxies.length === 0)
    throw new ConfigError('GATEWAY_TRUSTED_PROXIES', 'is required with GATEWAY_IDENTITY_HEADER');
  if ((secretHeader === null) !== (secret === null))
    throw new ConfigError(
      secretHeader === null ? 'GATEWAY_SECRET_HEADER' : 'GATEWAY_SECRET',
      'GATEWAY_SECRET_HEADER and GATEWAY_SECRET are set together or not at all',
    );
  if (secret !== null && Buffer.byteLength(secret, 'utf8') < MIN_KEY_BYTES)
    throw new ConfigError('GATEWAY_SECRET', `must be at least ${MIN_KEY_BYTES} bytes`);
  if (secretHeader === identityHeader)
    throw new ConfigError('GATEWAY_SECRET_HEADER', 'must differ from GATEWAY_IDENTITY_HEADER');
  return Object.freeze({
    identityHeader,
    trustedProxies,
    secretHeader,
    secret,
    unauthAction: v.GATEWAY_UNAUTH_ACTION,
    usernameClaim: v.OIDC_USERNAME_CLAIM,
    rolesClaim: v.OIDC_ROLES_CLAIM,
  });
}

/** Comma-separated patterns; those starting with # name SocketCluster's own channels and are refused. */
function parsePatterns(variable: string, raw: string | undefined): readonly string[] {
  const patterns = (raw ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  for (const pattern of patterns) {
    const problem = pattern.startsWith('#') ? 'starts with # (reserved)' : patternProblem(pattern);
    if (problem !== null) throw new ConfigError(variable, `pattern "${pattern}" ${problem}`);
  }
  return Object.freeze(patterns);
}

function parseAnonymous(v: {
  ANONYMOUS: 'off' | 'on';
  ANONYMOUS_SUBSCRIBE?: string | undefined;
  ANONYMOUS_PUBLISH?: string | undefined;
  ANONYMOUS_INVOKE?: string | undefined;
}): AnonymousConfig | null {
  const anonymous = Object.freeze({
    subscribe: parsePatterns('ANONYMOUS_SUBSCRIBE', v.ANONYMOUS_SUBSCRIBE),
    publish: parsePatterns('ANONYMOUS_PUBLISH', v.ANONYMOUS_PUBLISH),
    invoke: parsePatterns('ANONYMOUS_INVOKE', v.ANONYMOUS_INVOKE),
  });
  return v.ANONYMOUS === 'on' ? anonymous : null;
}

/** Comma-separated role names, each as `warden role add` takes them. */
function parseRoles(variable: string, raw: string): readonly string[] {
  const roles = raw
    .split(',')
    .map((role) => role.trim())
    .filter((role) => role !== '');
  for (const role of roles) {
    if (!/^[A-Za-z0-9_@-]{1,64}$/.test(role))
      throw new ConfigError(variable, `role "${role}" must be 1-64 characters of A-Z a-z 0-9 _ @ -`);
  }
  return Object.freeze(roles);
}

function checkKey(variable: string, key: string): void {
  if (Buffer.byteLength(key, 'utf8') < MIN_KEY_BYTES) {
    throw new ConfigError(variable, `must be at least ${MIN_KEY_BYTES} bytes`);
  }
}

/** Parses the environment (without secrets resolution) and freezes the result. */
export function parseConfig(env: NodeJS.ProcessEnv, secrets: ResolvedSecrets): Config {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    // An empty variable counts as unset, as in most shells' `VAR= command`.
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue?.path[0] ?? 'environment');
    throw new ConfigError(variable, `${issue?.message ?? 'invalid'} (got "${raw[variable] ?? ''}")`);
  }
  const v = parsed.data;
  checkKey('AUTH_KEY', secrets.authKey);
  checkKey('SCC_AUTH_KEY', secrets.sccAuthKey);
  if (secrets.authKey === secrets.sccAuthKey) {
    throw new ConfigError(
      'SCC_AUTH_KEY',
      'must differ from AUTH_KEY (the cluster secret is never the JWT key)',
    );
  }
  if (v.TOKEN_RENEW_INTERVAL + v.TOKEN_REUSE_GRACE >= v.TOKEN_TTL) {
    throw new ConfigError(
      'TOKEN_TTL',
      `must exceed TOKEN_RENEW_INTERVAL (${v.TOKEN_RENEW_INTERVAL}) plus TOKEN_REUSE_GRACE (${v.TOKEN_REUSE_GRACE}), or tokens expire before they are renewed`,
    );
  }
  if (v.REVOCATION_POLL_INTERVAL >= v.TOKEN_REUSE_GRACE * 1000) {
    // Replaced tokens reach other workers through the store's log only (cluster-control.ts).
    throw new ConfigError(
      'REVOCATION_POLL_INTERVAL',
      `must be below TOKEN_REUSE_GRACE (${v.TOKEN_REUSE_GRACE} s), or reuse of a replaced token can go unnoticed on other workers`,
    );
  }
  const allowedOrigins = parseOrigins(v.ALLOWED_ORIGINS, 'ALLOWED_ORIGINS');
  const publicUrl = parsePublicUrl(v.PUBLIC_URL);
  return Object.freeze({
    nodeEnv: v.NODE_ENV,
    production: v.NODE_ENV === 'production',
    port: v.PORT,
    host: v.HOST,
    workers: v.WORKERS,
    brokers: v.BROKERS,
    databaseUrl: v.DATABASE_URL,
    dataDir: v.DATA_DIR,
    authKey: secrets.authKey,
    tokenTtl: v.TOKEN_TTL,
    tokenRenewInterval: v.TOKEN_RENEW_INTERVAL,
    tokenReuseGrace: v.TOKEN_REUSE_GRACE,
    sessionMaxAge: v.SESSION_MAX_AGE,
    sessionIdleTimeout: v.SESSION_IDLE_TIMEOUT ?? null,
    allowedOrigins: allowedOrigins ?? (publicUrl === null ? null : Object.freeze([publicUrl])),
    publicUrl,
    trustProxy: parseTrustProxy(v.TRUST_PROXY),
    maxPayload: v.WS_MAX_PAYLOAD,
    maxChannelsPerSocket: v.MAX_CHANNELS_PER_SOCKET,
    loginRateLimit: Object.freeze({ max: v.LOGIN_RATE_LIMIT, windowSeconds: v.LOGIN_RATE_WINDOW }),
    loginFailureLimit: Object.freeze({
      perPair: v.LOGIN_FAILURE_LIMIT,
      perAccount: v.LOGIN_ACCOUNT_FAILURE_LIMIT,
      windowSeconds: v.LOGIN_FAILURE_WINDOW,
    }),
    socketRateLimit: v.SOCKET_RATE_LIMIT,
    maxConnectionsPerAddress: v.MAX_CONNECTIONS_PER_ADDRESS,
    unauthenticatedTimeout: v.UNAUTHENTICATED_TIMEOUT,
    sccBindHost: v.SCC_BIND_HOST ?? v.HOST,
    passwordMinLength: v.PASSWORD_MIN_LENGTH,
    ticketTtl: v.TICKET_TTL,
    authCookie: v.AUTH_COOKIE === 'on',
    registration: v.REGISTRATION,
    registrationRoles: parseRoles('REGISTRATION_ROLES', v.REGISTRATION_ROLES),
    oidc: parseOidc(v),
    gateway: parseGateway(v),
    anonymous: parseAnonymous(v),
    sccStateServerHost: v.SCC_STATE_SERVER_HOST,
    sccStateServerPort: v.SCC_STATE_SERVER_PORT,
    sccBrokerServerPort: v.SCC_BROKER_SERVER_PORT,
    sccAuthKey: secrets.sccAuthKey,
    sccInstanceIp: v.SCC_INSTANCE_IP ?? null,
    sccPubSubBatchDuration: v.SCC_PUB_SUB_BATCH_DURATION === 0 ? null : v.SCC_PUB_SUB_BATCH_DURATION,
    shutdownTimeout: v.SHUTDOWN_TIMEOUT,
    revocationPollInterval: v.REVOCATION_POLL_INTERVAL,
    passwordHashCost: v.PASSWORD_HASH_COST,
    logLevel: v.LOG_LEVEL,
    logFormat: v.LOG_FORMAT ?? (process.stdout.isTTY === true ? 'pretty' : 'json'),
    metricsPort: v.METRICS_PORT === 0 ? null : v.METRICS_PORT,
  });
}
