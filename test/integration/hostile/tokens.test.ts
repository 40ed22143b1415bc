import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { TokenClaims } from '../../../auth/tokens.ts';
import { hostileSuite, type Hostile, type HostileCase } from './harness.ts';
import { Revocations } from '../../../auth/revocations.ts';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** header.payload signed with HMAC by hand: tokens jsonwebtoken would refuse to make. */
function handSigned(header: object, payload: unknown, key: string, hash = 'sha256'): string {
  const head = `${b64(header)}.${b64(payload)}`;
  return `${head}.${createHmac(hash, Buffer.from(key, 'utf8')).update(head).digest('base64url')}`;
}

interface Forge {
  readonly key: string;
  /** Valid claims of a fresh user allowed to publish to news.* */
  readonly claims: TokenClaims;
  readonly sign: (claims: object) => string;
  /** The worker's clock, in epoch seconds. */
  readonly now: number;
  /** Revokes a token id through the worker's cluster control, as a logout elsewhere would. */
  readonly revoke: (claims: TokenClaims) => Promise<void>;
}

const HS256 = { alg: 'HS256', typ: 'JWT' };

/** A malformed token, and the error Warden must name whichever way it is presented. */
interface BadToken {
  readonly what: string;
  readonly make: (forge: Forge) => string | Promise<string>;
  readonly error: string;
}

const badTokens: BadToken[] = [
  {
    what: 'alg none',
    make: (f) => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(f.claims)}.`,
    error: 'AuthTokenInvalidError',
  },
  {
    what: 'HS384 with the right key',
    make: (f) => handSigned({ alg: 'HS384', typ: 'JWT' }, f.claims, f.key, 'sha384'),
    error: 'AuthTokenInvalidError',
  },
  {
    what: 'HS512 with the right key',
    make: (f) => handSigned({ alg: 'HS512', typ: 'JWT' }, f.claims, f.key, 'sha512'),
    error: 'AuthTokenInvalidError',
  },
  {
    what: 'an RS256 header over an HMAC signature (algorithm confusion)',
    make: (f) => handSigned({ alg: 'RS256', typ: 'JWT' }, f.claims, f.key),
    error: 'AuthTokenInvalidError',
  },
  {
    what: 'the wrong key',
    make: (f) => handSigned(HS256, f.claims, 'w'.repeat(40)),
    error: 'AuthTokenInvalidError',
  },
  {
    what: 'no exp',
    make: (f) => {
      const { exp: _exp, ...claims } = f.claims;
      return handSigned(HS256, claims, f.key);
    },
    error: 'AuthTokenInvalidError',
  },
  {
    what: 'exp in the past',
    make: (f) => f.sign({ ...f.claims, iat: f.now - 100, exp: f.now - 10 }),
    error: 'AuthTokenExpiredError',
  },
  {
    what: 'iat a minute in the future',
    make: (f) => f.sign({ ...f.claims, iat: f.now + 60, exp: f.now + 600 }),
    error: 'AuthTokenInvalidError',
  },
  {
    what: 'nbf a minute in the future',
    make: (f) => handSigned(HS256, { ...f.claims, nbf: f.now + 60 }, f.key),
    error: 'AuthTokenInvalidError',
  },
  // RFC 7515 4.1.11: an unknown critical extension must be refused
  {
    what: 'a crit header naming an unknown extension',
    make: (f) =>
      handSigned({ ...HS256, crit: ['x-warden-unknown'], 'x-warden-unknown': true }, f.claims, f.key),
    error: 'AuthTokenInvalidError',
  },
  {
    what: 'no sub',
    make: (f) => {
      const { sub: _sub, ...claims } = f.claims;
      return handSigned(HS256, claims, f.key);
    },
    error: 'AuthTokenInvalidError',
  },
  {
    what: 'publish as a string instead of a list',
    make: (f) => handSigned(HS256, { ...f.claims, publish: '>' }, f.key),
    error: 'AuthTokenInvalidError',
  },
  {
    what: 'a 600-character username',
    make: (f) => handSigned(HS256, { ...f.claims, username: 'u'.repeat(600) }, f.key),
    error: 'AuthTokenInvalidError',
  },
  {
    what: 'a lifetime longer than TOKEN_TTL',
    make: (f) => f.sign({ ...f.claims, exp: f.claims.iat + 30 * 24 * 3600 }),
    error: 'AuthTokenInvalidError',
  },
  {
    what: 'a widened payload under the original signature',
    make: (f) => {
      const [head, , signature] = f.sign(f.claims).split('.');
      return `${head}.${b64({ ...f.claims, publish: ['>'] })}.${signature}`;
    },
    error: 'AuthTokenInvalidError',
  },
  {
    what: 'the signature cut off',
    make: (f) => f.sign(f.claims).split('.').slice(0, 2).join('.'),
    error: 'AuthTokenInvalidError',
  },
  {
    what: 'a JSON array as payload',
    make: (f) => handSigned(HS256, [f.claims], f.key),
    error: 'AuthTokenInvalidError',
  },
  {
    what: 'a kid header pointing at /dev/null, signed with an empty key',
    make: (f) => handSigned({ ...HS256, kid: '../../../../dev/null' }, f.claims, ''),
    error: 'AuthTokenInvalidError',
  },
  { what: 'a "Bearer " prefix', make: (f) => `Bearer ${f.sign(f.claims)}`, error: 'AuthTokenInvalidError' },
  {
    what: 'a revoked jti',
    make: async (f) => {
      const claims = { ...f.claims, jti: `revoked-${f.claims.jti}` };
      await f.revoke(claims);
      return f.sign(claims);
    },
    error: 'AuthTokenRevokedError',
  },
];

async function forge(h: Hostile): Promise<Forge> {
  const { user } = await h.warden.createUser({ publish: ['news.*'] });
  const tokens = h.warden.worker.tokens;
  return {
    key: h.warden.config.authKey,
    claims: tokens.claimsFor(user),
    sign: (claims) => tokens.sign(claims as TokenClaims),
    now: Math.floor(tokens.now() / 1000),
    revoke: (claims) => h.warden.worker.control.revoke(Revocations.ofToken(claims)),
  };
}

const cases: HostileCase[] = [];
for (const bad of badTokens) {
  cases.push(
    {
      name: `a handshake with ${bad.what} stays unauthenticated (${bad.error})`,
      run: async (h) => {
        const token = await bad.make(await forge(h));
        const socket = await h.rawOpen();
        const answer = await socket.call('#handshake', { authToken: token });
        const status = answer.data as { isAuthenticated: boolean; authError?: { name: string } };
        assert.equal(status.isAuthenticated, false);
        assert.equal(status.authError?.name, bad.error);
        assert.equal(
          (await socket.call('#publish', { channel: 'news.a', data: 1 })).error?.name,
          'PublishError',
        );
      },
    },
    {
      name: `an #authenticate with ${bad.what} is refused (${bad.error})`,
      run: async (h) => {
        const token = await bad.make(await forge(h));
        const socket = await h.raw();
        const answer = await socket.call('#authenticate', token);
        assert.equal(answer.error?.name, bad.error, JSON.stringify(answer));
        assert.equal(
          (await socket.call('#publish', { channel: 'news.a', data: 1 })).error?.name,
          'PublishError',
        );
      },
    },
  );
}

