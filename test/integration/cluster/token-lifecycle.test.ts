import assert from 'node:assert/strict';
import { connectClient, type ConnectStatus, type TestClient } from '../../helpers/clients.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { freePort, runWarden, type RunningProcess } from '../../helpers/processes.ts';
import { createStoredUser, testEnv, testSecrets } from '../../helpers/warden.ts';

/**
 * Renewal and reuse detection on a real cluster (`warden start`, 3 workers, real time): tokens
 * live 5 s and renew every 2 s, so the story takes a few seconds, synchronised on the renewals
 * the clients receive rather than on sleeps.
 */
describe('token lifecycle on a real cluster: renewal and reuse detection across workers', function () {
  this.timeout(60_000);
  let db: { url: string; drop(): Promise<void> };
  let warden: RunningProcess;
  let port: number;
  const clients: TestClient[] = [];
  const username = 'lifecycle-user';
  const password = 'lifecycle-password';

  before(async function () {
    db = await createTestDatabase();
    await createStoredUser(db.url, { username, password, publish: ['chat.*'], subscribe: ['chat.*'] });
    port = await freePort();
    const secrets = testSecrets();
    warden = runWarden(['start'], {
      ...testEnv(db.url, { PORT: String(port), HOST: '127.0.0.1' }),
      WORKERS: '3',
      BROKERS: '1',
      TOKEN_TTL: '5',
      TOKEN_RENEW_INTERVAL: '2',
      TOKEN_REUSE_GRACE: '1',
      REVOCATION_POLL_INTERVAL: '250',
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

  async function connect(token: string): Promise<TestClient & { status: ConnectStatus }> {
    const client = await connectClient(port, { token });
    clients.push(client);
    return client;
  }

  /** The next token `client` receives from a renewal. */
  async function nextRenewal(client: TestClient): Promise<string> {
    const { signedAuthToken } = (await client.socket.listener('authenticate').once()) as {
      signedAuthToken: string;
    };
    return signedAuthToken;
  }

  it('keeps sockets authenticated past their first token, and ends the session everywhere when a replaced token is reused', async function () {
    const response = await fetch(`http://127.0.0.1:${port}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const { token } = (await response.json()) as { token: string };
    // Six sockets of one session; node:cluster hands consecutive connections to each worker in turn.
    const session = [];
    for (let i = 0; i < 6; i++) session.push(await connect(token));
    for (const client of session) assert.equal(client.status.isAuthenticated, true);

    // Two renewals of the first socket: the login token was replaced more than the grace ago.
    const first = session[0];
    assert.ok(first);
    const renewed = await nextRenewal(first);
    assert.notEqual(renewed, token);
    await nextRenewal(first);
    // The login token (TTL 5 s) would have expired by now without renewals; every socket is still in.
    await Promise.all(session.map((c) => c.socket.invokePublish('chat.alive', 1)));

    const ended = session.map(
      (c) => c.socket.receiver('warden:authEnded').once() as Promise<{ name: string }>,
    );
    const thief = await connect(token);
    assert.equal(thief.status.isAuthenticated, false);
    assert.equal(thief.status.authError?.name, 'TokenReuseError');
    // Revoked (not expired: renewals kept the session's tokens fresh) on every worker.
    assert.deepEqual(
      (await Promise.all(ended)).map((reason) => reason.name),
      session.map(() => 'AuthTokenRevokedError'),
    );
  });
});
