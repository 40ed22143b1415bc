import assert from 'node:assert/strict';
import { parseUserCommand } from '../../../admin/user-commands.ts';
import { PasswordHasher } from '../../../auth/passwords.ts';
import { openStore } from '../../../store/index.ts';
import { connectClient, type TestClient } from '../../helpers/clients.ts';
import { startTestWarden, TEST_HASH_COST, type TestWarden } from '../../helpers/warden.ts';

/**
 * `warden user disable` while logins of that user are in flight: the hash queue holds them for a
 * while, and every one that completes after the command must end unauthenticated.
 */
describe('disabling a user while their logins are in flight', function () {
  this.timeout(60_000);
  let warden: TestWarden;
  const clients: TestClient[] = [];
  before(async function () {
    warden = await startTestWarden();
  });
  after(async function () {
    for (const client of clients) client.socket.disconnect();
    await warden.close();
  });

  it('leaves no authenticated socket and no usable token once the command has returned', async function () {
    const { user, password } = await warden.createUser({ invoke: ['whoami'] });
    for (let i = 0; i < 12; i++) clients.push(await connectClient(warden.port));
    const httpLogins = Array.from({ length: 6 }, () =>
      fetch(`${warden.url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: user.username, password }),
      }).then(async (response) =>
        response.status === 200 ? ((await response.json()) as { token: string }).token : null,
      ),
    );
    const socketLogins = clients.map((client) =>
      client.socket.invoke('login', { username: user.username, password }).then(
        () => 'ok',
        (error: Error) => error.name,
      ),
    );
    // The CLI, as its own process would: its own store on the same database.
    await Promise.race(socketLogins);
    const cli = openStore(warden.databaseUrl);
    try {
      const command = await parseUserCommand(['disable', user.username], {
        passwordMinLength: 10,
        readStdin: async () => '',
      });
      await command.run({
        store: cli,
        hasher: new PasswordHasher({ cost: TEST_HASH_COST }),
        tokenTtl: warden.config.tokenTtl,
        out: () => {},
        warn: () => {},
      });
    } finally {
      await cli.close();
    }
    const outcomes = await Promise.all(socketLogins);
    const tokens = await Promise.all(httpLogins);
    assert.ok(outcomes.includes('LoginError'), `some logins completed after the disable: ${outcomes}`);
    // The revocation reaches this worker through the store's log (one poll).
    await warden.worker.feed.poll();
    assert.equal(warden.worker.registry.ofUser(user.id).length, 0, 'no socket of the user is authenticated');
    for (const client of clients) {
      const whoami = await client.socket.invoke('whoami', {}).then(
        () => 'answered',
        (error: Error) => error.name,
      );
      assert.equal(whoami, 'InvokeError');
    }
    for (const token of tokens.filter((t): t is string => t !== null)) {
      const fresh = await connectClient(warden.port, { token });
      clients.push(fresh);
      assert.equal(fresh.status.isAuthenticated, false);
      assert.equal(fresh.status.authError?.name, 'AuthTokenRevokedError');
    }
  });
});
