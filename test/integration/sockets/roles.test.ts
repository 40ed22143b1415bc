import assert from 'node:assert/strict';
import jwt from 'jsonwebtoken';
import type { AGClientSocket } from 'socketcluster-client';
import { parseRoleCommand } from '../../../admin/role-commands.ts';
import type { TokenClaims } from '../../../auth/tokens.ts';
import { openStore } from '../../../store/index.ts';
import type { Store } from '../../../store/types.ts';
import { connectClient, socketLogin, type TestClient } from '../../helpers/clients.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { startTestWarden, testSecrets, type TestWarden } from '../../helpers/warden.ts';

/**
 * Roles map to patterns through the store: a user with a role holds the role's patterns, and a
 * role change made by the admin code (on a store of its own, as `warden role` runs in its own
 * process) reaches connected sockets on every worker with the next event-feed poll. The feed's
 * own timer is set to a minute, so the polls the tests make are what delivers each change.
 */
const ENV = { REVOCATION_POLL_INTERVAL: '60000', TOKEN_REUSE_GRACE: '120' };

const claimsOf = (token: string) => jwt.decode(token) as TokenClaims;

async function subscribe(socket: AGClientSocket, channel: string): Promise<void> {
  const ch = socket.subscribe(channel);
  const outcome = await Promise.race([
    ch
      .listener('subscribe')
      .once()
      .then(() => null),
    ch
      .listener('subscribeFail')
      .once()
      .then((event: { error: Error }) => event.error),
  ]);
  if (outcome !== null) throw outcome;
}

