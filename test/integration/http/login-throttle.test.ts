import assert from 'node:assert/strict';
import { connectClient, rejection } from '../../helpers/clients.ts';
import { startTestWarden, testSecrets, type TestWarden } from '../../helpers/warden.ts';

/**
 * Login throttling as an attacker meets it and as real users live with it. The tests talk to the
 * worker as a trusted proxy (TRUST_PROXY=127.0.0.1) would, so that X-Forwarded-For gives each
 * request the client address it claims: many addresses from one test.
 */
async function login(warden: TestWarden, from: string, username: string, password: string) {
  const response = await fetch(`${warden.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
    body: JSON.stringify({ username, password }),
  });
  const body = (await response.json()) as { token?: string; error?: { name: string; retryAfter?: number } };
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
}

const address = (i: number) => `198.51.100.${i}`;

describe('login throttling', function () {
  this.timeout(60_000);
  const limits = {
    TRUST_PROXY: '127.0.0.1',
    LOGIN_FAILURE_LIMIT: '5',
    LOGIN_ACCOUNT_FAILURE_LIMIT: '40',
    LOGIN_RATE_LIMIT: '8',
  };

  describe('on one worker', function () {
    let warden: TestWarden;
    beforeEach(async function () {
      warden = await startTestWarden(limits);
    });
    afterEach(async function () {
      await warden.close();
    });

    it('30 wrong passwords for a user from 30 addresses do not lock the user out', async function () {
      const { user, password } = await warden.createUser();
      for (let i = 1; i <= 30; i++) {
        assert.equal((await login(warden, address(i), user.username, 'wrong-password')).status, 401);
      }
      assert.equal((await login(warden, '203.0.113.50', user.username, password)).status, 200);
    });

    it('refuses a (username, address) pair after LOGIN_FAILURE_LIMIT failures, even with the right password', async function () {
      const { user, password } = await warden.createUser();
      for (let i = 0; i < 5; i++)
        assert.equal((await login(warden, address(1), user.username, 'wrong')).status, 401);
      const refused = await login(warden, address(1), user.username, password);
      assert.equal(refused.status, 429);
      assert.equal(refused.body.error?.name, 'RateLimitError');
      assert.ok(Number(refused.retryAfter) > 800, `Retry-After ${refused.retryAfter} covers the window`);
      // The same user from elsewhere, and another user from the same address, are untouched.
      assert.equal((await login(warden, address(2), user.username, password)).status, 200);
      const other = await warden.createUser();
      assert.equal((await login(warden, address(1), other.user.username, other.password)).status, 200);
    });

    it('a success never counts: an office behind one address logs in as often as it likes', async function () {
      const users = await Promise.all([1, 2, 3].map(() => warden.createUser()));
      for (let round = 0; round < 4; round++) {
        for (const { user, password } of users) {
          assert.equal((await login(warden, address(9), user.username, password)).status, 200);
        }
      }
    });

    it('refuses an address after LOGIN_RATE_LIMIT failures across usernames', async function () {
      for (let i = 0; i < 8; i++)
        assert.equal((await login(warden, address(3), `nobody${i}`, 'wrong')).status, 401);
      assert.equal((await login(warden, address(3), 'nobody-else', 'wrong')).status, 429);
      assert.equal((await login(warden, address(4), 'nobody-else', 'wrong')).status, 401);
    });

    it('stops a distributed guess at the account ceiling, but not the owner where they logged in before', async function () {
      const { user, password } = await warden.createUser();
      assert.equal((await login(warden, '203.0.113.9', user.username, password)).status, 200);
      for (let i = 1; i <= 40; i++) await login(warden, address(i), user.username, 'wrong');
      assert.equal((await login(warden, address(41), user.username, password)).status, 429);
      assert.equal((await login(warden, '203.0.113.9', user.username, password)).status, 200);
    });

    it('a flood of wrong logins from 20 addresses does not make a real user wait for a free queue', async function () {
      const { user, password } = await warden.createUser();
      const flood = Array.from({ length: 200 }, (_, i) =>
        login(warden, address(100 + (i % 20)), `victim${i % 7}`, 'wrong'),
      );
      const real = await login(warden, '203.0.113.77', user.username, password);
      assert.equal(real.status, 200, JSON.stringify(real.body));
      const statuses = (await Promise.all(flood)).map((r) => r.status);
      assert.ok(
        statuses.every((s) => s === 401 || s === 429),
        `flood answered only 401/429: ${[...new Set(statuses)]}`,
      );
    });

    it('throttles socket logins with the same counters, by the upgrade request address', async function () {
      const { user, password } = await warden.createUser();
      const client = await connectClient(warden.port, { headers: { 'x-forwarded-for': address(7) } });
      try {
        for (let i = 0; i < 5; i++) {
          const error = await rejection(
            client.socket.invoke('login', { username: user.username, password: 'x' }),
          );
          assert.equal(error.name, 'LoginError');
        }
        const limited = await rejection(client.socket.invoke('login', { username: user.username, password }));
        assert.equal(limited.name, 'RateLimitError');
        assert.ok((limited as { retryAfter?: number }).retryAfter !== undefined);
        assert.equal((await login(warden, address(8), user.username, password)).status, 200);
      } finally {
        client.socket.disconnect();
      }
    });
  });

  describe('across workers', function () {
    let a: TestWarden;
    let b: TestWarden;
    before(async function () {
      const secrets = testSecrets();
      a = await startTestWarden(limits, { secrets });
      b = await startTestWarden(limits, { databaseUrl: a.databaseUrl, secrets });
    });
    after(async function () {
      await b?.close();
      await a?.close();
    });

    it('counts failures cluster-wide: W workers do not allow W times the limit', async function () {
      const { user, password } = await a.createUser();
      for (let i = 0; i < 3; i++)
        assert.equal((await login(a, address(5), user.username, 'wrong')).status, 401);
      for (let i = 0; i < 2; i++)
        assert.equal((await login(b, address(5), user.username, 'wrong')).status, 401);
      assert.equal((await login(b, address(5), user.username, password)).status, 429);
      assert.equal((await login(a, address(5), user.username, password)).status, 429);
    });
  });
});
