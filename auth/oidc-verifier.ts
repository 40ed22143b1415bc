import {
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  errors,
  jwtVerify,
  type CryptoKey,
  type FetchImplementation,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
  type JWTHeaderParameters,
  type JWTPayload,
  type RemoteJWKSet,
} from 'jose';
import { WardenError } from '../errors/catalogue.ts';

/** What a verified IdP access token says about its bearer. Frozen. */
export interface OidcIdentity {
  readonly issuer: string;
  readonly sub: string;
  /** The username claim (OIDC_USERNAME_CLAIM). */
  readonly username: string;
  /** Role names at the roles claim's path; [] when absent. */
  readonly roles: readonly string[];
  /** The IdP session (Keycloak also calls it `session_state`), which back-channel logout names. */
  readonly sid?: string;
  readonly exp: number;
  readonly iat: number;
  readonly azp?: string;
}

export interface OidcVerifierOptions {
  /** OIDC_ISSUER: the exact `iss` of the IdP's tokens; metadata from its discovery document. */
  readonly issuer: string;
  /** OIDC_AUDIENCE: a token matches if its `aud` contains one of these, or its `azp` is one. */
  readonly audiences: readonly string[];
  /** OIDC_JWKS_URI; default: the `jwks_uri` of `<issuer>/.well-known/openid-configuration`. */
  readonly jwksUri?: string;
  /** OIDC_ALGORITHMS; asymmetric JWS algorithms only. Default RS256, PS256, ES256. */
  readonly algorithms?: readonly string[];
  /** OIDC_USERNAME_CLAIM, default `preferred_username`. */
  readonly usernameClaim?: string;
  /** OIDC_ROLES_CLAIM, a dot path to an array of role names, default `realm_access.roles`. */
  readonly rolesClaim?: string;
  /** OIDC_CLOCK_TOLERANCE, seconds, default 30. */
  readonly clockTolerance?: number;
  /** Longest a fetch of the discovery document or the key set may take, ms. Default 3000. */
  readonly fetchTimeout?: number;
  /** After a successful key fetch, how long an unknown `kid` is refused without refetching, ms. Default 30000. */
  readonly cooldown?: number;
  /** How often the key set is refetched in the background (dropping keys the IdP removed), ms. Default 600000. */
  readonly refreshInterval?: number;
  /** Milliseconds since the epoch; injectable so tests can move time. */
  readonly now?: () => number;
}

/** A JWT whose signature, algorithm, issuer and time claims have been verified. */
export interface SignedJwt {
  readonly header: JWTHeaderParameters;
  readonly payload: JWTPayload;
}

/**
 * Why a JWT of the IdP was refused, without the token; callers turn it into their own WardenError
 * (an access token into AuthTokenInvalidError, a logout token into BadRequestError).
 */
export class JwtRefusal extends Error {
  readonly expired: boolean;

  constructor(message: string, expired = false, options?: { cause?: unknown }) {
    super(message, options);
    this.expired = expired;
    this.name = 'JwtRefusal';
  }
}

/** The part of an OidcVerifier that other IdP tokens (back-channel logout) are verified with. */
export interface SignedJwtVerifier {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly clockTolerance: number;
  readonly now: () => number;
  /**
   * Signature (the IdP's key named by `kid`, an allowed algorithm), `iss`, and `exp`/`nbf`/`iat`
   * with the clock tolerance. `maxTokenAge` (s) also requires `iat` no older than that.
   */
  verifySigned(
    token: unknown,
    options?: { readonly requiredClaims?: readonly string[]; readonly maxTokenAge?: number },
  ): Promise<SignedJwt>;
}

export interface OidcVerifier extends SignedJwtVerifier {
  readonly algorithms: readonly string[];
  /** Verifies an IdP access token; throws AuthTokenInvalidError or AuthTokenExpiredError. */
  verify(token: unknown): Promise<OidcIdentity>;
  /** Fetches the metadata (once) and the key set now, e.g. to warm up at start; throws JwtRefusal. */
  refreshKeys(): Promise<void>;
}

