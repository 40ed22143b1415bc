import assert from 'node:assert/strict';
import { connectClient, type TestClient } from '../../helpers/clients.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { freePort, runWarden, type RunningProcess } from '../../helpers/processes.ts';
import { createStoredUser, testEnv, testSecrets } from '../../helpers/warden.ts';

/**
 * Tickets and cookie sessions on a real cluster (`warden start`, 2 worker processes, one
 * MariaDB): node:cluster hands consecutive connections to the workers in turn, so of two
 * sockets connected one after the other, each is on another worker.
 */
describe('tickets and cookies on a real 2-worker cluster', function () {
  this.timeout(90_000);
  let db: { url: string; drop(): Promise<void> };
  let warden: RunningProcess;
  let port: number;
  const clients: TestClient[] = [];
  const username = 'cluster-ticket-user';
  const password = 'cluster-ticket-password';

  before(async function () {
    db = await createTestDatabase();
    await createStoredUser(db.url, { username, password, invoke: ['whoami'] });
    port = await freePort();
    const secrets = testSecrets();
    warden = runWarden(['start'], {
      ...testEnv(db.url, { PORT: String(port), HOST: '127.0.0.1' }),
      WORKERS: '2',
      BROKERS: '1',
      AUTH_COOKIE: 'on',
      SCC_STATE_SERVER_PORT: String(await freePort()),
      SCC_BROKER_SERVER_PORT: String(await freePort()),
      AUTH_KEY: secrets.authKey,
      SCC_AUTH_KEY: secrets.sccAuthKey,
    });
    await warden.waitFor(/Warden is ready/, 60_000);
  });
  after(async function () {
    for (const client of clients) client.socket.disconnect();
    await warden?.stop();
    await db?.drop();
  });

  async function login(headers: Record<string, string> = {}) {
    const response = await fetch(`http://127.0.0.1:${port}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ username, password }),
    });
    assert.equal(response.status, 200);
    return {
      token: ((await response.json()) as { token: string }).token,
      cookie: response.headers.get('set-cookie')?.split(';')[0],
    };
  }

  it('redeems a ticket once across both workers: one login succeeds, the other is refused with ticket-used', async function () {
    for (let round = 0; round < 4; round++) {
      const { token } = await login();
      const response = await fetch(`http://127.0.0.1:${port}/auth/ticket`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      const { ticket } = (await response.json()) as { ticket: string };
      const racers = [await connectClient(port), await connectClient(port)];
      clients.push(...racers);
      const outcomes = await Promise.allSettled(racers.map((r) => r.socket.invoke('login', { ticket })));
      const refused = outcomes.flatMap((o) =>
        o.status === 'rejected' ? [(o.reason as { reason?: string }).reason] : [],
      );
      assert.deepEqual(refused, ['ticket-used'], `round ${round}`);
    }
  });

  it('authenticates handshakes on both workers from a cookie set by one of them', async function () {
    const origin = `http://127.0.0.1:${port}`;
    const { cookie } = await login({ origin });
    assert.ok(cookie !== undefined);
    for (let i = 0; i < 2; i++) {
      const client = await connectClient(port, { headers: { cookie }, origin });
      clients.push(client);
      assert.equal(client.status.isAuthenticated, true);
      assert.equal(((await client.socket.invoke('whoami', {})) as { username: string }).username, username);
    }
  });
});
