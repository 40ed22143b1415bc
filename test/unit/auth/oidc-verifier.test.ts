import assert from 'node:assert/strict';
import { sign as cryptoSign } from 'node:crypto';
import {
  exportJWK,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import {
  accessTokenTypeProblem,
  audienceProblem,
  claimAt,
  createOidcVerifier,
  rolesAt,
  type OidcVerifier,
  type OidcVerifierOptions,
} from '../../../auth/oidc-verifier.ts';
import { WardenError } from '../../../errors/catalogue.ts';
import { startJwksServer, type JwksServer } from '../../helpers/oidc-provider.ts';

const T0 = Date.UTC(2026, 0, 1);
const S0 = T0 / 1000;
const AUDIENCE = 'warden-app';

interface LocalKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly publicJwk: JWK;
}

async function localKey(alg: string, kid: string): Promise<LocalKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return {
    kid,
    alg,
    privateKey,
    publicKey,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' },
  };
}

function b64(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Asserts a WardenError of that name whose message does not quote the token. */
async function refused(
  promise: Promise<unknown>,
  name: string,
  token: string,
  pattern?: RegExp,
): Promise<WardenError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof WardenError, `expected a WardenError, got ${String(error)}`);
    assert.equal(error.name, name, error.message);
    if (pattern !== undefined) assert.match(error.message, pattern);
    for (const part of token.split('.')) {
      if (part.length > 8) assert.ok(!error.message.includes(part), 'the message quotes the token');
    }
    return error;
  }
  assert.fail('expected a refusal');
}

