import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import {
  createGatewayRequestReader,
  gatewayClaims,
  parseGatewayIdentity,
} from '../../../auth/gateway-identity.ts';
import type { Logger } from '../../../log/logger.ts';

const names = { usernameClaim: 'preferred_username', rolesClaim: 'realm_access.roles' };
const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');

function reason(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    assert.equal((error as Error).name, 'GatewayIdentityError');
    return (error as { reason?: string }).reason;
  }
  throw new Error('expected a GatewayIdentityError');
}

function request(peer: string, headers: Record<string, string>): IncomingMessage {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { headers: lower, socket: { remoteAddress: peer } } as unknown as IncomingMessage;
}

describe('gateway identity', function () {
  describe('parseGatewayIdentity', function () {
    it('reads sub, the username claim and the roles at their dot path (APISIX userinfo, base64 JSON)', function () {
      const header = encode({
        sub: 'u1',
        preferred_username: 'ann',
        realm_access: { roles: ['chat', 'chat', 7] },
      });
      assert.deepEqual(parseGatewayIdentity(header, names), { sub: 'u1', username: 'ann', roles: ['chat'] });
      assert.deepEqual(
        parseGatewayIdentity(encode({ sub: 'u1', email: 'a@x' }), { ...names, usernameClaim: 'email' }),
        {
          sub: 'u1',
          username: 'a@x',
          roles: [],
        },
      );
      // URL-safe base64 too.
      const urlSafe = Buffer.from(JSON.stringify({ sub: 'u?>', preferred_username: 'ü?>' })).toString(
        'base64url',
      );
      assert.equal(parseGatewayIdentity(urlSafe, names).username, 'ü?>');
    });

    it('refuses what is not base64 JSON with sub and username, naming why', function () {
      assert.equal(
        reason(() => parseGatewayIdentity('not base64!', names)),
        'invalid-identity',
      );
      assert.equal(
        reason(() => parseGatewayIdentity(Buffer.from('{').toString('base64'), names)),
        'invalid-identity',
      );
      assert.equal(
        reason(() => parseGatewayIdentity(encode(['a']), names)),
        'invalid-identity',
      );
      assert.equal(
        reason(() => parseGatewayIdentity(encode({ preferred_username: 'a' }), names)),
        'invalid-identity',
      );
      assert.equal(
        reason(() => parseGatewayIdentity(encode({ sub: 'a' }), names)),
        'invalid-identity',
      );
      assert.equal(
        reason(() => parseGatewayIdentity(encode({ sub: 1, preferred_username: 'a' }), names)),
        'invalid-identity',
      );
      // A header a proxy appended to instead of replacing: two values, refused rather than mixed.
      const one = encode({ sub: 'a', preferred_username: 'a' });
      assert.equal(
        reason(() => parseGatewayIdentity(`${one}, ${one}`, names)),
        'invalid-identity',
      );
      assert.equal(
        reason(() => parseGatewayIdentity('A'.repeat(17_000), names)),
        'invalid-identity',
      );
    });

    it('makes direct claims with the patterns filled in and exp at SESSION_MAX_AGE', function () {
      const permissions = { publish: ['user.{username}.>'], subscribe: ['chat.*'], invoke: [] };
      const claims = gatewayClaims({ sub: 's', username: 'ann', roles: ['r'] }, permissions, 1000, 3600);
      assert.deepEqual(claims.publish, ['user.ann.>']);
      assert.equal(claims.exp, 4600);
      assert.equal(claims.auth_time, 1000);
      assert.equal(claims.direct, true);
      assert.equal(claims.idp, 'gateway');
      assert.notEqual(
        gatewayClaims({ sub: 's', username: 'ann', roles: [] }, permissions, 1000, 3600).sid,
        claims.sid,
      );
    });
  });

  describe('createGatewayRequestReader', function () {
    const secret = 's'.repeat(32);
    let warnings: Array<Record<string, unknown> | undefined>;
    let now: number;
    const log: Logger = { debug() {}, info() {}, error() {}, warn: (_m, fields) => warnings.push(fields) };
    const make = () =>
      createGatewayRequestReader({
        identityHeader: 'x-userinfo',
        trustedProxies: ['10.0.0.0/8'],
        secretHeader: 'x-gateway-secret',
        secret,
        log,
        now: () => now,
      });
    beforeEach(function () {
      warnings = [];
      now = 0;
    });

    it('reads the header only from a trusted peer with the exact secret', function () {
      const read = make();
      const id = encode({ sub: 'a' });
      assert.deepEqual(read(request('10.1.2.3', { 'X-Userinfo': id, 'X-Gateway-Secret': secret })), {
        via: 'gateway',
        identity: id,
      });
      assert.deepEqual(read(request('::ffff:10.1.2.3', { 'X-Gateway-Secret': secret })), {
        via: 'gateway',
        identity: null,
      });
      assert.deepEqual(read(request('192.0.2.1', { 'X-Userinfo': id, 'X-Gateway-Secret': secret })), {
        via: 'direct',
      });
      assert.deepEqual(read(request('10.1.2.3', { 'X-Userinfo': id })), { via: 'direct' });
      assert.deepEqual(read(request('10.1.2.3', { 'X-Userinfo': id, 'X-Gateway-Secret': `${secret}x` })), {
        via: 'direct',
      });
      assert.deepEqual(read(request('10.1.2.3', { 'X-Userinfo': id, 'X-Gateway-Secret': secret.slice(1) })), {
        via: 'direct',
      });
      // A direct upgrade without the header is no forgery.
      assert.deepEqual(read(request('192.0.2.1', {})), { via: 'direct' });
      assert.equal(read.ignored, 4);
    });

    it('warns at most once a minute, with the count since the last warning', function () {
      const read = make();
      const forged = request('192.0.2.1', { 'X-Userinfo': 'x' });
      for (let i = 0; i < 5; i++) read(forged);
      assert.equal(warnings.length, 1);
      now = 59_999;
      read(forged);
      assert.equal(warnings.length, 1);
      now = 60_000;
      read(forged);
      assert.equal(warnings.length, 2);
      assert.equal(warnings[1]?.count, 6);
      assert.equal(warnings[1]?.total, 7);
      assert.equal(JSON.stringify(warnings).includes(secret), false);
    });

    it('refuses options that would trust everyone', function () {
      assert.throws(
        () =>
          createGatewayRequestReader({
            identityHeader: 'x',
            trustedProxies: [],
            secretHeader: null,
            secret: null,
            log,
          }),
        TypeError,
      );
      assert.throws(
        () =>
          createGatewayRequestReader({
            identityHeader: 'x',
            trustedProxies: ['10.0.0.1'],
            secretHeader: 'y',
            secret: null,
            log,
          }),
        TypeError,
      );
    });
  });
});