export const DEFAULT_OIDC_ALGORITHMS = Object.freeze(['RS256', 'PS256', 'ES256']);
/** What jose verifies with an asymmetric key from a JWK set. HMAC and `none` are never allowed. */
export const ASYMMETRIC_ALGORITHMS: ReadonlySet<string> = new Set([
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]);
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** A sanity bound before any parsing: Keycloak tokens with many roles reach a few KB. */
const MAX_TOKEN_LENGTH = 64 * 1024;
/** Discovery documents and key sets are a few KB (Keycloak's: ~6 KB and ~3 KB). */
const MAX_DOCUMENT_BYTES = 256 * 1024;
const MAX_ROLES = 1024;
const MAX_STRING = 1024;

/**
 * Verifies access tokens of one OpenID provider (Keycloak or any other) with `jose`: keys from the
 * provider's JWK set by `kid`, cached and refetched on an unknown `kid` at most once per
 * `cooldown`, every fetch bounded in time and size; the algorithm from the allow-list only; `iss`;
 * `aud` or `azp`; `exp`, `nbf`, `iat` with the tolerance; and only access tokens (RFC 9068's
 * `typ: at+jwt` header or Keycloak's `typ: Bearer` claim), never ID, refresh or logout tokens.
 *
 * When the JWK set endpoint is down, slow or returns garbage, keys already fetched keep working
 * (jose's cache never expires here; a background refresh replaces it only on success), an unknown
 * `kid` is refused (fail closed), and no verification waits longer than `fetchTimeout` (plus one
 * `fetchTimeout` for the discovery document, until it has been read once).
 *
 * @example
 *   const oidc = createOidcVerifier({ issuer: 'https://kc.example/realms/acme', audiences: ['warden-app'] });
 *   const identity = await oidc.verify(accessToken); // { sub, username, roles, sid, exp, ... }
 */
export function createOidcVerifier(options: OidcVerifierOptions): OidcVerifier {
  const issuer = url(options.issuer, 'issuer');
  const audiences = nonEmptyStrings(options.audiences, 'audiences');
  const algorithms = checkAlgorithms(options.algorithms ?? DEFAULT_OIDC_ALGORITHMS);
  const usernameClaim = nonEmptyString(options.usernameClaim ?? 'preferred_username', 'usernameClaim');
  const rolesClaim = nonEmptyString(options.rolesClaim ?? 'realm_access.roles', 'rolesClaim');
  const clockTolerance = nonNegative(options.clockTolerance ?? 30, 'clockTolerance');
  const fetchTimeout = positiveInteger(options.fetchTimeout ?? 3000, 'fetchTimeout');
  const cooldown = nonNegative(options.cooldown ?? 30_000, 'cooldown');
  const refreshInterval = positiveInteger(options.refreshInterval ?? 600_000, 'refreshInterval');
  const jwksUri = options.jwksUri === undefined ? undefined : url(options.jwksUri, 'jwksUri');
  const now = options.now ?? Date.now;

  const keys = new KeySource({ issuer, jwksUri, fetchTimeout, cooldown, refreshInterval, now });

  const verifySigned: SignedJwtVerifier['verifySigned'] = async (token, verifyOptions) => {
    const compact = compactJws(token);
    try {
      // jose asks for a key only once the header's algorithm is allowed: a token of another
      // algorithm (HS256 with the public key as secret, none) never makes a fetch happen.
      const { payload, protectedHeader } = await jwtVerify(
        compact,
        (header, jws) => keys.resolve(header, jws),
        {
          algorithms: [...algorithms],
          issuer,
          clockTolerance,
          currentDate: new Date(now()),
          requiredClaims: [...(verifyOptions?.requiredClaims ?? [])],
          ...(verifyOptions?.maxTokenAge === undefined ? {} : { maxTokenAge: verifyOptions.maxTokenAge }),
        },
      );
      return { header: protectedHeader, payload };
    } catch (error) {
      throw refusalFor(error, compact);
    }
  };

  const verify = async (token: unknown): Promise<OidcIdentity> => {
    let signed: SignedJwt;
    try {
      signed = await verifySigned(token, { requiredClaims: ['sub', 'exp', 'iat'] });
    } catch (error) {
      throw asAuthTokenError(error);
    }
    const problem =
      accessTokenTypeProblem(signed.header, signed.payload) ??
      audienceProblem(signed.payload, audiences) ??
      issuedInFutureProblem(signed.payload, Math.floor(now() / 1000), clockTolerance);
    if (problem !== null) throw new WardenError('AuthTokenInvalidError', `the access token ${problem}`);
    return identityOf(signed.payload, { issuer, usernameClaim, rolesClaim });
  };

  return Object.freeze({
    issuer,
    audiences,
    algorithms,
    clockTolerance,
    now,
    verify,
    verifySigned,
    refreshKeys: () => keys.refresh(),
  });
}

