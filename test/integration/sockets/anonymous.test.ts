import assert from 'node:assert/strict';
import { connectClient, rejection, socketLogin, type TestClient } from '../../helpers/clients.ts';
import { startTestWarden, type TestWarden } from '../../helpers/warden.ts';

/** A clock the test moves by hand. */
function handClock() {
  let offset = 0;
  const base = Date.now();
  return { now: () => base + offset, advance: (ms: number) => (offset += ms) };
}

/** Subscribes and waits until the server has answered. */
async function subscribed(client: TestClient, channel: string): Promise<void> {
  const subscription = client.socket.subscribe(channel);
  await subscription.listener('subscribe').once();
}

describe('anonymous access (ANONYMOUS=on)', function () {
  this.timeout(30_000);
  let warden: TestWarden;
  const clock = handClock();
  const clients: TestClient[] = [];
  before(async function () {
    warden = await startTestWarden(
      {
        UNAUTHENTICATED_TIMEOUT: '5',
        ANONYMOUS: 'on',
        ANONYMOUS_SUBSCRIBE: 'news.*',
        ANONYMOUS_PUBLISH: 'lobby.*',
        ANONYMOUS_INVOKE: 'whoami',
      },
      { now: clock.now },
    );
  });
  afterEach(function () {
    for (const client of clients.splice(0)) client.socket.disconnect();
  });
  after(async function () {
    await warden?.close();
  });

  async function connect(): Promise<TestClient> {
    const client = await connectClient(warden.port);
    clients.push(client);
    return client;
  }

  it('lets an unauthenticated socket do exactly what the anonymous patterns allow', async function () {
    const client = await connect();
    await subscribed(client, 'news.today');
    const refusedSubscribe = client.socket.subscribe('chat.room');
    const failed = (await refusedSubscribe.listener('subscribeFail').once()) as {
      error: { reason?: string };
    };
    assert.equal(failed.error.reason, 'unauthenticated');
    await client.socket.invokePublish('lobby.main', 'hi');
    assert.equal((await rejection(client.socket.invokePublish('news.today', 'x'))).reason, 'unauthenticated');
    assert.equal((await rejection(client.socket.invokePublish('#publish', 'x'))).reason, 'invalid-channel');
    // whoami passes the authorizer (the procedure itself then asks for a login); logout does not.
    const whoami = await rejection(client.socket.invoke('whoami', {}));
    assert.equal(whoami.message, 'log in first');
    assert.equal(whoami.reason, undefined);
    assert.equal((await rejection(client.socket.invoke('logout', {}))).reason, 'unauthenticated');
  });

  it('is not closed by UNAUTHENTICATED_TIMEOUT', async function () {
    const client = await connect();
    assert.equal(warden.worker.unauthenticated.pending, 0);
    clock.advance(60_000);
    warden.worker.unauthenticated.runDue();
    await client.socket.invokePublish('lobby.main', 'still here');
    assert.equal(client.socket.state, 'open');
  });

  it('logs in later: channels its claims do not allow are kicked; logging out keeps only the anonymous ones', async function () {
    const { user, password } = await warden.createUser({ subscribe: ['news.today', 'chat.*'] });
    const client = await connect();
    await subscribed(client, 'news.today');
    await subscribed(client, 'news.sport');
    const kickedAtLogin = client.socket.listener('kickOut').once() as Promise<{ channel: string }>;
    await socketLogin(client, user.username, password);
    assert.equal((await kickedAtLogin).channel, 'news.sport');
    await subscribed(client, 'chat.room');
    assert.deepEqual(client.socket.subscriptions().sort(), ['chat.room', 'news.today']);
    const kickedAtLogout = client.socket.listener('kickOut').once() as Promise<{ channel: string }>;
    await client.socket.invoke('logout', {});
    assert.equal((await kickedAtLogout).channel, 'chat.room');
    const server = warden.worker.agServer.clients[client.socket.id ?? ''];
    assert.deepEqual(server?.subscriptions(), ['news.today']);
  });
});
