import assert from 'node:assert/strict';
import { connectClient, type TestClient } from '../../helpers/clients.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.ts';
import { createStoredUser } from '../../helpers/warden.ts';
import { startRoles, type RoleCluster } from './role-processes.ts';

/**
 * A logout acknowledged during a store outage survives the loss of the worker that took it: two
 * worker processes share a MariaDB through a proxy the test cuts; the logout goes to worker A,
 * which is then stopped before the store is back. Worker B held the revocation too and writes it
 * when the store answers, so a worker started afterwards refuses the token.
 */
describe('a logout during a store outage, then the loss of the worker that took it', function () {
  this.timeout(120_000);
  let db: { url: string; drop(): Promise<void> };
  let proxy: TcpProxy;
  let cluster: RoleCluster;
  const clients: TestClient[] = [];
  const username = 'outage-logout-user';
  const password = 'outage-logout-password';

  before(async function () {
    db = await createTestDatabase();
    await createStoredUser(db.url, { username, password, subscribe: ['chat.*'] });
    proxy = await startTcpProxy(3306);
    const viaProxy = new URL(db.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    cluster = await startRoles({ databaseUrl: viaProxy.toString(), brokers: 1 });
  });
  after(async function () {
    for (const client of clients) client.socket.disconnect();
    await proxy?.restore().catch(() => undefined);
    await cluster?.stop();
    await proxy?.close();
    await db?.drop();
  });

  it('is held by the other worker, written when the store is back, and refused by a worker started later', async function () {
    const a = await cluster.startWorker();
    const b = await cluster.startWorker();
    const login = await fetch(`http://127.0.0.1:${a.port}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    assert.equal(login.status, 200);
    const { token } = (await login.json()) as { token: string };
    const onB = await connectClient(b.port, { token });
    clients.push(onB);
    assert.equal(onB.status.isAuthenticated, true);

    await proxy.cut();
    const deauthenticated = onB.socket.listener('deauthenticate').once();
    const logout = await fetch(`http://127.0.0.1:${a.port}/auth/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(logout.status, 204);
    await deauthenticated;

    // A goes away before the store is back: its own copy of the revocation is lost with it.
    const sinceB = b.process.output().length;
    await a.process.stop('SIGTERM');
    await proxy.restore();
    await b.process.waitFor(/wrote revocations held for other workers count=1/, 30_000, sinceB);

    const c = await cluster.startWorker();
    const onC = await connectClient(c.port, { token });
    clients.push(onC);
    assert.equal(onC.status.isAuthenticated, false);
    assert.equal(onC.status.authError?.name, 'AuthTokenRevokedError');
  });
});