describe('auth/oidc-verifier', function () {
  describe('claim paths', function () {
    it('walks a dot path through own properties of objects', function () {
      const payload = {
        realm_access: { roles: ['a', 'b'] },
        resource_access: { 'warden-app': { roles: ['c'] } },
      };
      assert.deepEqual(claimAt(payload, 'realm_access.roles'), ['a', 'b']);
      assert.deepEqual(rolesAt(payload, 'resource_access.warden-app.roles'), ['c']);
      assert.equal(claimAt(payload, 'realm_access.missing.roles'), undefined);
    });

    it('prefers a claim named exactly like the path (namespaced claims contain dots)', function () {
      const payload = { 'https://example.com/roles': ['ns'], https: { 'example.com/roles': ['no'] } };
      assert.deepEqual(rolesAt(payload, 'https://example.com/roles'), ['ns']);
    });

    it('ignores non-arrays and non-string entries, and gives [] when absent', function () {
      assert.deepEqual(rolesAt({ realm_access: { roles: 'admin' } }, 'realm_access.roles'), []);
      assert.deepEqual(
        rolesAt({ realm_access: { roles: ['a', 1, null, { x: 1 }, '', 'b', 'a'] } }, 'realm_access.roles'),
        ['a', 'b'],
      );
      assert.deepEqual(rolesAt({}, 'realm_access.roles'), []);
      assert.deepEqual(rolesAt({ realm_access: ['x'] }, 'realm_access.roles'), []);
      assert.ok(Object.isFrozen(rolesAt({ r: ['a'] }, 'r')));
    });

    it('does not follow inherited or __proto__ properties', function () {
      const payload = JSON.parse('{"__proto__": {"roles": ["admin"]}}') as object;
      assert.deepEqual(rolesAt(payload, '__proto__.roles'), ['admin']); // an own property named __proto__ is a claim
      assert.deepEqual(rolesAt({}, 'constructor.name'), []);
      assert.equal(claimAt({}, 'toString'), undefined);
    });
  });

  describe('access token types', function () {
    const base = { sub: 's' };
    it('accepts RFC 9068 headers (case-insensitive, application/ optional) and Keycloak Bearer claims', function () {
      for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt', 'Application/At+JWT']) {
        assert.equal(accessTokenTypeProblem({ alg: 'RS256', typ }, base), null, typ);
      }
      assert.equal(accessTokenTypeProblem({ alg: 'RS256', typ: 'JWT' }, { ...base, typ: 'Bearer' }), null);
      assert.equal(accessTokenTypeProblem({ alg: 'RS256' }, { ...base, typ: 'Bearer' }), null);
      assert.equal(accessTokenTypeProblem({ alg: 'RS256', typ: 'at+jwt' }, { ...base, typ: 'Bearer' }), null);
    });

    it('refuses Keycloak refresh, ID and logout tokens, and anything else', function () {
      assert.match(
        accessTokenTypeProblem({ alg: 'RS256', typ: 'JWT' }, { typ: 'Refresh' }) ?? '',
        /refresh token/,
      );
      assert.match(accessTokenTypeProblem({ alg: 'RS256', typ: 'JWT' }, { typ: 'ID' }) ?? '', /ID token/);
      assert.match(accessTokenTypeProblem({ alg: 'RS256', typ: 'JWT' }, { typ: 'Logout' }) ?? '', /"Logout"/);
      assert.match(
        accessTokenTypeProblem({ alg: 'RS256', typ: 'at+jwt' }, { typ: 'Refresh' }) ?? '',
        /refresh token/,
      );
      assert.match(
        accessTokenTypeProblem({ alg: 'RS256', typ: 'JWT' }, { typ: 'Offline' }) ?? '',
        /"Offline"/,
      );
      assert.match(accessTokenTypeProblem({ alg: 'RS256', typ: 'JWT' }, { typ: 'bearer' }) ?? '', /"bearer"/);
    });

    it('refuses an ID token without any typ, and other JWT kinds by their header', function () {
      assert.match(
        accessTokenTypeProblem({ alg: 'RS256' }, { sub: 's', aud: 'warden-app' }) ?? '',
        /does not say/,
      );
      assert.match(accessTokenTypeProblem({ alg: 'RS256' }, { sub: 's', nonce: 'n' }) ?? '', /ID token/);
      assert.match(accessTokenTypeProblem({ alg: 'RS256', typ: 'JWT' }, { sub: 's' }) ?? '', /does not say/);
      assert.match(
        accessTokenTypeProblem({ alg: 'RS256', typ: 'logout+jwt' }, { typ: 'Bearer' }) ?? '',
        /header type/,
      );
      assert.match(accessTokenTypeProblem({ alg: 'RS256', typ: 'dpop+jwt' }, {}) ?? '', /header type/);
      const events = { 'http://schemas.openid.net/event/backchannel-logout': {} };
      assert.match(accessTokenTypeProblem({ alg: 'RS256' }, { sub: 's', events }) ?? '', /logout token/);
    });
  });

  describe('audiences', function () {
    it('matches aud (string or list) or azp against the accepted audiences', function () {
      assert.equal(audienceProblem({ aud: 'warden-app' }, [AUDIENCE]), null);
      assert.equal(audienceProblem({ aud: ['x', 'warden-app'] }, [AUDIENCE]), null);
      assert.equal(audienceProblem({ aud: 'account', azp: 'warden-app' }, [AUDIENCE]), null);
      assert.equal(audienceProblem({ azp: 'other' }, ['other', AUDIENCE]), null);
    });

    it('refuses tokens for other audiences and other clients', function () {
      assert.ok(audienceProblem({ aud: 'account', azp: 'other-app' }, [AUDIENCE]) !== null);
      assert.ok(audienceProblem({ aud: ['account', 'other'] }, [AUDIENCE]) !== null);
      assert.ok(audienceProblem({}, [AUDIENCE]) !== null);
      assert.ok(audienceProblem({ aud: [1, null] as unknown as string[] }, [AUDIENCE]) !== null);
    });
  });

  describe('options', function () {
    const ok: OidcVerifierOptions = { issuer: 'https://idp.example/realms/acme', audiences: [AUDIENCE] };
    it('refuses HMAC, none and unknown algorithms when it is made', function () {
      for (const alg of ['HS256', 'HS384', 'HS512', 'none', 'rs256', 'XX']) {
        assert.throws(() => createOidcVerifier({ ...ok, algorithms: ['RS256', alg] }), /not allowed/, alg);
      }
      assert.throws(() => createOidcVerifier({ ...ok, algorithms: [] }), /non-empty/);
      assert.deepEqual(createOidcVerifier(ok).algorithms, ['RS256', 'PS256', 'ES256']);
    });

    it('refuses a missing audience, a bad issuer or bad durations', function () {
      assert.throws(() => createOidcVerifier({ ...ok, audiences: [] }), /audiences/);
      assert.throws(() => createOidcVerifier({ ...ok, audiences: [''] }), /audiences/);
      assert.throws(() => createOidcVerifier({ ...ok, issuer: 'idp.example' }), /issuer/);
      assert.throws(() => createOidcVerifier({ ...ok, jwksUri: 'ftp://x/jwks' }), /jwksUri/);
      assert.throws(() => createOidcVerifier({ ...ok, clockTolerance: -1 }), /clockTolerance/);
      assert.throws(() => createOidcVerifier({ ...ok, fetchTimeout: 0 }), /fetchTimeout/);
      assert.throws(() => createOidcVerifier({ ...ok, cooldown: Number.NaN }), /cooldown/);
    });
  });

  describe('verification against a local key set', function () {
    let rsa: LocalKey;
    let ec: LocalKey;
    let ps: LocalKey;
    let stranger: LocalKey;
    let keyServer: JwksServer;
    let now = T0;

    before(async function () {
      [rsa, ec, ps, stranger] = await Promise.all([
        localKey('RS256', 'rsa-1'),
        localKey('ES256', 'ec-1'),
        localKey('PS256', 'ps-1'),
        localKey('RS256', 'stranger'),
      ]);
    });

    beforeEach(async function () {
      now = T0;
      keyServer = await startJwksServer({
        kind: 'keys',
        jwks: { keys: [rsa.publicJwk, ec.publicJwk, ps.publicJwk] },
      });
    });

    afterEach(async function () {
      await keyServer.close();
    });

    function verifier(options: Partial<OidcVerifierOptions> = {}): OidcVerifier {
      return createOidcVerifier({
        issuer: keyServer.issuer,
        audiences: [AUDIENCE],
        jwksUri: keyServer.url,
        fetchTimeout: 2000,
        cooldown: 60_000,
        now: () => now,
        ...options,
      });
    }

    function claims(overrides: JWTPayload = {}): JWTPayload {
      return {
        iss: keyServer.issuer,
        sub: 'user-1',
        aud: 'account',
        azp: AUDIENCE,
        typ: 'Bearer',
        iat: S0,
        exp: S0 + 300,
        preferred_username: 'alice',
        realm_access: { roles: ['chat', 'admin'] },
        sid: 'idp-session-1',
        ...overrides,
      };
    }

    function sign(
      payload: JWTPayload,
      key: LocalKey = rsa,
      header: Record<string, unknown> = {},
    ): Promise<string> {
      return new SignJWT(payload)
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })
        .sign(key.privateKey);
    }

    it('accepts a Keycloak-shaped RS256 access token and returns a frozen identity', async function () {
      const identity = await verifier().verify(await sign(claims()));
      assert.deepEqual(identity, {
        issuer: keyServer.issuer,
        sub: 'user-1',
        username: 'alice',
        roles: ['chat', 'admin'],
        sid: 'idp-session-1',
        exp: S0 + 300,
        iat: S0,
        azp: AUDIENCE,
      });
      assert.ok(Object.isFrozen(identity) && Object.isFrozen(identity.roles));
    });

    it('accepts ES256 and PS256 tokens and RFC 9068 ones (header typ at+jwt, aud = the audience)', async function () {
      const oidc = verifier();
      assert.equal((await oidc.verify(await sign(claims(), ec))).username, 'alice');
      assert.equal((await oidc.verify(await sign(claims(), ps))).username, 'alice');
      const rfc = claims({ aud: AUDIENCE, typ: undefined, azp: undefined });
      const identity = await oidc.verify(await sign(rfc, rsa, { typ: 'application/at+jwt' }));
      assert.equal(identity.azp, undefined);
      assert.equal(keyServer.requests, 1, 'one fetch serves every key of the set');
    });

    it('reads the configured username and roles claims, and Keycloak’s older session_state', async function () {
      const oidc = verifier({ usernameClaim: 'email', rolesClaim: 'resource_access.warden-app.roles' });
      const token = await sign(
        claims({
          sid: undefined,
          session_state: 'legacy-1',
          email: 'a@example.com',
          resource_access: { 'warden-app': { roles: ['r'] } },
        }),
      );
      const identity = await oidc.verify(token);
      assert.equal(identity.username, 'a@example.com');
      assert.deepEqual(identity.roles, ['r']);
      assert.equal(identity.sid, 'legacy-1');
      const none = await verifier().verify(await sign(claims({ realm_access: undefined, sid: undefined })));
      assert.deepEqual(none.roles, []);
      assert.equal('sid' in none, false);
    });

    it('refuses an expired token (clock injected), within the tolerance it still passes', async function () {
      const oidc = verifier({ clockTolerance: 30 });
      const token = await sign(claims());
      now = T0 + 329_000;
      assert.equal((await oidc.verify(token)).sub, 'user-1');
      now = T0 + 331_000;
      await refused(oidc.verify(token), 'AuthTokenExpiredError', token, /expired/);
    });

    it('refuses a token not valid yet or issued in the future', async function () {
      const oidc = verifier({ clockTolerance: 5 });
      const early = await sign(claims({ nbf: S0 + 60 }));
      await refused(oidc.verify(early), 'AuthTokenInvalidError', early, /not valid yet/);
      const future = await sign(claims({ iat: S0 + 60, exp: S0 + 600 }));
      await refused(oidc.verify(future), 'AuthTokenInvalidError', future, /future/);
    });

    it('refuses tokens without exp, iat, sub or username', async function () {
      const oidc = verifier();
      for (const claim of ['exp', 'iat', 'sub', 'preferred_username']) {
        const token = await sign(claims({ [claim]: undefined }));
        await refused(oidc.verify(token), 'AuthTokenInvalidError', token, new RegExp(claim));
      }
    });

    it('refuses another issuer, another audience and another client', async function () {
      const oidc = verifier();
      const issuer = await sign(claims({ iss: 'https://evil.example' }));
      await refused(oidc.verify(issuer), 'AuthTokenInvalidError', issuer, /another issuer/);
      const client = await sign(claims({ azp: 'other-app' }));
      await refused(oidc.verify(client), 'AuthTokenInvalidError', client, /another audience/);
      const audience = await sign(claims({ aud: 'other', azp: undefined }), rsa, { typ: 'at+jwt' });
      await refused(oidc.verify(audience), 'AuthTokenInvalidError', audience, /another audience/);
    });

    it('refuses refresh and ID tokens of the same issuer and key', async function () {
      const oidc = verifier();
      const refresh = await sign(claims({ typ: 'Refresh' }));
      await refused(oidc.verify(refresh), 'AuthTokenInvalidError', refresh, /refresh token/);
      const id = await sign(claims({ typ: 'ID', aud: AUDIENCE }));
      await refused(oidc.verify(id), 'AuthTokenInvalidError', id, /ID token/);
      const bare = await sign(claims({ typ: undefined, aud: AUDIENCE }), rsa, { typ: undefined });
      await refused(oidc.verify(bare), 'AuthTokenInvalidError', bare, /does not say/);
    });

    it('refuses alg none, without fetching keys', async function () {
      const oidc = verifier();
      const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`;
      await refused(oidc.verify(token), 'AuthTokenInvalidError', token, /algorithm that is not allowed/);
      assert.equal(keyServer.requests, 0);
    });

    it('refuses HS256 signed with the RSA public key (PEM or JWK) as the secret, without fetching keys', async function () {
      const oidc = verifier();
      const pem = await exportSPKI(rsa.publicKey);
      const secrets = [pem, pem.trim(), JSON.stringify(rsa.publicJwk), rsa.publicJwk.n ?? ''];
      for (const secret of secrets) {
        for (const alg of ['HS256', 'HS512']) {
          const token = await new SignJWT(claims())
            .setProtectedHeader({ alg, kid: rsa.kid, typ: 'JWT' })
            .sign(new TextEncoder().encode(secret));
          await refused(oidc.verify(token), 'AuthTokenInvalidError', token, /algorithm that is not allowed/);
        }
      }
      assert.equal(keyServer.requests, 0);
    });

    it('refuses a token signed by an unknown key, refetching at most once per cooldown', async function () {
      const oidc = verifier({ cooldown: 60_000 });
      await oidc.verify(await sign(claims()));
      assert.equal(keyServer.requests, 1);
      const unknown = await sign(claims(), stranger);
      await refused(oidc.verify(unknown), 'AuthTokenInvalidError', unknown, /not signed by a known key/);
      await refused(
        oidc.verify(await sign(claims(), { ...stranger, kid: 'other' })),
        'AuthTokenInvalidError',
        '',
      );
      assert.equal(keyServer.requests, 1, 'within the cooldown an unknown kid fetches nothing');
    });

    it('refuses a forged signature and a token of a known kid signed by another key', async function () {
      const oidc = verifier();
      const forged = await sign(claims(), { ...stranger, kid: rsa.kid });
      await refused(oidc.verify(forged), 'AuthTokenInvalidError', forged, /invalid signature/);
      const good = await sign(claims());
      const [h, , s] = good.split('.');
      const tampered = `${h}.${b64(claims({ realm_access: { roles: ['root'] } }))}.${s}`;
      await refused(oidc.verify(tampered), 'AuthTokenInvalidError', tampered, /invalid signature/);
    });

    it('refuses non-strings, oversized tokens, encrypted (JWE) and malformed ones before fetching', async function () {
      const oidc = verifier();
      for (const token of [undefined, 42, '', {}])
        await refused(oidc.verify(token), 'AuthTokenInvalidError', '');
      await refused(oidc.verify('a'.repeat(70_000)), 'AuthTokenInvalidError', '', /longer/);
      await refused(oidc.verify('a.b.c.d.e'), 'AuthTokenInvalidError', '', /not a signed JWT/);
      await refused(oidc.verify('abc.def.ghi'), 'AuthTokenInvalidError', '', /well-formed/);
      // jose will not sign an unknown critical extension, so sign this one by hand.
      const input = `${b64({ alg: 'RS256', kid: rsa.kid, typ: 'JWT', crit: ['x-unknown'], 'x-unknown': 1 })}.${b64(claims())}`;
      const signature = cryptoSign('sha256', Buffer.from(input), await exportPKCS8(rsa.privateKey));
      const crit = `${input}.${signature.toString('base64url')}`;
      await refused(oidc.verify(crit), 'AuthTokenInvalidError', crit, /unsupported/);
      assert.equal(keyServer.requests, 0);
    });

    it('finds its key set through discovery and refuses metadata of another issuer', async function () {
      const discovered = createOidcVerifier({
        issuer: keyServer.issuer,
        audiences: [AUDIENCE],
        now: () => now,
      });
      assert.equal((await discovered.verify(await sign(claims()))).username, 'alice');
      keyServer.discovery({ issuer: 'https://evil.example', jwks_uri: keyServer.url });
      const misled = createOidcVerifier({
        issuer: keyServer.issuer,
        audiences: [AUDIENCE],
        cooldown: 0,
        now: () => now,
      });
      const token = await sign(claims());
      await refused(misled.verify(token), 'AuthTokenInvalidError', token, /metadata names another issuer/);
      keyServer.discovery({ issuer: keyServer.issuer, jwks_uri: 'file:///etc/passwd' });
      await refused(misled.verify(token), 'AuthTokenInvalidError', token, /jwks_uri/);
    });

    it('never makes a verification wait for the background refresh, even when the endpoint hangs', async function () {
      const oidc = verifier({ refreshInterval: 60_000, fetchTimeout: 60_000 });
      const token = await sign(claims({ exp: S0 + 3600 }));
      await oidc.verify(token);
      keyServer.behave({ kind: 'slow' });
      now = T0 + 61_000;
      const refetch = keyServer.nextRequest();
      await oidc.verify(token);
      await refetch; // in flight, never answered (until the server closes after the test)
      for (let i = 0; i < 3; i += 1) assert.equal((await oidc.verify(token)).sub, 'user-1');
      assert.equal(keyServer.requests, 2);
    });

    it('refetches in the background every refreshInterval, dropping keys the provider removed', async function () {
      const oidc = verifier({ refreshInterval: 60_000, cooldown: 60_000 });
      const token = await sign(claims({ exp: S0 + 3600 }));
      await oidc.verify(token);
      keyServer.behave({ kind: 'keys', jwks: { keys: [ec.publicJwk] } });
      now = T0 + 59_000;
      await oidc.verify(token);
      assert.equal(keyServer.requests, 1);
      now = T0 + 61_000;
      const refetch = keyServer.nextRequest();
      await oidc.verify(token); // still the cached key: the refresh runs in the background
      await refetch;
      await oidc.refreshKeys();
      await refused(oidc.verify(token), 'AuthTokenInvalidError', token, /not signed by a known key/);
    });
  });
});