/**
 * Where the JWK set comes from: OIDC_JWKS_URI, or the discovery document, read lazily so that
 * Warden starts while the IdP is down. jose's remote set does the caching, the `kid` lookup and
 * the refetch-on-unknown-`kid` with its cooldown.
 *
 * jose would also refetch, and make the verification wait for the fetch, once its cache is older
 * than `cacheMaxAge`; with the IdP down every verification would then fail, cached `kid` or not.
 * So the cache never expires in jose (`cacheMaxAge: Infinity`), and this class refreshes it in
 * the background every `refreshInterval` instead: jose keeps the old set when a fetch fails.
 */
class KeySource {
  private jwks: RemoteJWKSet | undefined;
  private discovering: Promise<RemoteJWKSet> | undefined;
  private discoveryFailedAt = -Infinity;
  private refreshedAt = -Infinity;
  private readonly options: {
    readonly issuer: string;
    readonly jwksUri: string | undefined;
    readonly fetchTimeout: number;
    readonly cooldown: number;
    readonly refreshInterval: number;
    readonly now: () => number;
  };

  constructor(options: KeySource['options']) {
    this.options = options;
    if (options.jwksUri !== undefined) this.jwks = this.remoteSet(options.jwksUri);
  }

  /** jose's key lookup for a token header (a JWTVerifyGetKey). */
  async resolve(header: JWSHeaderParameters, jws: FlattenedJWSInput): Promise<CryptoKey> {
    return (await this.get())(header, jws);
  }

  private async get(): Promise<RemoteJWKSet> {
    const jwks = this.jwks ?? (await this.discover());
    if (this.options.now() - this.refreshedAt >= this.options.refreshInterval) {
      this.refreshedAt = this.options.now();
      // Not awaited: the verification goes on with the cached keys (or, on the very first use,
      // waits inside jose for the same fetch, which jose shares).
      jwks.reload().catch(() => undefined);
    }
    return jwks;
  }

  async refresh(): Promise<void> {
    const jwks = this.jwks ?? (await this.discover());
    this.refreshedAt = this.options.now();
    try {
      await jwks.reload();
    } catch (error) {
      throw refusalFor(error, undefined);
    }
  }

  private remoteSet(jwksUri: string): RemoteJWKSet {
    return createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: this.options.fetchTimeout,
      cooldownDuration: this.options.cooldown,
      cacheMaxAge: Infinity,
      [customFetch]: boundedFetch,
    });
  }

  /**
   * OpenID Connect Discovery 1.0 §4: the document at `<issuer>/.well-known/openid-configuration`,
   * whose `issuer` must be exactly ours (§4.3). Concurrent callers share one fetch; after a
   * failure, callers are refused at once for `cooldown` rather than each fetching again.
   */
  private discover(): Promise<RemoteJWKSet> {
    if (this.discovering !== undefined) return this.discovering;
    if (this.options.now() - this.discoveryFailedAt < this.options.cooldown) {
      return Promise.reject(
        new JwtRefusal("the identity provider's metadata could not be fetched; retrying later"),
      );
    }
    this.discovering = this.fetchMetadata().then(
      (jwksUri) => {
        this.jwks = this.remoteSet(jwksUri);
        return this.jwks;
      },
      (error: unknown) => {
        this.discoveryFailedAt = this.options.now();
        this.discovering = undefined;
        throw error instanceof JwtRefusal
          ? error
          : new JwtRefusal("the identity provider's metadata could not be fetched", false, {
              cause: safeCause(error),
            });
      },
    );
    return this.discovering;
  }

  private async fetchMetadata(): Promise<string> {
    const location = `${this.options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const response = await boundedFetch(location, {
      method: 'GET',
      redirect: 'manual',
      headers: new Headers({ accept: 'application/json' }),
      signal: AbortSignal.timeout(this.options.fetchTimeout),
    });
    if (response.status !== 200) {
      throw new JwtRefusal(`the identity provider's metadata answered HTTP ${response.status}`);
    }
    const metadata: unknown = await response.json();
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw new JwtRefusal("the identity provider's metadata is not a JSON object");
    }
    if (ownClaim(metadata, 'issuer') !== this.options.issuer) {
      throw new JwtRefusal("the identity provider's metadata names another issuer");
    }
    const jwksUri = ownClaim(metadata, 'jwks_uri');
    if (typeof jwksUri !== 'string' || !isHttpUrl(jwksUri)) {
      throw new JwtRefusal("the identity provider's metadata has no valid jwks_uri");
    }
    return jwksUri;
  }
}