describe('roles: a user holds its roles’ patterns, and role changes reach connected sockets at once', function () {
  const secrets = testSecrets();
  let db: { url: string; drop(): Promise<void> };
  let a: TestWarden;
  let b: TestWarden;
  /** The admin's store: what `warden role ...` opens. */
  let admin: Store;
  const clients: TestClient[] = [];
  let roleNo = 0;

  before(async function () {
    db = await createTestDatabase();
    a = await startTestWarden(ENV, { secrets, databaseUrl: db.url });
    b = await startTestWarden(ENV, { secrets, databaseUrl: db.url });
    admin = openStore(db.url);
  });
  afterEach(function () {
    for (const client of clients.splice(0)) client.socket.disconnect();
  });
  after(async function () {
    await admin?.close();
    await b?.close();
    await a?.close();
    await db?.drop();
  });

  /** Runs `warden role <args>` through the admin code, on the admin's store. */
  async function role(...args: string[]): Promise<void> {
    await parseRoleCommand(args).run({ store: admin, out: () => {}, warn: () => {} });
  }

  /** A fresh role name, so that no test sees another's role. */
  function newRoleName(): string {
    return `chat-${++roleNo}-${process.pid}`;
  }

  async function loggedIn(warden: TestWarden, roles: string[]) {
    const { user, password } = await warden.createUser({ roles, publish: ['notes.{username}'] });
    const client = await connectClient(warden.port);
    clients.push(client);
    const token = await socketLogin(client, user.username, password);
    return { user, password, client, token };
  }

  /** The client's next token, which a role change brings. */
  function nextToken(client: TestClient): Promise<TokenClaims> {
    return (client.socket.listener('authenticate').once() as Promise<{ signedAuthToken: string }>).then(
      ({ signedAuthToken }) => claimsOf(signedAuthToken),
    );
  }

  it('puts the role’s patterns next to the user’s own in the token, over HTTP and on the socket', async function () {
    const chat = newRoleName();
    await role('add', chat, '--publish', 'chat.{username}', '--subscribe', 'chat.*', '--invoke', 'whoami');
    const { user, password, client, token } = await loggedIn(a, [chat, 'not-a-role']);
    const expected = {
      roles: [chat, 'not-a-role'],
      publish: [`notes.${user.username}`, `chat.${user.username}`],
      subscribe: ['chat.*'],
      invoke: ['whoami'],
    };
    const pick = ({ roles, publish, subscribe, invoke }: TokenClaims) => ({
      roles,
      publish,
      subscribe,
      invoke,
    });
    assert.deepEqual(pick(claimsOf(token)), expected);

    const response = await fetch(`${a.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: user.username, password }),
    });
    assert.equal(response.status, 200);
    const { token: httpToken } = (await response.json()) as { token: string };
    assert.deepEqual(pick(claimsOf(httpToken)), expected);

    // And the socket may do what the role allows.
    await subscribe(client.socket, 'chat.lobby');
    await client.socket.invokePublish(`chat.${user.username}`, 'hello');
    assert.equal(
      ((await client.socket.invoke('whoami', {})) as { username: string }).username,
      user.username,
    );
  });

  it('renews the sockets holding a role on every worker when `role set` changes it, and kicks what it no longer allows', async function () {
    const chat = newRoleName();
    await role('add', chat, '--subscribe', 'chat.*', '--subscribe', 'news.*');
    const onA = await loggedIn(a, [chat]);
    const onB = await loggedIn(b, [chat]);
    const bystander = await loggedIn(a, []);
    await subscribe(onA.client.socket, 'chat.lobby');
    await subscribe(onA.client.socket, 'news.today');
    await subscribe(onB.client.socket, 'chat.lobby');
    const bystanderClaims = () =>
      a.worker.registry
        .all()
        .map((socket) => a.worker.registry.claims(socket))
        .find((claims) => claims?.sub === bystander.user.id);
    assert.equal(bystanderClaims()?.jti, claimsOf(bystander.token).jti);

    const renewedA = nextToken(onA.client);
    const renewedB = nextToken(onB.client);
    const kickedA = onA.client.socket.listener('kickOut').once() as Promise<{ channel: string }>;
    const kickedB = onB.client.socket.listener('kickOut').once() as Promise<{ channel: string }>;
    await role('set', chat, '--subscribe', 'news.*');
    await Promise.all([a.worker.feed.poll(), b.worker.feed.poll()]);

    const [claimsA, claimsB] = await Promise.all([renewedA, renewedB]);
    assert.deepEqual(claimsA.subscribe, ['news.*']);
    assert.deepEqual(claimsB.subscribe, ['news.*']);
    assert.equal(claimsA.sid, claimsOf(onA.token).sid, 'the same session, renewed');
    assert.equal((await kickedA).channel, 'chat.lobby');
    assert.equal((await kickedB).channel, 'chat.lobby');
    assert.deepEqual(onA.client.socket.subscriptions(), ['news.today']);
    await assert.rejects(subscribe(onA.client.socket, 'chat.again'), { name: 'SubscribeError' });
    // A socket without the role kept its token.
    assert.equal(bystanderClaims()?.jti, claimsOf(bystander.token).jti);
  });

  it('takes a removed role’s patterns away from connected sockets at once, and gives them back when it is added again', async function () {
    const chat = newRoleName();
    await role('add', chat, '--subscribe', 'chat.*');
    const { client } = await loggedIn(a, [chat]);
    await subscribe(client.socket, 'chat.lobby');

    const renewed = nextToken(client);
    const kicked = client.socket.listener('kickOut').once() as Promise<{ channel: string }>;
    await role('remove', chat);
    await a.worker.feed.poll();
    const claims = await renewed;
    assert.deepEqual(claims.subscribe, []);
    assert.deepEqual(claims.roles, [chat], 'the user still names the role; it grants nothing');
    assert.equal((await kicked).channel, 'chat.lobby');
    assert.equal(client.socket.authState, 'authenticated');

    const back = nextToken(client);
    await role('add', chat, '--subscribe', 'chat.*');
    await a.worker.feed.poll();
    assert.deepEqual((await back).subscribe, ['chat.*']);
    await subscribe(client.socket, 'chat.lobby');
  });
});
