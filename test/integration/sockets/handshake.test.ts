import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { AGClientSocket } from 'socketcluster-client';
import { connectClient } from '../../helpers/clients.ts';
import { startTestWarden, type TestWarden } from '../../helpers/warden.ts';
import { Revocations } from '../../../auth/revocations.ts';

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Signs header.payload with HMAC by hand, to craft tokens jsonwebtoken would refuse to make. */
function handSigned(header: object, payload: object, key: string, hash = 'sha256'): string {
  const head = `${b64(header)}.${b64(payload)}`;
  return `${head}.${createHmac(hash, Buffer.from(key, 'utf8')).update(head).digest('base64url')}`;
}

describe('WebSocket handshake authentication', function () {
  let warden: TestWarden;
  const sockets: AGClientSocket[] = [];
  let claims: Record<string, unknown>;

  before(async function () {
    warden = await startTestWarden();
    const { user } = await warden.createUser({ subscribe: ['news'] });
    claims = { ...warden.worker.tokens.claimsFor(user) };
  });
  afterEach(function () {
    for (const socket of sockets.splice(0)) socket.disconnect();
  });
  after(async function () {
    await warden.close();
  });

  async function connectWith(token: string) {
    const client = await connectClient(warden.port, { token });
    sockets.push(client.socket);
    return client;
  }

  it('authenticates a valid token in the handshake', async function () {
    const client = await connectWith(warden.worker.tokens.sign(claims as never));
    assert.equal(client.status.isAuthenticated, true);
    assert.equal(client.status.authError, undefined);
  });

  const now = () => Math.floor(Date.now() / 1000);
  const cases: Array<[string, () => string, string]> = [
    [
      'an expired token',
      () => warden.worker.tokens.sign({ ...claims, iat: now() - 100, exp: now() - 10 } as never),
      'AuthTokenExpiredError',
    ],
    [
      'a token signed with another key',
      () => jwt.sign({ ...claims }, 'x'.repeat(40), { algorithm: 'HS256' }),
      'AuthTokenInvalidError',
    ],
    [
      'an alg: none token',
      () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
      'AuthTokenInvalidError',
    ],
    [
      'an HS384 token signed with the right key',
      () => handSigned({ alg: 'HS384', typ: 'JWT' }, claims, warden.config.authKey, 'sha384'),
      'AuthTokenInvalidError',
    ],
    [
      'a token without exp',
      () => {
        const { exp: _exp, ...noExp } = claims;
        return handSigned({ alg: 'HS256', typ: 'JWT' }, noExp, warden.config.authKey);
      },
      'AuthTokenInvalidError',
    ],
    [
      'a token with a tampered payload',
      () => {
        const [head, , sig] = warden.worker.tokens.sign(claims as never).split('.');
        return `${head}.${b64({ ...claims, publish: ['>'] })}.${sig}`;
      },
      'AuthTokenInvalidError',
    ],
    [
      'a token living longer than TOKEN_TTL',
      () => warden.worker.tokens.sign({ ...claims, exp: (claims.iat as number) + 10 * 24 * 3600 } as never),
      'AuthTokenInvalidError',
    ],
    ['garbage', () => 'not.a.jwt', 'AuthTokenInvalidError'],
  ];
  for (const [what, make, errorName] of cases) {
    it(`leaves the socket unauthenticated with ${what} (${errorName})`, async function () {
      const client = await connectWith(make());
      assert.equal(client.status.isAuthenticated, false);
      assert.equal(client.status.authError?.name, errorName);
      // It stays connected and unauthenticated: a subscribe is refused.
      await assert.rejects(client.socket.invoke('whoami', {}), { name: 'InvokeError' });
    });
  }

  it('grants nothing through a __proto__ claim', async function () {
    const payload = JSON.parse(
      JSON.stringify({ ...claims, publish: [] }).replace(
        '"publish":[]',
        '"publish":[],"__proto__":{"publish":[">"]}',
      ),
    ) as object;
    assert.ok(Object.hasOwn(payload, '__proto__'));
    const client = await connectWith(
      handSigned({ alg: 'HS256', typ: 'JWT' }, payload, warden.config.authKey),
    );
    assert.equal(client.status.isAuthenticated, true);
    await assert.rejects(client.socket.invokePublish('news', 1), { name: 'PublishError' });
  });

  it('refuses a revoked token in the handshake and on #authenticate', async function () {
    const token = warden.worker.tokens.sign({ ...claims, jti: `revoked-${Date.now()}` } as never);
    const decoded = jwt.decode(token) as { jti: string; exp: number };
    await warden.worker.control.revoke(Revocations.ofToken(decoded));
    const client = await connectWith(token);
    assert.equal(client.status.isAuthenticated, false);
    assert.equal(client.status.authError?.name, 'AuthTokenRevokedError');
    await assert.rejects(client.socket.authenticate(token), { name: 'AuthTokenRevokedError' });
    assert.equal(client.socket.authState, 'unauthenticated');
  });

  it('refuses a browser handshake from a foreign Origin and lets one without Origin in', async function () {
    await assert.rejects(
      connectClient(warden.port, { origin: 'https://evil.example' }),
      (error: { code?: number }) => {
        assert.equal(error.code, 4503);
        return true;
      },
    );
    const own = await connectClient(warden.port, { origin: warden.url });
    sockets.push(own.socket);
    assert.equal(own.socket.state, 'open');
  });

  it('takes the own origin from its configuration, never from the Host header (DNS rebinding)', async function () {
    const refusedWith = async (options: { origin: string; headers?: Record<string, string> }) => {
      const error = await connectClient(warden.port, options).then(
        (client) => {
          sockets.push(client.socket);
          return null;
        },
        (refusal: { code?: number }) => refusal,
      );
      return error?.code;
    };
    assert.equal(
      await refusedWith({ origin: 'http://evil.example', headers: { host: 'evil.example' } }),
      4503,
    );
    assert.equal(await refusedWith({ origin: `https://127.0.0.1:${warden.port}` }), 4503, 'wrong scheme');
    assert.equal(await refusedWith({ origin: `http://localhost:${warden.port}` }), undefined);
    assert.equal(await refusedWith({ origin: `http://127.0.0.1:${warden.port}` }), undefined);
  });
});