/**
 * fetch() with the body read up to MAX_DOCUMENT_BYTES: jose reads a key set of any size, and a
 * misbehaving endpoint must not make a worker buffer megabytes. The caller's signal (jose's
 * timeout) also aborts a body that trickles in.
 */
const boundedFetch: FetchImplementation = async (location, init) => {
  const response = await fetch(location, init);
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    return new Response(null, { status: response.status });
  }
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > MAX_DOCUMENT_BYTES) {
    await response.body?.cancel().catch(() => undefined);
    throw new Error(`response of ${declared} bytes is over the ${MAX_DOCUMENT_BYTES}-byte bound`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body !== null) {
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_DOCUMENT_BYTES) {
        await reader.cancel().catch(() => undefined);
        throw new Error(`response is over the ${MAX_DOCUMENT_BYTES}-byte bound`);
      }
      chunks.push(value);
    }
  }
  return new Response(Buffer.concat(chunks), { status: 200, headers: response.headers });
};

/** The token as a compact JWS, or a refusal before any parsing or fetching. */
function compactJws(token: unknown): string {
  if (typeof token !== 'string' || token === '') throw new JwtRefusal('must be a non-empty string');
  if (token.length > MAX_TOKEN_LENGTH) throw new JwtRefusal(`is longer than ${MAX_TOKEN_LENGTH} characters`);
  if (token.split('.').length !== 3) throw new JwtRefusal('is not a signed JWT (JWS compact serialization)');
  return token;
}

/** A jose (or fetch) failure as a JwtRefusal whose message says why and never holds the token. */
function refusalFor(error: unknown, compact: string | undefined): JwtRefusal {
  if (error instanceof JwtRefusal) return error;
  const cause = safeCause(error);
  const refuse = (message: string, expired = false) => new JwtRefusal(message, expired, { cause });
  if (error instanceof errors.JWTExpired) {
    return error.claim === 'iat' ? refuse('was issued too long ago', true) : refuse('has expired', true);
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return refuse('was issued by another issuer');
    if (error.claim === 'nbf') return refuse('is not valid yet');
    if (error.reason === 'missing') return refuse(`has no "${error.claim}" claim`);
    return refuse(`has an invalid "${error.claim}" claim`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return refuse(`is signed with an algorithm that is not allowed${kindHint(compact)}`);
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return refuse('has an invalid signature');
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) {
    return refuse('is not signed by a known key of the identity provider');
  }
  if (error instanceof errors.JWKSTimeout)
    return refuse("could not be checked: the identity provider's keys did not arrive in time");
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid)
    return refuse('is not a well-formed signed JWT');
  if (error instanceof errors.JOSENotSupported)
    return refuse(`uses an unsupported algorithm or key${kindHint(compact)}`);
  return refuse("could not be checked: the identity provider's keys could not be fetched");
}

