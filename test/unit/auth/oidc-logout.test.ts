import assert from 'node:assert/strict';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { createMemoryReplayCache, verifyLogoutToken, type ReplayCache } from '../../../auth/oidc-logout.ts';
import { createOidcVerifier, type OidcVerifier } from '../../../auth/oidc-verifier.ts';
import { WardenError } from '../../../errors/catalogue.ts';
import { startJwksServer, type JwksServer } from '../../helpers/oidc-provider.ts';

const T0 = Date.UTC(2026, 0, 1);
const S0 = T0 / 1000;
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

describe('auth/oidc-logout', function () {
  describe('createMemoryReplayCache', function () {
    it('answers true once per key until the key expires', async function () {
      let now = T0;
      const cache = createMemoryReplayCache({ now: () => now });
      assert.equal(await cache.firstUse('a', S0 + 10), true);
      assert.equal(await cache.firstUse('a', S0 + 10), false);
      assert.equal(await cache.firstUse('b', S0 + 10), true);
      now = T0 + 9_000;
      assert.equal(await cache.firstUse('a', S0 + 20), false);
      now = T0 + 11_000;
      assert.equal(await cache.firstUse('a', S0 + 30), true, 'expired entries are forgotten');
      assert.equal(await cache.firstUse('a', S0 + 30), false);
    });

    it('keeps at most maxEntries, dropping the oldest', async function () {
      const cache = createMemoryReplayCache({ now: () => T0, maxEntries: 2 });
      await cache.firstUse('a', S0 + 100);
      await cache.firstUse('b', S0 + 100);
      await cache.firstUse('c', S0 + 100);
      assert.equal(await cache.firstUse('c', S0 + 100), false);
      assert.equal(await cache.firstUse('a', S0 + 100), true, 'the oldest was dropped');
      assert.throws(() => createMemoryReplayCache({ maxEntries: 0 }), /maxEntries/);
    });
  });

  describe('verifyLogoutToken', function () {
    let key: { privateKey: CryptoKey; publicJwk: JWK };
    let keyServer: JwksServer;
    let oidc: OidcVerifier;
    let replays: ReplayCache;
    let now = T0;

    before(async function () {
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      key = {
        privateKey,
        publicJwk: { ...(await exportJWK(publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
      };
      keyServer = await startJwksServer({ kind: 'keys', jwks: { keys: [key.publicJwk] } });
    });

    after(async function () {
      await keyServer.close();
    });

    beforeEach(function () {
      now = T0;
      replays = createMemoryReplayCache({ now: () => now });
      oidc = createOidcVerifier({
        issuer: keyServer.issuer,
        audiences: ['warden-app', 'warden-admin'],
        jwksUri: keyServer.url,
        clockTolerance: 10,
        now: () => now,
      });
    });

    function claims(overrides: JWTPayload = {}): JWTPayload {
      return {
        iss: keyServer.issuer,
        aud: 'warden-app',
        iat: S0,
        jti: `jti-${Math.random()}`,
        sid: 'sid-1',
        events: { [EVENT]: {} },
        ...overrides,
      };
    }

    function sign(payload: JWTPayload, typ: string | undefined = 'logout+jwt'): Promise<string> {
      return new SignJWT(payload)
        .setProtectedHeader({ alg: 'ES256', kid: 'ec-1', ...(typ === undefined ? {} : { typ }) })
        .sign(key.privateKey);
    }

    async function refused(token: unknown, pattern: RegExp, reason = 'invalid-logout-token'): Promise<void> {
      try {
        await verifyLogoutToken(oidc, token, { replays, maxAge: 300 });
      } catch (error) {
        assert.ok(error instanceof WardenError, String(error));
        assert.equal(error.name, 'BadRequestError');
        assert.equal(error.reason, reason);
        assert.match(error.message, pattern);
        if (typeof token === 'string') assert.ok(!error.message.includes(token.split('.')[1] ?? ''));
        return;
      }
      assert.fail('expected a refusal');
    }

    it('returns sid, sub, jti and iat, frozen; aud may be a list; typ may be absent or application/logout+jwt', async function () {
      const request = await verifyLogoutToken(oidc, await sign(claims({ jti: 'j1', sub: 'u1' })), {
        replays,
      });
      assert.deepEqual(request, { sub: 'u1', sid: 'sid-1', jti: 'j1', iat: S0 });
      assert.ok(Object.isFrozen(request));
      const list = await sign(claims({ aud: ['other', 'warden-admin'] }), undefined);
      assert.equal((await verifyLogoutToken(oidc, list, { replays })).sid, 'sid-1');
      const media = await sign(claims(), 'application/logout+JWT');
      assert.equal((await verifyLogoutToken(oidc, media, { replays })).sid, 'sid-1');
    });

    it('refuses a replayed jti until the token is too old anyway, and then by its age', async function () {
      const token = await sign(claims({ jti: 'once' }));
      await verifyLogoutToken(oidc, token, { replays, maxAge: 300 });
      await refused(token, /used before/, 'logout-token-replayed');
      now = T0 + 305_000;
      await refused(token, /used before/, 'logout-token-replayed');
      now = T0 + 311_000;
      await refused(token, /issued too long ago/);
    });

    it('the same jti of another issuer is no replay', async function () {
      await replays.firstUse('https://other.example same', S0 + 300);
      await verifyLogoutToken(oidc, await sign(claims({ jti: 'same' })), { replays });
    });

    it('refuses a logout token from the future or expired', async function () {
      await refused(await sign(claims({ iat: S0 + 60 })), /iat/);
      await refused(await sign(claims({ exp: S0 - 11 })), /expired/);
    });

    it('refuses invalid sub, sid or jti claims, and a token that is no JWS', async function () {
      await refused(await sign(claims({ sub: 42 as unknown as string })), /"sub"/);
      await refused(await sign(claims({ sid: '' })), /"sid"/);
      await refused(await sign(claims({ jti: 7 as unknown as string })), /"jti"/);
      await refused(undefined, /non-empty string/);
      await refused('a.b.c.d.e', /not a signed JWT/);
      const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.`;
      await refused(none, /not allowed/);
    });
  });
});
