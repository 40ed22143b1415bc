import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { WardenError } from '../errors/catalogue.ts';
import type { Logger } from '../log/logger.ts';
import { createAddressMatcher, peerAddress } from '../net/client-address.ts';
import type { Permissions } from '../store/types.ts';
import { claimAt, rolesAt } from './oidc-verifier.ts';
import { newId, type TokenClaims } from './tokens.ts';
import { fillPermissions } from './role-permissions.ts';

/** Who a gateway says the user is: the subject, the username claim and the roles claim. */
export interface GatewayIdentity {
  readonly sub: string;
  readonly username: string;
  readonly roles: readonly string[];
}

/** Where the username and the roles are in the identity (OIDC_USERNAME_CLAIM, OIDC_ROLES_CLAIM). */
export interface GatewayClaimNames {
  readonly usernameClaim: string;
  readonly rolesClaim: string;
}

/** The `idp` of a gateway's identities: they are no OpenID issuer's, and never renewed. */
export const GATEWAY_IDP = 'gateway';

/** Longest identity header read: APISIX's userinfo of a Keycloak user is a few hundred bytes. */
const MAX_HEADER_BYTES = 16 * 1024;
const MAX_STRING = 512;
/**
 * Standard or URL-safe base64 (APISIX sends `ngx.encode_base64`, padded). Strict, because Node's
 * decoder skips what it does not know: a header a proxy appended to (`forged, real`) must be
 * refused, not decoded into a mix of both.
 */
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

function invalid(message: string): WardenError {
  return new WardenError('GatewayIdentityError', `the gateway's identity header ${message}`, {
    details: { reason: 'invalid-identity' },
  });
}

/**
 * Reads the identity header of a gateway: base64-encoded JSON, as APISIX's openid-connect plugin
 * sends it with `set_userinfo_header` (the userinfo of the user it authenticated, or the claims
 * of its access token). `sub` is required, the username at `usernameClaim` too; the roles at the
 * dot path `rolesClaim` (absent: none), read as OIDC access tokens are.
 *
 * @example
 *   parseGatewayIdentity(Buffer.from(JSON.stringify({ sub: 'u1', preferred_username: 'ann' })).toString('base64'),
 *     { usernameClaim: 'preferred_username', rolesClaim: 'realm_access.roles' });
 *   // { sub: 'u1', username: 'ann', roles: [] }
 */
export function parseGatewayIdentity(header: string, names: GatewayClaimNames): GatewayIdentity {
  const value = header.trim();
  if (value.length > MAX_HEADER_BYTES) throw invalid(`is longer than ${MAX_HEADER_BYTES} bytes`);
  if (!BASE64.test(value)) throw invalid('is not base64');
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
  } catch {
    throw invalid('is not base64-encoded JSON');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    throw invalid('is not a JSON object');
  const sub = claimAt(payload, 'sub');
  if (typeof sub !== 'string' || sub === '' || sub.length > MAX_STRING) throw invalid('has no valid "sub"');
  const username = claimAt(payload, names.usernameClaim);
  if (typeof username !== 'string' || username === '' || username.length > MAX_STRING)
    throw invalid(`has no valid "${names.usernameClaim}"`);
  return Object.freeze({ sub, username, roles: rolesAt(payload, names.rolesClaim) });
}

/**
 * The claims of a socket a gateway authenticated: the patterns of its roles (placeholders filled
 * in), `direct` (in memory only, never signed or renewed) and `idp: 'gateway'`. The gateway
 * authenticated this one connection, so the session is the socket's own: it ends when the socket
 * closes. `exp` is still required (SocketCluster checks it on every packet, the lifecycle
 * schedules on it): SESSION_MAX_AGE from now, the longest any Warden session lasts; then the
 * socket is deauthenticated as a session at its maximum age is, and the client reconnects
 * through the gateway, which vouches for the user again.
 */
export function gatewayClaims(
  identity: GatewayIdentity,
  permissions: Permissions,
  nowSeconds: number,
  sessionMaxAge: number,
): TokenClaims {
  const id = newId();
  const values = { username: identity.username, sub: identity.sub, tenant: null };
  return Object.freeze({
    sub: identity.sub,
    username: identity.username,
    roles: Object.freeze([...identity.roles]),
    ...fillPermissions(permissions, values),
    jti: id,
    iat: nowSeconds,
    exp: nowSeconds + sessionMaxAge,
    sid: `gw.${id}`,
    auth_time: nowSeconds,
    idp: GATEWAY_IDP,
    direct: true,
  });
}