/** A hint for the common mistake of sending the wrong token; read from the (unverified) payload only to word a refusal. */
function kindHint(compact: string | undefined): string {
  if (compact === undefined) return '';
  try {
    const typ = decodeJwt(compact).typ;
    return typeof typ === 'string' && typ !== 'Bearer'
      ? ` (it looks like a "${typ.slice(0, 32)}" token, not an access token)`
      : '';
  } catch {
    return '';
  }
}

/**
 * jose's claim errors carry the whole payload; only the code and message are kept as the cause,
 * so that nothing of a token can reach a log through an error's cause.
 */
function safeCause(error: unknown): Error {
  if (error instanceof errors.JOSEError) return new Error(`${error.code}: ${error.message}`);
  if (error instanceof Error) {
    const inner = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return new Error(`${error.name}: ${error.message}${inner}`);
  }
  return new Error(String(error));
}

function asAuthTokenError(error: unknown): WardenError {
  if (error instanceof JwtRefusal) {
    return new WardenError(
      error.expired ? 'AuthTokenExpiredError' : 'AuthTokenInvalidError',
      `the access token ${error.message}`,
      {
        cause: error,
      },
    );
  }
  return new WardenError('AuthTokenInvalidError', 'the access token could not be checked', {
    cause: safeCause(error),
  });
}