cases.push(
  {
    name: 'a __proto__ claim grants nothing: authenticated, the publish it names gets PublishError',
    run: async (h) => {
      const f = await forge(h);
      const payload = JSON.stringify({ ...f.claims, publish: [] }).replace(
        '"publish":[]',
        '"publish":[],"__proto__":{"publish":[">"]}',
      );
      const head = `${b64(HS256)}.${Buffer.from(payload).toString('base64url')}`;
      const token = `${head}.${createHmac('sha256', Buffer.from(f.key, 'utf8')).update(head).digest('base64url')}`;
      const socket = await h.raw();
      const answer = await socket.call('#authenticate', token);
      assert.equal((answer.data as { isAuthenticated: boolean }).isAuthenticated, true);
      const publish = await socket.call('#publish', { channel: 'news.a', data: 1 });
      assert.equal(publish.error?.name, 'PublishError');
      assert.equal(publish.error?.reason, 'not-allowed');
    },
  },
  {
    name: 'a bad #authenticate on an authenticated socket ends its authentication (AuthTokenInvalidError)',
    run: async (h) => {
      const f = await forge(h);
      const socket = await h.raw(f.sign(f.claims));
      assert.equal((await socket.call('#publish', { channel: 'news.a', data: 1 })).error, undefined);
      assert.equal((await socket.call('#authenticate', 'not.a.jwt')).error?.name, 'AuthTokenInvalidError');
      const publish = await socket.call('#publish', { channel: 'news.a', data: 1 });
      assert.equal(publish.error?.reason, 'unauthenticated');
    },
  },
);

hostileSuite('tokens', {}, cases);