/** How an upgrade arrived: straight from a client, or through the trusted gateway (with its identity header, if any). */
export type GatewayRequest =
  { readonly via: 'direct' } | { readonly via: 'gateway'; readonly identity: string | null };

export interface GatewayRequestReaderOptions {
  /** GATEWAY_IDENTITY_HEADER, lower-cased. */
  readonly identityHeader: string;
  /** GATEWAY_TRUSTED_PROXIES: the TCP peer must be one of these. */
  readonly trustedProxies: readonly string[];
  /** GATEWAY_SECRET_HEADER (lower-cased) and GATEWAY_SECRET, or both null. */
  readonly secretHeader: string | null;
  readonly secret: string | null;
  readonly log: Logger;
  readonly now?: () => number;
}

export interface GatewayRequestReader {
  (request: IncomingMessage): GatewayRequest;
  /** Identity headers ignored so far because they did not come from the gateway. */
  readonly ignored: number;
}

const WARN_INTERVAL_MS = 60_000;

function headerValue(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Equal-time comparison of digests: neither the secret's length nor its bytes leak through timing. */
function sameSecret(given: string, expected: Buffer): boolean {
  return timingSafeEqual(createHash('sha256').update(given, 'utf8').digest(), expected);
}

/**
 * Decides whether an upgrade came through the trusted gateway: its TCP peer (never a forwarded
 * address, which the client can write) is in GATEWAY_TRUSTED_PROXIES and, with GATEWAY_SECRET
 * set, it carries exactly that secret in GATEWAY_SECRET_HEADER. Only then is the identity header
 * the gateway's. From anyone else the header is ignored (the upgrade is a direct one, which
 * authenticates with a token as any other), counted, and a warning logged: at most one a minute
 * per worker, with the count since the last, so a client forging the header cannot flood the log.
 *
 * @example
 *   const readGateway = createGatewayRequestReader({ identityHeader: 'x-userinfo', trustedProxies: ['10.0.0.5'],
 *     secretHeader: null, secret: null, log });
 *   readGateway(request); // { via: 'gateway', identity: 'eyJzdWIiOi...' }
 */
export function createGatewayRequestReader(options: GatewayRequestReaderOptions): GatewayRequestReader {
  if (options.trustedProxies.length === 0)
    throw new TypeError('createGatewayRequestReader: trustedProxies must name the gateway');
  if ((options.secretHeader === null) !== (options.secret === null))
    throw new TypeError('createGatewayRequestReader: secretHeader and secret go together');
  const isGateway = createAddressMatcher(options.trustedProxies);
  const expected =
    options.secret === null ? null : createHash('sha256').update(options.secret, 'utf8').digest();
  const now = options.now ?? Date.now;
  let ignored = 0;
  let unreported = 0;
  let lastWarning = -Infinity;
  const ignore = (peer: string, why: string) => {
    ignored++;
    unreported++;
    const at = now();
    if (at - lastWarning < WARN_INTERVAL_MS) return;
    options.log.warn('gateway identity header ignored: not from the trusted gateway', {
      header: options.identityHeader,
      peer,
      why,
      count: unreported,
      total: ignored,
    });
    lastWarning = at;
    unreported = 0;
  };
  const read = (request: IncomingMessage): GatewayRequest => {
    const identity = headerValue(request, options.identityHeader) ?? null;
    const peer = peerAddress(request);
    let why: string | null = null;
    if (!isGateway(peer)) why = 'peer not in GATEWAY_TRUSTED_PROXIES';
    else if (expected !== null) {
      const given = headerValue(request, options.secretHeader as string);
      if (given === undefined || !sameSecret(given, expected)) why = 'missing or wrong gateway secret';
    }
    if (why === null) return { via: 'gateway', identity };
    if (identity !== null) ignore(peer, why);
    return { via: 'direct' };
  };
  return Object.defineProperty(read, 'ignored', {
    get: () => ignored,
    enumerable: true,
  }) as GatewayRequestReader;
}
