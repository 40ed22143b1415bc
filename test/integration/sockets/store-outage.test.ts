import assert from 'node:assert/strict';
import jwt from 'jsonwebtoken';
import type { TokenClaims } from '../../../auth/tokens.ts';
import { connectClient, rejection, socketLogin, type TestClient } from '../../helpers/clients.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.ts';
import { startTestWarden, type TestWarden } from '../../helpers/warden.ts';

/**
 * The store goes down under a running worker (a proxy in front of MariaDB is cut): sockets that
 * are already authenticated keep working on what the worker knows, new logins fail with a named
 * error, and a logout made during the outage reaches the store once it is back.
 */
describe('a store outage under a running worker', function () {
  let db: { url: string; drop(): Promise<void> };
  let proxy: TcpProxy;
  let warden: TestWarden;
  let username = '';
  let password = '';
  const clients: TestClient[] = [];

  before(async function () {
    db = await createTestDatabase();
    proxy = await startTcpProxy(3306);
    const url = new URL(db.url);
    url.host = `127.0.0.1:${proxy.port}`;
    warden = await startTestWarden({}, { databaseUrl: url.toString() });
    ({ password } = await warden
      .createUser({ publish: ['chat.*'], subscribe: ['chat.*'] })
      .then((created) => ((username = created.user.username), created)));
  });
  after(async function () {
    for (const client of clients) client.socket.disconnect();
    await proxy.restore().catch(() => undefined);
    await warden?.close();
    await proxy?.close();
    await db?.drop();
  });

  async function connect(token?: string) {
    const client = await connectClient(warden.port, token === undefined ? {} : { token });
    clients.push(client);
    return client;
  }

  it('keeps authenticated sockets working, refuses new logins with StoreUnavailableError, and loses no logout', async function () {
    const publisher = await connect();
    const token = await socketLogin(publisher, username, password);
    const subscriber = await connect(token);
    await subscriber.socket.subscribe('chat.outage').listener('subscribe').once();
    const leaving = await connect(token);

    await proxy.cut();

    // Existing sockets: publish, subscribe and a handshake with a valid token need no store.
    const received = subscriber.socket.channel('chat.outage').once();
    await publisher.socket.invokePublish('chat.outage', 'still flowing');
    assert.equal(await received, 'still flowing');
    await subscriber.socket.subscribe('chat.other').listener('subscribe').once();
    const reconnecting = await connect(token);
    assert.equal(reconnecting.status.isAuthenticated, true);

    // New logins: a named error, over HTTP and over the socket.
    const response = await fetch(`${warden.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    assert.equal(response.status, 503);
    assert.equal(
      ((await response.json()) as { error: { name: string } }).error.name,
      'StoreUnavailableError',
    );
    const fresh = await connect();
    const error = await rejection(fresh.socket.invoke('login', { username, password }));
    assert.equal(error.name, 'StoreUnavailableError');
    assert.equal((await fetch(`${warden.url}/readyz`)).status, 503);
    assert.equal((await fetch(`${warden.url}/healthz`)).status, 200);

    // A logout during the outage takes effect at once on the live worker...
    const jti = (jwt.decode(token) as TokenClaims).jti;
    const loggedOut = leaving.socket.listener('deauthenticate').once();
    await leaving.socket.invoke('logout', {});
    await loggedOut;
    assert.equal(warden.worker.control.pendingCount, 1);
    const refused = await connect(token);
    assert.equal(refused.status.authError?.name, 'AuthTokenRevokedError');

    // ...and is written to the store when it is back.
    await proxy.restore();
    await warden.worker.feed.poll();
    assert.equal(warden.worker.control.pendingCount, 0);
    const stored = await warden.worker.store.activeRevocations(0);
    assert.ok(stored.some((event) => event.kind === 'token' && event.subject === jti));
    const again = await connect();
    await socketLogin(again, username, password);
  });
});
