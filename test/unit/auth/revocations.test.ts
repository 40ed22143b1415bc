import assert from 'node:assert/strict';
import { fromRecord, RevocationList, Revocations, toRecord } from '../../../auth/revocations.ts';
import type { TokenClaims } from '../../../auth/tokens.ts';

const claims = (overrides: Partial<TokenClaims> = {}): TokenClaims => ({
  sub: 'user-1',
  username: 'alice',
  roles: [],
  publish: [],
  subscribe: [],
  invoke: [],
  jti: 'jti-1',
  iat: 1000,
  exp: 5000,
  sid: 'sid-1',
  auth_time: 1000,
  ...overrides,
});

describe('revocations', function () {
  it('round-trips every kind through its stored record', function () {
    for (const revocation of [
      Revocations.ofToken(claims()),
      Revocations.replaced(claims(), 1200),
      Revocations.ofSession('sid-1', 9000),
      Revocations.ofUser('user-1', 1500, 9000),
    ]) {
      assert.deepEqual(fromRecord(toRecord(revocation)), revocation);
    }
    assert.deepEqual(toRecord(Revocations.ofToken(claims())), {
      kind: 'token',
      subject: 'jti-1',
      value: 0,
      expiresAt: 5000,
    });
  });

  it('lets an outright revocation outrank a replacement, never the other way round', function () {
    const list = new RevocationList();
    assert.equal(list.add(Revocations.replaced(claims(), 1200)), true);
    assert.equal(list.add(Revocations.ofToken(claims())), true);
    assert.equal(list.add(Revocations.replaced(claims(), 1300)), false);
    assert.equal(list.problem(claims(), 1201, 10)?.name, 'AuthTokenRevokedError');
  });

  it('tolerates a replaced token for the grace, then calls it reuse', function () {
    const list = new RevocationList();
    list.add(Revocations.replaced(claims(), 1200));
    assert.equal(list.problem(claims(), 1205, 10), null);
    assert.equal(list.problem(claims(), 1211, 10)?.name, 'TokenReuseError');
  });

  it('revokes a user by iat cut-off and a session by id', function () {
    const list = new RevocationList();
    list.add(Revocations.ofUser('user-1', 1001, 9000));
    assert.equal(list.problem(claims({ iat: 1000 }), 1100, 10)?.name, 'AuthTokenRevokedError');
    assert.equal(list.problem(claims({ iat: 1001, jti: 'jti-2' }), 1100, 10), null);
    list.add(Revocations.ofSession('sid-2', 9000));
    assert.equal(list.problem(claims({ iat: 1001, sid: 'sid-2' }), 1100, 10)?.name, 'AuthTokenRevokedError');
  });
});
