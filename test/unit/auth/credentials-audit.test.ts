import assert from 'node:assert/strict';
import { CredentialAcceptor } from '../../../auth/credentials.ts';
import type { PasswordCheckDeps } from '../../../auth/login.ts';
import { RevocationList, Revocations, type Revocation } from '../../../auth/revocations.ts';
import { TokenService, type TokenClaims } from '../../../auth/tokens.ts';
import { setAuditLogger } from '../../../log/audit.ts';
import type { Logger } from '../../../log/logger.ts';

/** The audit lines of the one place that accepts credentials: reuse of a replaced token. */
describe('auth/credentials: audit trail', function () {
  const lines: Array<Record<string, unknown>> = [];
  const push = (_message: string, fields?: Record<string, unknown>) => void lines.push(fields ?? {});
  const log: Logger = { debug: push, info: push, warn: push, error: push };
  let restore: () => void;
  beforeEach(function () {
    lines.length = 0;
    restore = setAuditLogger(log);
  });
  afterEach(function () {
    restore();
  });

  it('audits reuse of a replaced token past the grace, and the revocation of its session it causes', async function () {
    let now = 1_000_000_000;
    const tokens = new TokenService({ key: 'k'.repeat(32), ttl: 3600, now: () => now });
    const revocations = new RevocationList();
    const revoked: Revocation[] = [];
    const acceptor = new CredentialAcceptor({
      tokens,
      revocations,
      password: {} as PasswordCheckDeps,
      reuseGrace: 10,
      sessionMaxAge: 43200,
      revoke: async (revocation) => void revoked.push(revocation),
      rolePermissions: async () => ({ publish: [], subscribe: [], invoke: [] }),
      now: () => now,
    });
    const claims: TokenClaims = {
      sub: 'user-1',
      username: 'alice',
      roles: [],
      publish: [],
      subscribe: [],
      invoke: [],
      jti: 'jti-1',
      iat: now / 1000,
      exp: now / 1000 + 3600,
      sid: 'sid-1',
      auth_time: now / 1000,
    };
    const token = tokens.sign(claims);
    revocations.add(Revocations.replaced(claims, now / 1000));
    now += 11_000;
    await assert.rejects(acceptor.accept({ kind: 'token', token }, { clientAddress: '10.0.0.5' }), {
      name: 'TokenReuseError',
    });
    assert.equal(revoked.length, 1);
    assert.deepEqual(
      lines.map((line) => [line.event, line.username, line.kind ?? null, line.by ?? null]),
      [
        ['token_reuse', 'alice', null, null],
        ['revocation', 'alice', 'session', 'reuse'],
      ],
    );
    assert.equal(JSON.stringify(lines).includes(token), false, 'the token is never in a line');
  });
});
