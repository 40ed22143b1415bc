import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import { TokenService, type TokenClaims } from '../../../auth/tokens.ts';
import { WardenError } from '../../../errors/catalogue.ts';
import type { User } from '../../../store/types.ts';

const RUNS = { numRuns: 200 };
const KEY = 'k'.repeat(40);
const T0 = Date.UTC(2026, 0, 1);
const tokens = new TokenService({ key: KEY, ttl: 3600, now: () => T0 });

const ALLOWED = [
  'sub',
  'username',
  'tenant',
  'roles',
  'publish',
  'subscribe',
  'invoke',
  'jti',
  'iat',
  'exp',
  'sid',
  'auth_time',
];

const words = fc.array(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 4 });
const user: fc.Arbitrary<User> = fc.record({
  id: fc.uuid(),
  username: fc.string({ minLength: 1, maxLength: 20 }),
  passwordHash: fc.constant('x'),
  tenant: fc.option(fc.string({ minLength: 1, maxLength: 10 }), { nil: null }),
  roles: words,
  publish: words,
  subscribe: words,
  invoke: words,
  disabled: fc.constant(false),
  tokensValidFrom: fc.constant(0),
  createdAt: fc.constant(0),
  updatedAt: fc.constant(0),
});

/** Signs any JSON text as an HS256 token with the right key, as an insider with the key could. */
function signRaw(payloadJson: string): string {
  const head = `${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from(payloadJson).toString('base64url')}`;
  return `${head}.${createHmac('sha256', Buffer.from(KEY, 'utf8')).update(head).digest('base64url')}`;
}

function refusedAsInvalid(run: () => unknown): void {
  assert.throws(
    run,
    (error: unknown) => error instanceof WardenError && error.name === 'AuthTokenInvalidError',
  );
}

/** Refused, as invalid or (a time claim that is a number in the past) as expired: it grants nothing. */
function refused(run: () => unknown): void {
  assert.throws(
    run,
    (error: unknown) =>
      error instanceof WardenError &&
      (error.name === 'AuthTokenInvalidError' || error.name === 'AuthTokenExpiredError'),
  );
}

describe('auth/tokens TokenService properties', function () {
  it('refuses any token whose bytes were changed after signing', function () {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ';
    fc.assert(
      fc.property(
        user,
        fc.nat(),
        fc.nat(alphabet.length - 1),
        fc.constantFrom('replace', 'insert', 'delete'),
        (u, at, c, how) => {
          const token = tokens.issue(u).token;
          const i = at % token.length;
          const char = alphabet[c] as string;
          const tampered =
            how === 'replace'
              ? token.slice(0, i) + char + token.slice(i + 1)
              : how === 'insert'
                ? token.slice(0, i) + char + token.slice(i)
                : token.slice(0, i) + token.slice(i + 1);
          if (tampered === token) return;
          refusedAsInvalid(() => tokens.verify(tampered));
        },
      ),
      RUNS,
    );
  });

  it('reads only allow-listed own claims from any signed payload, and nothing from extra or prototype keys', function () {
    const extraKey = fc.oneof(
      fc.constantFrom(
        '__proto__',
        'constructor',
        'prototype',
        'admin',
        'scope',
        'permissions',
        'publish ',
        'Publish',
      ),
      fc.string({ maxLength: 12 }),
    );
    const extras = fc.array(fc.tuple(extraKey, fc.jsonValue({ maxDepth: 3 })), { maxLength: 6 });
    fc.assert(
      fc.property(user, extras, (u, pairs) => {
        const claims = tokens.claimsFor(u);
        // Appended as JSON text, so "__proto__" arrives as an own key, as it would over the wire.
        const base = JSON.stringify(claims);
        const added = pairs
          .filter(([key]) => !ALLOWED.includes(key))
          .map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`);
        const payload = added.length === 0 ? base : `${base.slice(0, -1)},${added.join(',')}}`;
        const read = tokens.verify(signRaw(payload)) as TokenClaims & Record<string, unknown>;
        assert.deepEqual(Object.keys(read).sort(), Object.keys(claims).sort());
        assert.deepEqual(read, claims);
        assert.equal(Object.getPrototypeOf(read), Object.prototype);
      }),
      RUNS,
    );
  });

  it('refuses any signed payload whose allow-listed claims have the wrong shape', function () {
    const wrong = fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.boolean(),
      fc.double().filter((d) => !(Number.isSafeInteger(d) && d >= 0)),
      fc.string({ maxLength: 5 }),
      fc.array(fc.oneof(fc.integer(), fc.constant(null), fc.object({ maxDepth: 1 })), {
        minLength: 1,
        maxLength: 3,
      }),
      fc.object({ maxDepth: 1 }),
    );
    const required = [
      'sub',
      'username',
      'roles',
      'publish',
      'subscribe',
      'invoke',
      'jti',
      'iat',
      'exp',
      'sid',
      'auth_time',
    ];
    fc.assert(
      fc.property(user, fc.constantFrom(...required), wrong, (u, key, value) => {
        const claims: Record<string, unknown> = { ...tokens.claimsFor(u) };
        const expected = claims[key];
        // Some wrong shapes are right for some claims (a string for sub): those are not this property.
        if (typeof value === typeof expected && !Array.isArray(expected) && !Number.isInteger(expected))
          return;
        if (value === undefined) delete claims[key];
        else claims[key] = value;
        refused(() => tokens.verify(signRaw(JSON.stringify(claims))));
      }),
      RUNS,
    );
  });

  it('signs byte for byte what jsonwebtoken signs, for any user and session', function () {
    fc.assert(
      fc.property(user, fc.option(fc.string({ minLength: 1, maxLength: 16 })), (u, idp) => {
        const claims: TokenClaims = { ...tokens.claimsFor(u), ...(idp === null ? {} : { idp }) };
        const { direct: _direct, cookie: _cookie, ...payload } = claims;
        const expected = jwt.sign(payload, Buffer.from(KEY, 'utf8'), { algorithm: 'HS256' });
        assert.equal(tokens.sign(claims), expected);
        assert.deepEqual(tokens.verify(expected), tokens.verify(tokens.sign(claims)));
      }),
      RUNS,
    );
  });
});
