import assert from 'node:assert/strict';
import type { AGClientSocket } from 'socketcluster-client';
import { connectClient, socketLogin, type TestClient } from '../../helpers/clients.ts';
import { startTestWarden, type TestWarden } from '../../helpers/warden.ts';

/** Subscribes and resolves on `subscribe`, rejects with the SubscribeError on `subscribeFail`. */
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

describe('WebSocket authorization from token claims', function () {
  let warden: TestWarden;
  const clients: TestClient[] = [];

  before(async function () {
    warden = await startTestWarden({ MAX_CHANNELS_PER_SOCKET: '3' });
  });
  afterEach(function () {
    for (const client of clients.splice(0)) client.socket.disconnect();
  });
  after(async function () {
    await warden.close();
  });

  async function loggedIn(spec: Parameters<TestWarden['createUser']>[0]) {
    const { user, password } = await warden.createUser(spec);
    const client = await connectClient(warden.port);
    clients.push(client);
    await socketLogin(client, user.username, password);
    return { client, user };
  }

  it('logs in over the socket; a wrong password rejects with LoginError', async function () {
    const { user, password } = await warden.createUser();
    const client = await connectClient(warden.port);
    clients.push(client);
    await assert.rejects(client.socket.invoke('login', { username: user.username, password: 'wrong' }), {
      name: 'LoginError',
    });
    await assert.rejects(client.socket.invoke('login', { username: 'nobody-here', password: 'wrong' }), {
      name: 'LoginError',
      message: 'invalid username or password',
    });
    await assert.rejects(client.socket.invoke('login', 'not-an-object'), { name: 'BadRequestError' });
    const token = await socketLogin(client, user.username, password);
    assert.equal(client.socket.authState, 'authenticated');
    assert.equal(client.auth.token, token);
  });

  it('allows publish and subscribe inside the claims and refuses the rest with named errors', async function () {
    const { client: alice } = await loggedIn({ publish: ['chat.*'], subscribe: ['chat.*'] });
    await subscribe(alice.socket, 'chat.lobby');
    const received = alice.socket.channel('chat.lobby').once();
    await alice.socket.invokePublish('chat.lobby', { text: 'hi' });
    assert.deepEqual(await received, { text: 'hi' });

    await assert.rejects(alice.socket.invokePublish('news', 1), (error: Error & { reason?: string }) => {
      assert.equal(error.name, 'PublishError');
      assert.equal(error.reason, 'not-allowed');
      assert.match(error.message, /news/);
      return true;
    });
    await assert.rejects(subscribe(alice.socket, 'news'), { name: 'SubscribeError' });
    await assert.rejects(alice.socket.invokePublish('chat.lobby.deeper', 1), { name: 'PublishError' });
    assert.equal(alice.socket.state, 'open');
  });

  it('matches > on one or more trailing segments and fills {username} and {tenant}', async function () {
    const { client, user } = await loggedIn({
      tenant: 'acme',
      publish: ['user.{username}.>', 'tenant.{tenant}.*'],
      subscribe: ['user.{username}.>'],
    });
    const me = user.username;
    await client.socket.invokePublish(`user.${me}.inbox`, 1);
    await client.socket.invokePublish(`user.${me}.a.b.c`, 1);
    await client.socket.invokePublish('tenant.acme.news', 1);
    await assert.rejects(client.socket.invokePublish(`user.${me}`, 1), { name: 'PublishError' });
    await assert.rejects(client.socket.invokePublish('user.someone-else.inbox', 1), { name: 'PublishError' });
    await assert.rejects(client.socket.invokePublish('tenant.other.news', 1), { name: 'PublishError' });
    await subscribe(client.socket, `user.${me}.x`);
  });

  it('drops {tenant} patterns for a user without a tenant', async function () {
    const { client } = await loggedIn({ publish: ['tenant.{tenant}.>'] });
    await assert.rejects(client.socket.invokePublish('tenant..x', 1), { name: 'PublishError' });
    await assert.rejects(client.socket.invokePublish('tenant.{tenant}.x', 1), { name: 'PublishError' });
  });

  it('refuses channel names with wildcards, empty segments, control characters or over 256 bytes', async function () {
    const { client } = await loggedIn({ publish: ['>'], subscribe: ['>'] });
    for (const channel of [
      'chat.*',
      'chat.>',
      'chat..x',
      '.chat',
      'chat.',
      'a\u0000b',
      'x'.repeat(257),
      '#warden.control',
    ]) {
      await assert.rejects(
        client.socket.invokePublish(channel, 1),
        { name: 'PublishError' },
        JSON.stringify(channel),
      );
      await assert.rejects(
        subscribe(client.socket, channel),
        { name: 'SubscribeError' },
        JSON.stringify(channel),
      );
    }
    await client.socket.invokePublish('x'.repeat(256), 1);
  });

  it('caps the channels per socket', async function () {
    const { client } = await loggedIn({ subscribe: ['c.*'] });
    for (const c of ['c.1', 'c.2', 'c.3']) await subscribe(client.socket, c);
    await assert.rejects(
      subscribe(client.socket, 'c.4'),
      (error: Error & { reason?: string }) => error.reason === 'channel-limit',
    );
  });

  it('lets an unauthenticated socket only invoke login', async function () {
    const client = await connectClient(warden.port);
    clients.push(client);
    await assert.rejects(client.socket.invokePublish('chat.lobby', 1), { name: 'PublishError' });
    await assert.rejects(subscribe(client.socket, 'chat.lobby'), { name: 'SubscribeError' });
    await assert.rejects(client.socket.invoke('whoami', {}), { name: 'InvokeError' });
    await assert.rejects(client.socket.invoke('logout', {}), { name: 'InvokeError' });
    await assert.rejects(client.socket.invoke('anything', {}), { name: 'InvokeError' });
  });

  it('authorizes procedures from the invoke claim and refuses unknown ones at once', async function () {
    const { client: allowed, user } = await loggedIn({ invoke: ['whoami'] });
    const me = (await allowed.socket.invoke('whoami', {})) as { username: string };
    assert.equal(me.username, user.username);
    await assert.rejects(
      allowed.socket.invoke('no-such-procedure', {}),
      (error: Error & { reason?: string }) => {
        assert.equal(error.name, 'InvokeError');
        assert.equal(error.reason, 'unknown-procedure');
        return true;
      },
    );
    const { client: denied } = await loggedIn({ invoke: [] });
    await assert.rejects(denied.socket.invoke('whoami', {}), { name: 'InvokeError' });
  });

  it('logs out: the socket is deauthenticated, kicked from its channels, and the token is revoked', async function () {
    const { client } = await loggedIn({ subscribe: ['news'], publish: ['news'] });
    const token = client.socket.signedAuthToken as string;
    await subscribe(client.socket, 'news');
    const kicked = client.socket.listener('kickOut').once();
    await client.socket.invoke('logout', {});
    await kicked;
    assert.equal(client.socket.authState, 'unauthenticated');
    assert.deepEqual(client.socket.subscriptions(true), []);
    await assert.rejects(client.socket.authenticate(token), { name: 'AuthTokenRevokedError' });
  });

  it('keeps serving others when one client sends an oversized frame', async function () {
    const { client: big } = await loggedIn({ publish: ['news'] });
    const { client: other } = await loggedIn({ publish: ['news'], subscribe: ['news'] });
    const closed = big.socket.listener('close').once();
    big.socket.transmitPublish('news', 'x'.repeat(200 * 1024));
    const { code } = (await closed) as { code: number };
    assert.equal(code, 1009);
    await other.socket.invokePublish('news', 'still fine');
  });
});