/** A header `typ` as RFC 7515 §4.1.9 compares it: case-insensitive, `application/` optional. */
export function mediaType(typ: unknown): string | undefined {
  if (typeof typ !== 'string') return undefined;
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

/**
 * Why a verified JWT is not an access token, or null. An access token says so: RFC 9068's header
 * `typ: at+jwt`, or Keycloak's claim `typ: Bearer` (its header says just `JWT`). Everything else
 * is refused, so that an ID token (with or without a `typ`), a refresh token (`typ: Refresh`),
 * a logout token or any other JWT of the same IdP cannot open a socket (RFC 8725 §3.11).
 */
export function accessTokenTypeProblem(header: JWTHeaderParameters, payload: JWTPayload): string | null {
  const headerTyp = mediaType(header.typ);
  const claimTyp = ownClaim(payload, 'typ');
  if (header.typ !== undefined && headerTyp !== 'jwt' && headerTyp !== 'at+jwt') {
    return `has a "${String(header.typ).slice(0, 32)}" header type, not an access token's`;
  }
  if (claimTyp === 'Refresh') return 'is a refresh token; send the access token';
  if (claimTyp === 'ID') return 'is an ID token; send the access token';
  if (claimTyp !== undefined && claimTyp !== 'Bearer') {
    return `has the type "${String(claimTyp).slice(0, 32)}", not an access token's`;
  }
  if (headerTyp === 'at+jwt' || claimTyp === 'Bearer') return null;
  if (Object.hasOwn(payload, 'nonce') || Object.hasOwn(payload, 'at_hash'))
    return 'is an ID token; send the access token';
  const events = ownClaim(payload, 'events');
  if (isJsonObject(events) && Object.hasOwn(events, BACKCHANNEL_EVENT))
    return 'is a logout token, not an access token';
  return 'does not say it is an access token (header typ "at+jwt" or claim typ "Bearer")';
}

/** Why the token is not for us, or null: its `aud` must contain one of `audiences`, or its `azp` be one. */
export function audienceProblem(payload: JWTPayload, audiences: readonly string[]): string | null {
  const aud = ownClaim(payload, 'aud');
  const azp = ownClaim(payload, 'azp');
  const listed = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? (aud as unknown[]) : [];
  if (listed.some((value) => typeof value === 'string' && audiences.includes(value))) return null;
  if (typeof azp === 'string' && audiences.includes(azp)) return null;
  return 'is meant for another audience';
}

function issuedInFutureProblem(payload: JWTPayload, nowSeconds: number, tolerance: number): string | null {
  return typeof payload.iat === 'number' && payload.iat > nowSeconds + tolerance
    ? 'was issued in the future'
    : null;
}

/**
 * The value at a claim path: the claim of exactly that name if there is one (namespaced claims
 * such as `https://example.com/roles` contain dots), else the dot path walked through own
 * properties of plain objects (`realm_access.roles`).
 */
export function claimAt(payload: object, path: string): unknown {
  if (Object.hasOwn(payload, path)) return ownClaim(payload, path);
  let value: unknown = payload;
  for (const step of path.split('.')) {
    if (!isJsonObject(value) || !Object.hasOwn(value, step)) return undefined;
    value = ownClaim(value, step);
  }
  return value;
}

/** Role names at `path`: non-array values and non-string entries are ignored; absent → []. */
export function rolesAt(payload: object, path: string): readonly string[] {
  const value = claimAt(payload, path);
  if (!Array.isArray(value)) return Object.freeze([]);
  const roles = (value as unknown[])
    .filter((role): role is string => typeof role === 'string' && role !== '' && role.length <= MAX_STRING)
    .slice(0, MAX_ROLES);
  return Object.freeze([...new Set(roles)]);
}

function identityOf(
  payload: JWTPayload,
  names: { readonly issuer: string; readonly usernameClaim: string; readonly rolesClaim: string },
): OidcIdentity {
  const sub = ownClaim(payload, 'sub');
  if (typeof sub !== 'string' || sub === '' || sub.length > MAX_STRING) {
    throw new WardenError('AuthTokenInvalidError', 'the access token has no valid "sub" claim');
  }
  const username = claimAt(payload, names.usernameClaim);
  if (typeof username !== 'string' || username === '' || username.length > MAX_STRING) {
    throw new WardenError(
      'AuthTokenInvalidError',
      `the access token has no valid "${names.usernameClaim}" claim`,
    );
  }
  // Keycloak before version 18 named the session only `session_state`.
  const sid = [ownClaim(payload, 'sid'), ownClaim(payload, 'session_state')].find(
    (value): value is string => typeof value === 'string' && value !== '' && value.length <= MAX_STRING,
  );
  const azp = ownClaim(payload, 'azp');
  return Object.freeze({
    issuer: names.issuer,
    sub,
    username,
    roles: rolesAt(payload, names.rolesClaim),
    ...(sid === undefined ? {} : { sid }),
    exp: payload.exp as number,
    iat: payload.iat as number,
    ...(typeof azp === 'string' ? { azp } : {}),
  });
}

/** An own property only: a `__proto__` or inherited name in a payload is no claim. */
export function ownClaim(object: object, key: string): unknown {
  return Object.hasOwn(object, key) ? (object as Record<string, unknown>)[key] : undefined;
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isHttpUrl(value: string): boolean {
  try {
    const parsed = new URL(value);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:';
  } catch {
    return false;
  }
}

function url(value: unknown, name: string): string {
  if (typeof value !== 'string' || !isHttpUrl(value)) {
    throw new TypeError(`createOidcVerifier: ${name} must be an http(s) URL`);
  }
  return value;
}

function nonEmptyString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '')
    throw new TypeError(`createOidcVerifier: ${name} must be a non-empty string`);
  return value;
}

function nonEmptyStrings(value: unknown, name: string): readonly string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new TypeError(`createOidcVerifier: ${name} must be a non-empty list`);
  }
  return Object.freeze((value as unknown[]).map((item) => nonEmptyString(item, name)));
}

function nonNegative(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`createOidcVerifier: ${name} must be a non-negative number`);
  }
  return value;
}

function positiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new TypeError(`createOidcVerifier: ${name} must be a positive integer`);
  }
  return value;
}

/**
 * The allow-list, checked when the verifier is made: only asymmetric algorithms. An HMAC
 * algorithm would let anyone holding the IdP's public key (everyone) sign tokens with it as the
 * secret, and `none` signs nothing.
 */
function checkAlgorithms(value: readonly string[]): readonly string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new TypeError('createOidcVerifier: algorithms must be a non-empty list');
  }
  for (const alg of value as unknown[]) {
    if (typeof alg !== 'string' || !ASYMMETRIC_ALGORITHMS.has(alg)) {
      throw new TypeError(
        `createOidcVerifier: algorithm ${JSON.stringify(alg)} is not allowed; use asymmetric ones (${[...ASYMMETRIC_ALGORITHMS].join(', ')})`,
      );
    }
  }
  return Object.freeze([...value]);
}
