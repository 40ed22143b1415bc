import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  decodeJwt,
  decodeProtectedHeader,
  exportSPKI,
  importJWK,
  SignJWT,
  type CryptoKey,
  type JWTPayload,
} from 'jose';
import { createMemoryReplayCache, verifyLogoutToken, type ReplayCache } from '../../../auth/oidc-logout.ts';
import {
  createOidcVerifier,
  type OidcVerifier,
  type OidcVerifierOptions,
} from '../../../auth/oidc-verifier.ts';
import { WardenError } from '../../../errors/catalogue.ts';
import {
  CLIENT_ID,
  publicJwks,
  startJwksServer,
  startOidcProvider,
  type JwksServer,
  type TestOidcProvider,
} from '../../helpers/oidc-provider.ts';

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** Generous bound for "refused quickly" under a loaded machine; the endpoints below hang forever. */
const FETCH_TIMEOUT = 500;

async function refusal(promise: Promise<unknown>): Promise<WardenError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof WardenError, `expected a WardenError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a refusal');
}

async function refusedAs(
  promise: Promise<unknown>,
  name: string,
  pattern: RegExp,
  token?: string,
): Promise<void> {
  const error = await refusal(promise);
  assert.equal(error.name, name, error.message);
  assert.match(error.message, pattern);
  if (token !== undefined)
    assert.ok(!error.message.includes(token.split('.')[1] ?? token), 'the message quotes the token');
}

describe('OIDC access and logout tokens from a real OpenID provider (oidc-provider)', function () {
  this.timeout(60_000);
  let idp: TestOidcProvider;
  let replays: ReplayCache;

  before(async function () {
    idp = await startOidcProvider();
  });

  after(async function () {
    await idp.close();
  });

  beforeEach(function () {
    replays = createMemoryReplayCache();
  });

  function verifier(options: Partial<OidcVerifierOptions> = {}): OidcVerifier {
    return createOidcVerifier({
      issuer: idp.issuer,
      audiences: [CLIENT_ID],
      fetchTimeout: FETCH_TIMEOUT,
      ...options,
    });
  }

  /** The Keycloak-shaped claims of an access token at the provider, for tokens the test signs itself. */
  function keycloakClaims(overrides: JWTPayload = {}): JWTPayload {
    const iat = Math.floor(Date.now() / 1000);
    return {
      iss: idp.issuer,
      sub: 'alice',
      aud: 'account',
      azp: CLIENT_ID,
      typ: 'Bearer',
      iat,
      exp: iat + 300,
      preferred_username: 'alice',
      realm_access: { roles: ['chat'] },
      ...overrides,
    };
  }

  describe('access tokens', function () {
    it('accepts a Keycloak-shaped access token through discovery, with username, roles and session', async function () {
      const session = await idp.login({ account: 'alice', roles: ['chat', 'moderator'] });
      assert.equal(decodeProtectedHeader(session.accessToken).typ, 'JWT');
      const identity = await verifier().verify(session.accessToken);
      assert.equal(identity.issuer, idp.issuer);
      assert.equal(identity.sub, 'alice');
      assert.equal(identity.username, 'alice');
      assert.deepEqual(identity.roles, ['chat', 'moderator']);
      assert.equal(identity.sid, session.sid);
      assert.equal(identity.azp, CLIENT_ID);
      assert.equal(identity.exp, decodeJwt(session.accessToken).exp);
    });

    it('accepts ES256, RFC 9068-shaped (typ at+jwt) and client-credentials tokens', async function () {
      const oidc = verifier();
      const es = await idp.mintAccessToken({ account: 'bob', roles: ['r'], alg: 'ES256', shape: 'rfc9068' });
      assert.deepEqual(decodeProtectedHeader(es).alg, 'ES256');
      assert.equal(decodeJwt(es).typ, undefined);
      assert.deepEqual((await oidc.verify(es)).roles, ['r']);
      const service = await oidc.verify(await idp.clientCredentialsToken({ roles: ['svc'] }));
      assert.equal(service.username, `service-account-${CLIENT_ID}`);
      assert.equal(service.sub, CLIENT_ID);
      assert.deepEqual(service.roles, ['svc']);
    });

    it('refuses an expired token by the injected clock, after the tolerance', async function () {
      let now = Date.now();
      const oidc = verifier({ clockTolerance: 30, now: () => now });
      const token = await idp.mintAccessToken({ account: 'carol' });
      const exp = decodeJwt(token).exp as number;
      now = (exp + 29) * 1000;
      await oidc.verify(token);
      now = (exp + 31) * 1000;
      await refusedAs(oidc.verify(token), 'AuthTokenExpiredError', /expired/, token);
    });

    it('refuses tokens of another issuer and for another audience', async function () {
      const token = await idp.mintAccessToken({ account: 'dave' });
      const otherIssuer = verifier({ issuer: `${idp.issuer}/realms/other`, jwksUri: idp.jwksUri });
      await refusedAs(otherIssuer.verify(token), 'AuthTokenInvalidError', /another issuer/, token);
      await refusedAs(
        verifier({ audiences: ['other-app'] }).verify(token),
        'AuthTokenInvalidError',
        /another audience/,
        token,
      );
      // A token of another client of the same realm: aud "account", azp "other-app".
      const other = await idp.sign(keycloakClaims({ azp: 'other-app' }), { typ: 'JWT' });
      await refusedAs(verifier().verify(other), 'AuthTokenInvalidError', /another audience/, other);
    });

    it('refuses alg none and HS256 signed with the provider’s public RSA key as the secret', async function () {
      const oidc = verifier();
      await oidc.verify(await idp.mintAccessToken({ account: 'erin' })); // keys cached
      const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(keycloakClaims())}.`;
      await refusedAs(oidc.verify(none), 'AuthTokenInvalidError', /algorithm that is not allowed/);
      // The key as every client can fetch it from the jwks_uri.
      const published = (await (await fetch(idp.jwksUri)).json()) as { keys: { kid: string; kty: string }[] };
      const jwk = published.keys.find((key) => key.kty === 'RSA');
      assert.ok(jwk !== undefined);
      const pem = await exportSPKI(
        (await importJWK({ ...jwk, alg: 'RS256' }, 'RS256', { extractable: true })) as CryptoKey,
      );
      for (const secret of [pem, JSON.stringify(jwk)]) {
        const forged = await new SignJWT(keycloakClaims({ realm_access: { roles: ['admin'] } }))
          .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: jwk.kid })
          .sign(new TextEncoder().encode(secret));
        await refusedAs(
          oidc.verify(forged),
          'AuthTokenInvalidError',
          /algorithm that is not allowed/,
          forged,
        );
      }
    });

    it('refuses refresh tokens and ID tokens of the same provider', async function () {
      const oidc = verifier();
      const session = await idp.login({ account: 'frank' });
      // The provider's own ID token: no typ anywhere, aud = the client.
      assert.equal(decodeProtectedHeader(session.idToken).typ, undefined);
      await refusedAs(
        oidc.verify(session.idToken),
        'AuthTokenInvalidError',
        /does not say it is an access token/,
      );
      // Keycloak's refresh and ID tokens, signed with the provider's own key.
      const refresh = await idp.sign(keycloakClaims({ typ: 'Refresh', aud: idp.issuer }), { typ: 'JWT' });
      await refusedAs(oidc.verify(refresh), 'AuthTokenInvalidError', /refresh token/, refresh);
      const id = await idp.sign(keycloakClaims({ typ: 'ID', aud: CLIENT_ID, nonce: 'n' }), { typ: 'JWT' });
      await refusedAs(oidc.verify(id), 'AuthTokenInvalidError', /ID token/, id);
      // Keycloak signs its refresh tokens with the realm's HMAC key: refused by algorithm, and said so.
      const hmac = await new SignJWT(keycloakClaims({ typ: 'Refresh' }))
        .setProtectedHeader({ alg: 'HS512', typ: 'JWT' })
        .sign(new TextEncoder().encode('r'.repeat(64)));
      await refusedAs(oidc.verify(hmac), 'AuthTokenInvalidError', /not allowed.*"Refresh" token/);
    });
  });

  describe('key rotation and an unavailable key set', function () {
    let rotating: TestOidcProvider;

    beforeEach(async function () {
      rotating = await startOidcProvider();
    });

    afterEach(async function () {
      await rotating.close();
    });

    it('accepts a new kid after a rotation at the provider without a new verifier', async function () {
      const oidc = createOidcVerifier({ issuer: rotating.issuer, audiences: [CLIENT_ID], cooldown: 0 });
      const before = await rotating.mintAccessToken({ account: 'gina', roles: ['a'] });
      await oidc.verify(before);
      const oldKid = rotating.keys.rsa.kid;
      await rotating.rotateKeys();
      const after = await rotating.mintAccessToken({ account: 'gina', roles: ['a'] });
      assert.notEqual(decodeProtectedHeader(after).kid, oldKid);
      assert.equal((await oidc.verify(after)).username, 'gina');
      // The old key is no longer published: its tokens are refused from the refetched set on.
      await refusedAs(oidc.verify(before), 'AuthTokenInvalidError', /not signed by a known key/);
    });

    it('within the cooldown, a new kid is refused without refetching; rotated-out passive keys keep working', async function () {
      const oidc = createOidcVerifier({ issuer: rotating.issuer, audiences: [CLIENT_ID], cooldown: 600_000 });
      const before = await rotating.mintAccessToken({ account: 'hal' });
      await oidc.verify(before);
      const fetched = rotating.jwksRequests;
      assert.equal(fetched, 1);
      await rotating.rotateKeys({ keepOld: true });
      const after = await rotating.mintAccessToken({ account: 'hal' });
      await refusedAs(oidc.verify(after), 'AuthTokenInvalidError', /not signed by a known key/, after);
      await refusedAs(oidc.verify(after), 'AuthTokenInvalidError', /not signed by a known key/, after);
      assert.equal(rotating.jwksRequests, fetched, 'no refetch within the cooldown');
      await oidc.verify(before);
      // An operator (or the background refresh) can reload at once.
      await oidc.refreshKeys();
      assert.equal((await oidc.verify(after)).username, 'hal');
      assert.equal((await oidc.verify(before)).username, 'hal');
    });

    it('with the provider down, a cached kid still works and an unknown kid is refused at once', async function () {
      const oidc = createOidcVerifier({
        issuer: rotating.issuer,
        audiences: [CLIENT_ID],
        cooldown: 0,
        fetchTimeout: FETCH_TIMEOUT,
      });
      const cached = await rotating.mintAccessToken({ account: 'ivy', roles: ['x'] });
      await oidc.verify(cached);
      const unknown = await rotating.sign(keycloakClaims(), { kid: 'not-published', typ: 'JWT' });
      await rotating.stop();
      assert.deepEqual((await oidc.verify(cached)).roles, ['x']);
      await refusedAs(oidc.verify(unknown), 'AuthTokenInvalidError', /keys could not be fetched/, unknown);
      assert.deepEqual((await oidc.verify(cached)).roles, ['x']);
      await rotating.start();
      await refusedAs(oidc.verify(unknown), 'AuthTokenInvalidError', /not signed by a known key/, unknown);
    });

    it('before the provider was ever reached, every token is refused (fail closed), also after its recovery it works', async function () {
      const token = await rotating.mintAccessToken({ account: 'jo' });
      await rotating.stop();
      const oidc = createOidcVerifier({
        issuer: rotating.issuer,
        audiences: [CLIENT_ID],
        cooldown: 0,
        fetchTimeout: FETCH_TIMEOUT,
      });
      await refusedAs(oidc.verify(token), 'AuthTokenInvalidError', /metadata could not be fetched/, token);
      await rotating.start();
      assert.equal((await oidc.verify(token)).username, 'jo');
    });
  });

  describe('a slow or broken jwks_uri', function () {
    let jwks: JwksServer;

    beforeEach(async function () {
      jwks = await startJwksServer({ kind: 'keys', jwks: publicJwks(idp.keys.rsa, idp.keys.ec) });
    });

    afterEach(async function () {
      await jwks.close();
    });

    function pinned(options: Partial<OidcVerifierOptions> = {}): OidcVerifier {
      return verifier({ jwksUri: jwks.url, cooldown: 0, ...options });
    }

    it('a hung endpoint: an unknown kid is refused within the bound while cached kids pass meanwhile', async function () {
      const oidc = pinned();
      const cached = await idp.mintAccessToken({ account: 'kim', roles: ['k'] });
      await oidc.verify(cached);
      jwks.behave({ kind: 'slow' });
      const unknown = await idp.sign(keycloakClaims(), { kid: 'rotated-in', typ: 'JWT' });
      const arrived = jwks.nextRequest();
      const started = Date.now();
      const pending = refusal(oidc.verify(unknown));
      await arrived; // the refetch is in flight and will never be answered
      for (let i = 0; i < 5; i += 1) assert.deepEqual((await oidc.verify(cached)).roles, ['k']);
      const error = await pending;
      const waited = Date.now() - started;
      assert.equal(error.name, 'AuthTokenInvalidError');
      assert.match(error.message, /did not arrive in time/);
      assert.ok(waited >= FETCH_TIMEOUT - 50, `refused after ${waited} ms, before the timeout`);
      assert.ok(waited < FETCH_TIMEOUT + 10_000, `refused after ${waited} ms`);
    });

    it('a hung endpoint on the very first fetch: refused within the bound', async function () {
      jwks.behave({ kind: 'slow' });
      const token = await idp.mintAccessToken({ account: 'lee' });
      await refusedAs(pinned().verify(token), 'AuthTokenInvalidError', /did not arrive in time/, token);
    });

    it('garbage (HTML, a non-set, an error status, an oversized body): cached kids pass, unknown ones are refused', async function () {
      const oidc = pinned();
      const cached = await idp.mintAccessToken({ account: 'max' });
      await oidc.verify(cached);
      const unknown = await idp.sign(keycloakClaims(), { kid: 'rotated-in', typ: 'JWT' });
      const bodies = [
        { kind: 'garbage', body: '<html>502 Bad Gateway</html>' },
        { kind: 'garbage', body: '{"keys":"none"}' },
        { kind: 'garbage', body: '{}', status: 500 },
        { kind: 'garbage', body: `{"keys":[],"pad":"${'x'.repeat(300 * 1024)}"}` },
      ] as const;
      for (const behaviour of bodies) {
        jwks.behave(behaviour);
        const before = jwks.requests;
        await refusedAs(
          oidc.verify(unknown),
          'AuthTokenInvalidError',
          /not signed by a known key|could not be fetched|unsupported/,
          unknown,
        );
        assert.equal(jwks.requests, before + 1, `${behaviour.body.slice(0, 20)} was fetched`);
        assert.equal(
          (await oidc.verify(cached)).username,
          'max',
          `${behaviour.body.slice(0, 20)} dropped the cached key`,
        );
      }
    });
  });

  describe('back-channel logout tokens', function () {
    it('accepts the provider’s own back-channel logout once and refuses its replay', async function () {
      const oidc = verifier();
      const session = await idp.login({ account: 'nora' });
      const delivered = idp.backchannel.next();
      await session.logout();
      const logoutToken = await delivered;
      const request = await verifyLogoutToken(oidc, logoutToken, { replays });
      assert.equal(request.sid, session.sid);
      assert.equal(request.sub, 'nora');
      assert.equal(typeof request.jti, 'string');
      const replay = await refusal(verifyLogoutToken(oidc, logoutToken, { replays }));
      assert.equal(replay.name, 'BadRequestError');
      assert.equal(replay.reason, 'logout-token-replayed');
    });

    it('an endpoint built on verifyLogoutToken answers the provider 200, and 400 to a replay', async function () {
      const oidc = verifier();
      const ended: string[] = [];
      const endpoint = createServer((request, response) => {
        let body = '';
        request.setEncoding('utf8');
        request.on('data', (chunk: string) => (body += chunk));
        request.on('end', () => {
          verifyLogoutToken(oidc, new URLSearchParams(body).get('logout_token'), { replays }).then(
            (logout) => {
              ended.push(logout.sid ?? '');
              response.writeHead(200).end();
            },
            (error: WardenError) => response.writeHead(error.status).end(),
          );
        });
      });
      endpoint.listen(0, '127.0.0.1');
      await once(endpoint, 'listening');
      idp.backchannel.forwardTo(`http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/`);
      try {
        const session = await idp.login({ account: 'pia' });
        await session.logout();
        assert.deepEqual(ended, [session.sid]);
        const delivered = await idp.backchannel.next();
        // The provider itself, for a session id nobody knows: still a valid token, still 200.
        await idp.sendBackchannelLogout('pia', 'unknown-sid');
        assert.deepEqual(ended, [session.sid, 'unknown-sid']);
        await idp.backchannel.next();
        // A replay of the first token through the same route is refused.
        const replayed = await fetch(idp.backchannel.url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ logout_token: delivered }),
        });
        assert.equal(replayed.status, 400);
        await idp.backchannel.next();
      } finally {
        idp.backchannel.forwardTo(null);
        endpoint.close();
      }
    });

    it('logout() rejects when the back-channel endpoint refuses the token', async function () {
      const endpoint = createServer((_request, response) => response.writeHead(400).end());
      endpoint.listen(0, '127.0.0.1');
      await once(endpoint, 'listening');
      idp.backchannel.forwardTo(`http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/`);
      try {
        const session = await idp.login({ account: 'quinn' });
        await assert.rejects(session.logout(), /could not deliver/);
        await idp.backchannel.next();
      } finally {
        idp.backchannel.forwardTo(null);
        endpoint.close();
      }
    });

    describe('refusals', function () {
      function logoutClaims(overrides: JWTPayload = {}): JWTPayload {
        const iat = Math.floor(Date.now() / 1000);
        return {
          iss: idp.issuer,
          aud: CLIENT_ID,
          iat,
          exp: iat + 120,
          jti: `jti-${Math.random()}`,
          sub: 'nora',
          sid: 'session-1',
          events: { [BACKCHANNEL_EVENT]: {} },
          ...overrides,
        };
      }

      async function refusedLogout(
        payload: JWTPayload,
        pattern: RegExp,
        typ: string | undefined = 'logout+jwt',
      ) {
        const token = await idp.sign(payload, typ === undefined ? {} : { typ });
        const error = await refusal(verifyLogoutToken(verifier(), token, { replays }));
        assert.equal(error.name, 'BadRequestError', error.message);
        assert.equal(error.reason, 'invalid-logout-token');
        assert.match(error.message, pattern);
        assert.ok(!error.message.includes(token.split('.')[1] ?? ''), 'the message quotes the token');
      }

      it('accepts a well-formed one (sid only, sub only, no typ header)', async function () {
        const oidc = verifier();
        const sidOnly = await idp.sign(logoutClaims({ sub: undefined }), { typ: 'logout+jwt' });
        assert.deepEqual(await verifyLogoutToken(oidc, sidOnly, { replays }), {
          sid: 'session-1',
          jti: decodeJwt(sidOnly).jti,
          iat: decodeJwt(sidOnly).iat,
        });
        const subOnly = await idp.sign(logoutClaims({ sid: undefined }), { alg: 'ES256' });
        assert.equal((await verifyLogoutToken(oidc, subOnly, { replays })).sub, 'nora');
      });

      it('without the events claim or its member, or with a non-object member', async function () {
        await refusedLogout(logoutClaims({ events: undefined }), /"events"/);
        await refusedLogout(logoutClaims({ events: { 'http://example.com/other': {} } }), /"events"/);
        await refusedLogout(logoutClaims({ events: { [BACKCHANNEL_EVENT]: true } }), /not an object/);
        await refusedLogout(logoutClaims({ events: [BACKCHANNEL_EVENT] }), /"events"/);
      });

      it('naming neither sid nor sub, with a nonce, or without jti or iat', async function () {
        await refusedLogout(logoutClaims({ sid: undefined, sub: undefined }), /neither/);
        await refusedLogout(logoutClaims({ nonce: 'n' }), /nonce/);
        await refusedLogout(logoutClaims({ jti: undefined }), /"jti"/);
        await refusedLogout(logoutClaims({ iat: undefined }), /"iat"/);
      });

      it('of another audience or issuer, or of another JWT type', async function () {
        await refusedLogout(logoutClaims({ aud: 'account' }), /another audience/);
        await refusedLogout(logoutClaims({ iss: 'https://evil.example' }), /another issuer/);
        await refusedLogout(logoutClaims(), /header type "JWT"/, 'JWT');
        await refusedLogout(logoutClaims(), /header type "at\+jwt"/, 'at+jwt');
      });

      it('an access token or an ID token of the provider offered as a logout token', async function () {
        const session = await idp.login({ account: 'olga' });
        for (const token of [session.accessToken, session.idToken]) {
          const error = await refusal(verifyLogoutToken(verifier(), token, { replays }));
          assert.equal(error.name, 'BadRequestError');
          assert.equal(error.reason, 'invalid-logout-token');
        }
      });
    });
  });
});
