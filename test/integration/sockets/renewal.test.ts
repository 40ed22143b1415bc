import assert from 'node:assert/strict';
import jwt from 'jsonwebtoken';
import type { TokenClaims } from '../../../auth/tokens.ts';
import { connectClient, socketLogin, type ConnectStatus, type TestClient } from '../../helpers/clients.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { startTestWarden, testSecrets, type TestWarden } from '../../helpers/warden.ts';
import { Revocations } from '../../../auth/revocations.ts';

/**
 * The token lifecycle with an injected clock shared by two in-process workers on one database:
 * no real 30-minute waits. Moving the clock and calling `lifecycle.runDue()` is exactly what the
 * worker's own timer does when the time comes.
 */
const LIFECYCLE = {
  TOKEN_TTL: '3600',
  TOKEN_RENEW_INTERVAL: '1800',
  TOKEN_REUSE_GRACE: '10',
  SESSION_MAX_AGE: '5400',
  SESSION_IDLE_TIMEOUT: '2400',
};

const claimsOf = (token: string) => jwt.decode(token) as TokenClaims;

describe('token lifecycle: renewal, rotation, reuse detection, session limits', function () {
  let clock = Math.floor(Date.now() / 1000) * 1000;
  const now = () => clock;
  const secrets = testSecrets();
  let a: TestWarden;
  let b: TestWarden;
  const clients: TestClient[] = [];

  let db: { url: string; drop(): Promise<void> };

  before(async function () {
    db = await createTestDatabase();
    a = await startTestWarden(LIFECYCLE, { now, secrets, databaseUrl: db.url });
    b = await startTestWarden(LIFECYCLE, { now, secrets, databaseUrl: db.url });
  });
  afterEach(function () {
    for (const client of clients.splice(0)) client.socket.disconnect();
  });
  after(async function () {
    await b?.close();
    await a?.close();
    await db?.drop();
  });

  async function connect(
    warden: TestWarden,
    token?: string,
  ): Promise<TestClient & { status: ConnectStatus }> {
    const client = await connectClient(warden.port, token === undefined ? {} : { token });
    clients.push(client);
    return client;
  }

  async function loggedIn(warden: TestWarden, spec: Parameters<TestWarden['createUser']>[0] = {}) {
    const { user, password } = await warden.createUser({
      publish: ['chat.*'],
      subscribe: ['chat.*'],
      ...spec,
    });
    const client = await connect(warden);
    const token = await socketLogin(client, user.username, password);
    return { user, client, token };
  }

  /** Moves the clock and runs what has come due; resolves with the client's next token. */
  async function renewal(warden: TestWarden, client: TestClient, seconds: number): Promise<string> {
    const renewed = client.socket.listener('authenticate').once() as Promise<{ signedAuthToken: string }>;
    clock += seconds * 1000;
    warden.worker.lifecycle.runDue();
    return (await renewed).signedAuthToken;
  }

  function ended(client: TestClient): Promise<[{ name: string }, unknown]> {
    return Promise.all([
      client.socket.receiver('warden:authEnded').once() as Promise<{ name: string }>,
      client.socket.listener('deauthenticate').once(),
    ]);
  }

  it('renews a connected socket: new jti, iat and exp, same session, and the client keeps working', async function () {
    const { client, token } = await loggedIn(a);
    const first = claimsOf(token);
    const renewed = claimsOf(await renewal(a, client, 1800));
    assert.notEqual(renewed.jti, first.jti);
    assert.equal(renewed.iat, first.iat + 1800);
    assert.equal(renewed.exp, first.exp + 1800);
    assert.equal(renewed.sid, first.sid);
    assert.equal(renewed.auth_time, first.auth_time);
    assert.equal(client.socket.authState, 'authenticated');
    await client.socket.invokePublish('chat.renewed', 'still here');
  });

  it('refuses the replaced token once the grace window has passed, and ends the whole session on every worker', async function () {
    const { client, token } = await loggedIn(a);
    await renewal(a, client, 1800);
    // Worker B learns of the replacement from the store's event log (in a real cluster, from the
    // control channel first); poll now rather than wait for its timer.
    // A writes the revocation just after handing out the new token, so poll until it is there.
    const deadline = Date.now() + 5000;
    while (b.worker.revocations.replacedAt(claimsOf(token).jti) === null) {
      assert.ok(Date.now() < deadline, 'worker B learned of the replacement');
      await b.worker.feed.poll();
    }

    // Within the grace window (a client that reconnected while its new token was in flight).
    clock += 5_000;
    const late = await connect(b, token);
    assert.equal(late.status.isAuthenticated, true);
    late.socket.disconnect();

    // Past it: theft. The handshake is refused and the session's live sockets lose their token.
    clock += 10_000;
    const sessionEnded = ended(client);
    const thief = await connect(b, token);
    assert.equal(thief.status.isAuthenticated, false);
    assert.equal(thief.status.authError?.name, 'TokenReuseError');
    const [reason] = await sessionEnded;
    assert.equal(reason.name, 'AuthTokenRevokedError');
    assert.equal(client.socket.authState, 'unauthenticated');
  });

  it('does not renew a disabled user: the socket is deauthenticated and kicked out of its channels', async function () {
    const { user, client } = await loggedIn(a);
    await client.socket.subscribe('chat.disabled').listener('subscribe').once();
    await a.worker.store.updateUser(user.username, { disabled: true });
    const kicked = client.socket.listener('kickOut').once() as Promise<{ channel: string }>;
    const [reason] = await Promise.all([ended(client), advance(a, 1800)]).then(([r]) => r);
    assert.equal(reason.name, 'AuthTokenRevokedError');
    assert.equal((await kicked).channel, 'chat.disabled');
  });

  it('carries changed permissions in the renewed token and kicks subscriptions they no longer allow', async function () {
    const { user, client } = await loggedIn(a, { subscribe: ['chat.*', 'news.*'] });
    await client.socket.subscribe('news.today').listener('subscribe').once();
    await client.socket.subscribe('chat.kept').listener('subscribe').once();
    await a.worker.store.updateUser(user.username, { subscribe: ['chat.*'] });
    const kicked = client.socket.listener('kickOut').once() as Promise<{ channel: string }>;
    const renewed = claimsOf(await renewal(a, client, 1800));
    assert.deepEqual(renewed.subscribe, ['chat.*']);
    assert.equal((await kicked).channel, 'news.today');
    assert.deepEqual(client.socket.subscriptions(), ['chat.kept']);
  });

  it('ends a session at SESSION_MAX_AGE: the last renewal stops at it, then the user must log in again', async function () {
    const { client, token } = await loggedIn(a);
    const login = claimsOf(token);
    await client.socket.invokePublish('chat.active', 1);
    const second = claimsOf(await renewal(a, client, 1800));
    clock += 1000;
    await client.socket.invokePublish('chat.active', 2);
    const third = claimsOf(await renewal(a, client, 1800));
    assert.equal(second.exp, login.auth_time + 5400);
    assert.equal(third.exp, login.auth_time + 5400);
    const sessionEnded = ended(client);
    await advance(a, 5400 - 3601);
    const [reason] = await sessionEnded;
    assert.equal(reason.name, 'SessionExpiredError');
    // And the old session's token cannot start a new one.
    const again = await connect(b, client.auth.token ?? token);
    assert.equal(again.status.isAuthenticated, false);
  });

  it('does not renew a socket idle for longer than SESSION_IDLE_TIMEOUT, and renews an active one', async function () {
    const idle = await loggedIn(a);
    const active = await loggedIn(a);
    clock += 1500_000;
    await active.client.socket.invokePublish('chat.busy', 'activity');
    const idleEnded = ended(idle.client);
    const activeRenewed = active.client.socket.listener('authenticate').once();
    await advance(a, 1500);
    const [reason] = await idleEnded;
    assert.equal(reason.name, 'SessionExpiredError');
    await activeRenewed;
    assert.equal(active.client.socket.authState, 'authenticated');
  });

  it('keeps revocations across a restart of every worker', async function () {
    const { client, token } = await loggedIn(a);
    await client.socket.invoke('logout', {});
    const shared = { databaseUrl: a.databaseUrl, now, secrets };
    await b.close();
    await a.close();
    a = await startTestWarden(LIFECYCLE, { ...shared });
    b = await startTestWarden(LIFECYCLE, { ...shared });
    const after = await connect(b, token);
    assert.equal(after.status.isAuthenticated, false);
    assert.equal(after.status.authError?.name, 'AuthTokenRevokedError');
  });

  it('purges only revocations whose tokens have expired anyway, from the store and from memory', async function () {
    const nowSeconds = Math.floor(clock / 1000);
    const { store } = a.worker;
    const expired = {
      subject: `gone-${nowSeconds}`,
      ...Revocations.ofToken({ jti: `gone-${nowSeconds}`, exp: nowSeconds - 1 }),
    };
    const live = {
      subject: `kept-${nowSeconds}`,
      ...Revocations.ofToken({ jti: `kept-${nowSeconds}`, exp: nowSeconds + 60 }),
    };
    await a.worker.control.revoke(expired).catch(() => undefined);
    await a.worker.control.revoke(live);
    const before = (await store.activeRevocations(0)).map((e) => e.subject);
    assert.ok(before.includes(expired.subject) && before.includes(live.subject));
    assert.ok((await a.worker.control.purgeExpired()) >= 1);
    const after = (await store.activeRevocations(0)).map((e) => e.subject);
    assert.equal(after.includes(expired.subject), false);
    assert.equal(after.includes(live.subject), true);
  });

  /** Moves the clock and runs what has come due, without waiting for a particular event. */
  async function advance(warden: TestWarden, seconds: number): Promise<void> {
    clock += seconds * 1000;
    warden.worker.lifecycle.runDue();
  }
});
