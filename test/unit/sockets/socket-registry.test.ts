import assert from 'node:assert/strict';
import type { TokenClaims } from '../../../auth/tokens.ts';
import { SocketRegistry } from '../../../sockets/socket-registry.ts';
import type { WardenSocket } from '../../../sockets/socket-facade.ts';

/** The registry only keys sockets by identity: a plain object stands in for one. */
const socket = (name: string) => ({ name }) as unknown as WardenSocket;

function claims(overrides: Partial<TokenClaims>): TokenClaims {
  return {
    sub: 'u1',
    username: 'alice',
    roles: [],
    publish: [],
    subscribe: [],
    invoke: [],
    jti: 'j1',
    iat: 0,
    exp: 60,
    sid: 's1',
    auth_time: 0,
    ...overrides,
  } as TokenClaims;
}

describe('sockets/SocketRegistry', function () {
  it('finds one, two and three sockets under a key, and each again after the others leave', function () {
    const registry = new SocketRegistry();
    const [a, b, c] = [socket('a'), socket('b'), socket('c')];
    registry.set(a, claims({ roles: ['r'] }));
    assert.deepEqual(registry.ofToken('j1'), [a]);
    registry.set(b, claims({ roles: ['r'] }));
    registry.set(c, claims({ jti: 'j2', roles: ['r'] }));
    assert.deepEqual(registry.ofToken('j1'), [a, b]);
    assert.deepEqual(registry.ofUser('u1'), [a, b, c]);
    assert.deepEqual(registry.ofRole('r'), [a, b, c]);
    registry.delete(a);
    assert.deepEqual(registry.ofToken('j1'), [b]);
    assert.deepEqual(registry.ofSession('s1'), [b, c]);
    registry.delete(b);
    assert.deepEqual(registry.ofToken('j1'), []);
    assert.deepEqual(registry.ofSession('s1'), [c]);
    // A socket added twice under the same key is one member.
    registry.set(c, claims({ jti: 'j2', roles: ['r'] }));
    assert.deepEqual(registry.ofUser('u1'), [c]);
    registry.delete(c);
    assert.deepEqual([registry.ofUser('u1'), registry.ofRole('r'), registry.size], [[], [], 0]);
  });

  it('moves a socket between keys when its claims change', function () {
    const registry = new SocketRegistry();
    const [a, b] = [socket('a'), socket('b')];
    registry.set(a, claims({}));
    registry.set(b, claims({}));
    registry.set(a, claims({ jti: 'j9', sid: 's9' }));
    assert.deepEqual(registry.ofToken('j1'), [b]);
    assert.deepEqual(registry.ofToken('j9'), [a]);
    assert.deepEqual(registry.ofSession('s9'), [a]);
    assert.equal(registry.claims(a)?.jti, 'j9');
  });
});
