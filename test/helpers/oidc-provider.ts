import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import Provider, { type ResourceServerToken } from 'oidc-provider';

/**
 * A real OpenID Provider for the tests: the npm package `oidc-provider` (certified), on loopback,
 * with keys the test generates (so that it can also sign tokens of its own with them), issuing
 * JWT access tokens shaped like Keycloak's and sending real back-channel logouts.
 */

export const CLIENT_ID = 'warden-app';
const CLIENT_SECRET = 'warden-app-secret-for-tests-only';
const REDIRECT_URI = 'http://127.0.0.1/callback';
/** Keycloak's access tokens name the `account` client as audience and the app in `azp`. */
export const KEYCLOAK_AUDIENCE = 'account';
const RESOURCE_SCOPE = 'warden';

export type ProviderAlg = 'RS256' | 'ES256';
/** `keycloak`: header typ `JWT`, claim typ `Bearer`; `rfc9068`: header typ `at+jwt`, no typ claim. */
export type TokenShape = 'keycloak' | 'rfc9068';

export interface ProviderKey {
  readonly kid: string;
  readonly alg: ProviderAlg;
  readonly privateKey: CryptoKey;
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
}

export interface ProviderKeys {
  readonly rsa: ProviderKey;
  readonly ec: ProviderKey;
}

async function generateKey(alg: ProviderAlg, kid: string): Promise<ProviderKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const base = { kid, alg, use: 'sig' };
  return {
    kid,
    alg,
    privateKey,
    privateJwk: { ...(await exportJWK(privateKey)), ...base },
    publicJwk: { ...(await exportJWK(publicKey)), ...base },
  };
}

/** A fresh RS256 and ES256 key pair with new `kid`s. */
export async function generateProviderKeys(): Promise<ProviderKeys> {
  const tag = randomBytes(4).toString('hex');
  return { rsa: await generateKey('RS256', `rsa-${tag}`), ec: await generateKey('ES256', `ec-${tag}`) };
}

/** The public JWK set of some keys, as a jwks_uri serves it. */
export function publicJwks(...keys: ProviderKey[]): { keys: JWK[] } {
  return { keys: keys.map((key) => key.publicJwk) };
}

export interface LoginOptions {
  readonly account: string;
  readonly roles?: readonly string[];
  readonly alg?: ProviderAlg;
  readonly shape?: TokenShape;
}

/** One user's session at the provider after an authorization code flow (its cookies included). */
export interface ProviderSession {
  readonly account: string;
  readonly accessToken: string;
  readonly idToken: string;
  /** The provider's session id, as `sid` in the access token, the ID token and the logout token. */
  readonly sid: string;
  /**
   * RP-initiated logout of this session (the end-session endpoint's form, as a browser submits
   * it), which makes the provider send its back-channel logout; resolves when the provider has
   * delivered it (the receiver, or where it forwards to, answered 200 or 204), else rejects.
   */
  logout(): Promise<void>;
}

export interface BackchannelReceiver {
  /** Where the provider POSTs logout tokens (the client's backchannel_logout_uri). */
  readonly url: string;
  /** The next logout token to arrive (or one that already arrived and was not taken). */
  next(): Promise<string>;
  /** From now on, relay each logout POST to `url` (e.g. Warden's endpoint) and answer with its status; null: just collect. */
  forwardTo(url: string | null): void;
}

