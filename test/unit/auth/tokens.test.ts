import assert from 'node:assert/strict';
import jwt from 'jsonwebtoken';
import { TokenService } from '../../../auth/tokens.ts';
import type { User } from '../../../store/types.ts';

const KEY = 'k'.repeat(40);

function omit(claims: object, key: string): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...claims };
  delete copy[key];
  return copy;
}
const T0 = Date.UTC(2026, 0, 1);

function user(overrides: Partial<User> = {}): User {
  return {
    id: 'user-1',
    username: 'alice',
    passwordHash: 'x',
    tenant: 'acme',
    roles: ['member'],
    publish: ['chat.*', 'user.{username}.>'],
    subscribe: ['tenant.{tenant}.>'],
    invoke: ['whoami'],
    disabled: false,
    tokensValidFrom: 0,
    createdAt: 0,
    updatedAt: 0,
    ...overrides,
  };
}

describe('auth/tokens TokenService', function () {
  let now = T0;
  const tokens = new TokenService({ key: KEY, ttl: 3600, now: () => now });
  beforeEach(function () {
    now = T0;
  });

  it('issues HS256 tokens with the documented claims and filled placeholders', function () {
    const { token, claims } = tokens.issue(user());
    assert.equal((jwt.decode(token, { complete: true }) as jwt.Jwt).header.alg, 'HS256');
    assert.equal(claims.iat, T0 / 1000);
    assert.equal(claims.exp, T0 / 1000 + 3600);
    assert.deepEqual(claims.publish, ['chat.*', 'user.alice.>']);
    assert.deepEqual(claims.subscribe, ['tenant.acme.>']);
    assert.equal(claims.sub, 'user-1');
    assert.equal(claims.auth_time, claims.iat);
    assert.deepEqual(tokens.verify(token), claims);
  });

  it('verifies tokens with equal claim lists into one shared frozen list each', function () {
    const first = tokens.verify(tokens.issue(user()).token);
    const second = tokens.verify(tokens.issue(user()).token);
    assert.notEqual(first.jti, second.jti);
    assert.equal(first.publish, second.publish);
    assert.equal(first.roles, second.roles);
    assert.ok(Object.isFrozen(first.publish));
    const other = tokens.verify(tokens.issue(user({ username: 'bob' })).token);
    assert.notEqual(other.publish, first.publish);
    assert.deepEqual(other.publish, ['chat.*', 'user.bob.>']);
  });

  it('gives every token a new jti and keeps the session across renewals', function () {
    const first = tokens.claimsFor(user());
    now += 1000;
    const second = tokens.claimsFor(user(), { sid: first.sid, authTime: first.auth_time });
    assert.notEqual(first.jti, second.jti);
    assert.equal(second.sid, first.sid);
    assert.equal(second.auth_time, first.auth_time);
  });

  it('never issues a token below the user cut-off', function () {
    const claims = tokens.claimsFor(user({ tokensValidFrom: T0 / 1000 + 1 }));
    assert.equal(claims.iat, T0 / 1000 + 1);
  });

  it('rejects an expired token with AuthTokenExpiredError at exp, with a frozen clock', function () {
    const { token } = tokens.issue(user());
    now = T0 + 3599_000;
    tokens.verify(token);
    now = T0 + 3600_000;
    assert.throws(() => tokens.verify(token), { name: 'AuthTokenExpiredError' });
  });

  it('rejects other keys, other algorithms, alg none, missing claims and over-long lifetimes', function () {
    const claims = tokens.claimsFor(user());
    const bad = [
      jwt.sign(claims, 'other'.repeat(10), { algorithm: 'HS256' }),
      jwt.sign(claims, KEY, { algorithm: 'HS384' }),
      jwt.sign(claims, KEY, { algorithm: 'HS512' }),
      jwt.sign(omit(claims, 'exp'), KEY, { algorithm: 'HS256' }),
      jwt.sign(omit(claims, 'jti'), KEY, { algorithm: 'HS256' }),
      jwt.sign({ ...claims, sub: 7 }, KEY, { algorithm: 'HS256' }),
      jwt.sign({ ...claims, publish: 'chat.*' }, KEY, { algorithm: 'HS256' }),
      jwt.sign({ ...claims, exp: claims.iat + 7200 }, KEY, { algorithm: 'HS256' }),
      jwt.sign({ ...claims, iat: claims.iat + 600, exp: claims.iat + 900 }, KEY, { algorithm: 'HS256' }),
      `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`,
      '',
      'a.b.c',
    ];
    for (const token of bad)
      assert.throws(() => tokens.verify(token), { name: 'AuthTokenInvalidError' }, token);
    assert.throws(() => tokens.verify(undefined), { name: 'AuthTokenInvalidError' });
  });

  it('reads only allow-listed own claims into a frozen object', function () {
    const claims = tokens.claimsFor(user());
    // A JSON string payload, so that `__proto__` arrives as an own property, as from an attacker.
    const raw = `{${JSON.stringify(claims).slice(1, -1)},"admin":true,"__proto__":{"publish":[">"]},"constructor":"x"}`;
    const token = jwt.sign(raw, KEY, { algorithm: 'HS256' });
    const verified = tokens.verify(token);
    assert.equal(Object.hasOwn(verified, 'admin'), false);
    assert.equal(Object.hasOwn(verified, '__proto__'), false);
    assert.deepEqual(verified.publish, claims.publish);
    assert.equal(Object.isFrozen(verified), true);
    assert.equal(Object.isFrozen(verified.publish), true);
  });

  it('refuses a token whose crit header names an extension (RFC 7515 section 4.1.11)', function () {
    const { claims } = tokens.issue(user());
    for (const crit of [['b64'], ['exp'], [], 'b64']) {
      const token = jwt.sign({ ...claims }, tokens.key, {
        algorithm: 'HS256',
        header: { alg: 'HS256', crit } as unknown as jwt.JwtHeader,
      });
      assert.throws(() => tokens.verify(token), { name: 'AuthTokenInvalidError' }, JSON.stringify(crit));
    }
  });

  it('takes iat from when the user was read, not from when the token was signed', function () {
    const { claims } = tokens.issue(user(), undefined, T0 - 5000);
    assert.equal(claims.iat, Math.floor(T0 / 1000) - 5);
  });
});