export interface TestOidcProvider {
  readonly issuer: string;
  readonly port: number;
  readonly clientId: string;
  readonly jwksUri: string;
  /** How many requests its jwks_uri has had. */
  readonly jwksRequests: number;
  /** The keys the provider signs with now (rotateKeys replaces them). */
  readonly keys: ProviderKeys;
  readonly backchannel: BackchannelReceiver;
  /** Logs `account` in (authorization code flow with PKCE through the provider's own login and consent pages). */
  login(options: LoginOptions): Promise<ProviderSession>;
  /** An access token for `account` with `roles` (a login's). */
  mintAccessToken(options: LoginOptions): Promise<string>;
  /** An access token of the client itself (client credentials grant: Keycloak's service account). */
  clientCredentialsToken(options?: {
    roles?: readonly string[];
    alg?: ProviderAlg;
    shape?: TokenShape;
  }): Promise<string>;
  /**
   * Makes the provider sign and POST a logout token for (sub, sid) to the back-channel receiver
   * now, without a browser session (e.g. for a sid Warden does not know); rejects unless the
   * receiver (or the endpoint it forwards to) answered 200 or 204.
   */
  sendBackchannelLogout(sub: string, sid: string): Promise<void>;
  /** Signs any payload with the provider's own current key: Keycloak-shaped refresh or ID tokens, etc. */
  sign(payload: JWTPayload, options?: { alg?: ProviderAlg; typ?: string; kid?: string }): Promise<string>;
  /**
   * Restarts the provider (same port, same issuer) with new keys, as a key rotation does; with
   * `keepOld` the old keys stay published (Keycloak keeps a rotated key as "passive").
   */
  rotateKeys(options?: { keepOld?: boolean }): Promise<ProviderKeys>;
  /** Stops listening (the provider is down: connections refused) until `start()`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** A minimal cookie jar for one browser session at the provider. */
class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      if (at <= 0) continue;
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

function resourceFor(alg: ProviderAlg, shape: TokenShape): string {
  return `urn:warden:access:${alg}:${shape}`;
}

function parseResource(indicator: string): { alg: ProviderAlg; shape: TokenShape } | undefined {
  const match = /^urn:warden:access:(RS256|ES256):(keycloak|rfc9068)$/.exec(indicator);
  return match === null ? undefined : { alg: match[1] as ProviderAlg, shape: match[2] as TokenShape };
}

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  const closed = once(server, 'close');
  server.close();
  server.closeAllConnections();
  await closed;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function startBackchannelReceiver(): Promise<BackchannelReceiver & { close(): Promise<void> }> {
  const arrived: string[] = [];
  const waiting: ((token: string) => void)[] = [];
  let forward: string | null = null;
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    void (async () => {
      const body = await readBody(request);
      const token = new URLSearchParams(body).get('logout_token');
      let status = token === null ? 400 : 200;
      if (forward !== null) {
        const relayed = await fetch(forward, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body,
        }).catch(() => null);
        status = relayed?.status ?? 502;
      }
      if (token !== null) {
        const waiter = waiting.shift();
        if (waiter === undefined) arrived.push(token);
        else waiter(token);
      }
      response.writeHead(status).end();
    })();
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/backchannel-logout`,
    next: () => {
      const token = arrived.shift();
      return token === undefined ? new Promise((resolve) => waiting.push(resolve)) : Promise.resolve(token);
    },
    forwardTo: (url) => {
      forward = url;
    },
    close: () => closeServer(server),
  };
}

/**
 * Starts oidc-provider on loopback (port 0) with a confidential client `warden-app` and JWT
 * access tokens through resource indicators (`urn:warden:access:<alg>:<shape>`), whose claims
 * are Keycloak's (`preferred_username`, `realm_access.roles`, `typ`, `azp`, `sid`, `aud:
 * account`) via `extraTokenClaims`. Logins go through the provider's development login and
 * consent pages (any account name, any password): a real authorization code flow.
 *
 * Outgoing requests (back-channel logouts) use plain fetch: the provider's own guard against
 * requests to special-use addresses would refuse loopback.
 *
 * @example
 *   const idp = await startOidcProvider();
 *   const token = await idp.mintAccessToken({ account: 'alice', roles: ['chat'] });
 *   await idp.close();
 */
export async function startOidcProvider(
  options: { accessTokenTtl?: number } = {},
): Promise<TestOidcProvider> {
  const accessTokenTtl = options.accessTokenTtl ?? 300;
  const roles = new Map<string, readonly string[]>();
  const backchannel = await startBackchannelReceiver();
  const server = createServer();
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  let keys = await generateProviderKeys();
  let published: JWK[] = [];
  const cookieKeys = [randomBytes(32).toString('base64url')];
  let handler: (request: IncomingMessage, response: ServerResponse) => void = () => undefined;
  let active: Provider | undefined;
  const backchannelErrors: unknown[] = [];
  let jwksRequests = 0;
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (request.url === '/jwks') jwksRequests += 1;
    handler(request, response);
  });

  const configure = (signing: ProviderKeys, extra: JWK[]): void => {
    published = [signing.rsa.privateJwk, signing.ec.privateJwk, ...extra];
    const provider = new Provider(issuer, {
      jwks: { keys: published },
      cookies: { keys: cookieKeys },
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: CLIENT_SECRET,
          redirect_uris: [REDIRECT_URI],
          grant_types: ['authorization_code', 'client_credentials'],
          response_types: ['code'],
          scope: `openid ${RESOURCE_SCOPE}`,
          backchannel_logout_uri: backchannel.url,
          backchannel_logout_session_required: true,
        },
      ],
      findAccount: (_ctx: unknown, id: string) => ({
        accountId: id,
        claims: () => ({ sub: id, preferred_username: id }),
      }),
      scopes: ['openid', RESOURCE_SCOPE],
      // Explicit lifetimes (the provider's default functions print a notice each).
      ttl: {
        AccessToken: accessTokenTtl,
        ClientCredentials: accessTokenTtl,
        AuthorizationCode: 60,
        IdToken: 3600,
        Interaction: 600,
        Session: 3600,
        Grant: 3600,
      },
      claims: { openid: ['sub'], profile: ['preferred_username'] },
      features: {
        devInteractions: { enabled: true },
        clientCredentials: { enabled: true },
        backchannelLogout: { enabled: true },
        rpInitiatedLogout: {
          enabled: true,
          logoutSource: (ctx: { body: string }, form: string) => {
            ctx.body = `<!doctype html><title>Log out</title>${form}`;
          },
        },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => resourceFor('RS256', 'keycloak'),
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, indicator: string) => {
            const kind = parseResource(indicator);
            if (kind === undefined) throw new Error(`unknown resource indicator ${indicator}`);
            return {
              scope: RESOURCE_SCOPE,
              audience: KEYCLOAK_AUDIENCE,
              accessTokenTTL: accessTokenTtl,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: kind.alg } },
            };
          },
        },
      },
      extraTokenClaims: (_ctx: unknown, token: ResourceServerToken) => {
        const shape = parseResource(token.resourceServer?.identifier() ?? '')?.shape ?? 'keycloak';
        const username = token.accountId ?? `service-account-${CLIENT_ID}`;
        return {
          ...(shape === 'keycloak' ? { typ: 'Bearer' } : {}),
          azp: token.clientId,
          preferred_username: username,
          realm_access: { roles: [...(roles.get(username) ?? [])] },
          ...(token.sid === undefined ? {} : { sid: token.sid }),
        };
      },
      formats: {
        customizers: {
          // Keycloak's access tokens have the header typ `JWT`; oidc-provider's say `at+jwt`.
          jwt: (_ctx: unknown, token: ResourceServerToken, jwt: { header?: Record<string, unknown> }) => {
            if (parseResource(token.resourceServer?.identifier() ?? '')?.shape !== 'rfc9068') {
              jwt.header = { ...jwt.header, typ: 'JWT' };
            }
          },
        },
      },
      fetch: (url: string, init: RequestInit & { dispatcher?: unknown }) => {
        const { dispatcher: _ssrfGuard, ...rest } = init;
        return fetch(url, rest);
      },
      // Errors as JSON: a failing step of a test's login shows the provider's reason.
      renderError: (ctx: { type: string; body: unknown }, out: unknown) => {
        ctx.type = 'json';
        ctx.body = out;
      },
    });
    provider.on('server_error', (_ctx: unknown, error: unknown) =>
      console.error('oidc-provider server_error', error),
    );
    provider.on('backchannel.error', (_ctx: unknown, error: unknown) => backchannelErrors.push(error));
    handler = provider.callback();
    active = provider;
  };
  configure(keys, []);

  const request = async (
    jar: CookieJar,
    url: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<Response> => {
    const response = await fetch(new URL(url, issuer), {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: {
        cookie: jar.header(),
        ...(init.form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
      },
      ...(init.form === undefined ? {} : { body: new URLSearchParams(init.form) }),
    });
    jar.store(response);
    return response;
  };

  /** Follows the provider's redirects until one leaves it (to the client's redirect_uri). */
  const follow = async (jar: CookieJar, response: Response): Promise<Response | URL> => {
    let current = response;
    for (let hops = 0; hops < 10; hops += 1) {
      const location = current.headers.get('location');
      if (current.status < 300 || current.status >= 400 || location === null) return current;
      await current.body?.cancel();
      const next = new URL(location, issuer);
      if (next.origin !== issuer) return next;
      current = await request(jar, next.href);
    }
    throw new Error('too many redirects at the provider');
  };

  const interact = async (
    jar: CookieJar,
    page: Response,
    form: Record<string, string>,
  ): Promise<Response | URL> => {
    const html = await page.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (page.status !== 200 || action === undefined) {
      throw new Error(
        `expected the provider's interaction page, got HTTP ${page.status}: ${html.slice(0, 300)}`,
      );
    }
    return follow(jar, await request(jar, action.replaceAll('&amp;', '&'), { method: 'POST', form }));
  };

  const tokenRequest = async (form: Record<string, string>): Promise<Record<string, unknown>> => {
    const response = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams(form),
    });
    const body = (await response.json()) as Record<string, unknown>;
    if (response.status !== 200)
      throw new Error(`token endpoint answered ${response.status}: ${JSON.stringify(body)}`);
    return body;
  };

  const login = async (loginOptions: LoginOptions): Promise<ProviderSession> => {
    roles.set(loginOptions.account, [...(loginOptions.roles ?? [])]);
    const resource = resourceFor(loginOptions.alg ?? 'RS256', loginOptions.shape ?? 'keycloak');
    const jar = new CookieJar();
    const verifier = randomBytes(32).toString('base64url');
    const authorize = new URL(`${issuer}/auth`);
    for (const [name, value] of Object.entries({
      client_id: CLIENT_ID,
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: `openid ${RESOURCE_SCOPE}`,
      resource,
      state: randomBytes(8).toString('hex'),
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    })) {
      authorize.searchParams.set(name, value);
    }
    let step = await follow(jar, await request(jar, authorize.href));
    if (step instanceof URL) throw new Error('the provider skipped its login page');
    step = await interact(jar, step, { prompt: 'login', login: loginOptions.account, password: 'any' });
    if (!(step instanceof URL)) step = await interact(jar, step, { prompt: 'consent' });
    if (!(step instanceof URL)) throw new Error(`the provider did not redirect back (HTTP ${step.status})`);
    const code = step.searchParams.get('code');
    if (code === null) throw new Error(`the provider redirected back without a code: ${step.search}`);
    const tokens = await tokenRequest({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      resource,
    });
    const accessToken = tokens.access_token as string;
    const idToken = tokens.id_token as string;
    const sid = JSON.parse(Buffer.from(idToken.split('.')[1] ?? '', 'base64url').toString('utf8'))
      .sid as string;
    return {
      account: loginOptions.account,
      accessToken,
      idToken,
      sid,
      logout: async () => {
        const end = new URL(`${issuer}/session/end`);
        end.searchParams.set('id_token_hint', idToken);
        const page = await request(jar, end.href);
        const html = await page.text();
        const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
        if (xsrf === undefined) throw new Error(`no logout form at the provider (HTTP ${page.status})`);
        // The confirm step sends the back-channel logouts before it answers.
        const failures = backchannelErrors.length;
        const confirmed = await request(jar, `${issuer}/session/end/confirm`, {
          method: 'POST',
          form: { xsrf, logout: 'yes' },
        });
        await confirmed.body?.cancel();
        if (confirmed.status >= 400) throw new Error(`logout confirm answered HTTP ${confirmed.status}`);
        if (backchannelErrors.length > failures) {
          throw new Error('the provider could not deliver its back-channel logout', {
            cause: backchannelErrors.at(-1),
          });
        }
      },
    };
  };

  const provider: TestOidcProvider = {
    issuer,
    port,
    clientId: CLIENT_ID,
    jwksUri: `${issuer}/jwks`,
    get keys() {
      return keys;
    },
    get jwksRequests() {
      return jwksRequests;
    },
    backchannel,
    login,
    mintAccessToken: async (loginOptions) => (await login(loginOptions)).accessToken,
    clientCredentialsToken: async (tokenOptions = {}) => {
      roles.set(`service-account-${CLIENT_ID}`, [...(tokenOptions.roles ?? [])]);
      const tokens = await tokenRequest({
        grant_type: 'client_credentials',
        scope: RESOURCE_SCOPE,
        resource: resourceFor(tokenOptions.alg ?? 'RS256', tokenOptions.shape ?? 'keycloak'),
      });
      return tokens.access_token as string;
    },
    sign: (payload, signOptions = {}) => {
      const key = signOptions.alg === 'ES256' ? keys.ec : keys.rsa;
      return new SignJWT(payload)
        .setProtectedHeader({
          alg: key.alg,
          kid: signOptions.kid ?? key.kid,
          ...(signOptions.typ === undefined ? {} : { typ: signOptions.typ }),
        })
        .sign(key.privateKey);
    },
    sendBackchannelLogout: async (sub, sid) => {
      const client = await active?.Client.find(CLIENT_ID);
      if (client === undefined) throw new Error('the provider has no client');
      await client.backchannelLogout(sub, sid);
    },
    rotateKeys: async (rotateOptions = {}) => {
      const old = published.map((jwk) => jwk);
      keys = await generateProviderKeys();
      configure(keys, rotateOptions.keepOld === true ? old : []);
      return keys;
    },
    stop: () => closeServer(server),
    start: async () => {
      if (!server.listening) await listen(server, port);
    },
    close: async () => {
      await closeServer(server);
      await backchannel.close();
    },
  };
  return provider;
}

export type JwksBehaviour =
  | { readonly kind: 'keys'; readonly jwks: unknown }
  /** Answers the headers and the start of a body, and then nothing more: a hung endpoint. */
  | { readonly kind: 'slow' }
  | { readonly kind: 'garbage'; readonly body: string; readonly status?: number };

export interface JwksServer {
  /** Its own origin, usable as an issuer: it serves a discovery document naming `url`. */
  readonly issuer: string;
  /** Its jwks_uri. */
  readonly url: string;
  /** How many key set requests it has received. */
  readonly requests: number;
  /** Resolves at the next key set request to arrive. */
  nextRequest(): Promise<void>;
  behave(behaviour: JwksBehaviour): void;
  /** Replaces the discovery document (default: `{ issuer, jwks_uri: url }`). */
  discovery(document: unknown): void;
  close(): Promise<void>;
}

/**
 * A jwks_uri the test controls (node:http on loopback), standing in for a provider's: real keys,
 * a hung answer or garbage. It also serves `/.well-known/openid-configuration`.
 */
export async function startJwksServer(initial: JwksBehaviour): Promise<JwksServer> {
  let behaviour = initial;
  let requests = 0;
  let metadata: unknown;
  const waiting: (() => void)[] = [];
  const server = createServer((request, response) => {
    if (request.url === '/.well-known/openid-configuration') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(metadata));
      return;
    }
    requests += 1;
    for (const wake of waiting.splice(0)) wake();
    switch (behaviour.kind) {
      case 'keys':
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(behaviour.jwks));
        return;
      case 'slow':
        response.writeHead(200, { 'content-type': 'application/json' });
        response.write('{"keys":[');
        return; // never ends; close() drops the connection
      case 'garbage':
        response
          .writeHead(behaviour.status ?? 200, { 'content-type': 'application/json' })
          .end(behaviour.body);
        return;
    }
  });
  const port = await listen(server);
  const issuer = `http://127.0.0.1:${port}`;
  const url = `${issuer}/jwks`;
  metadata = { issuer, jwks_uri: url };
  return {
    issuer,
    url,
    get requests() {
      return requests;
    },
    nextRequest: () => new Promise((resolve) => waiting.push(resolve)),
    behave: (next) => {
      behaviour = next;
    },
    discovery: (document) => {
      metadata = document;
    },
    close: () => closeServer(server),
  };
}
