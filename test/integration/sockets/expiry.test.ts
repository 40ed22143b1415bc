import assert from 'node:assert/strict';
import { connectClient, type TestClient } from '../../helpers/clients.ts';
import { startTestWarden, type TestWarden } from '../../helpers/warden.ts';

describe('live sockets follow their token', function () {
  let warden: TestWarden;
  const clients: TestClient[] = [];

  before(async function () {
    warden = await startTestWarden();
  });
  after(async function () {
    for (const client of clients) client.socket.disconnect();
    await warden.close();
  });

  it('deauthenticates a quiet subscriber when its token expires and kicks it out of its channels', async function () {
    const { user } = await warden.createUser({ subscribe: ['news'], publish: ['news'] });
    const now = Math.floor(Date.now() / 1000);
    const shortLived = warden.worker.tokens.sign({
      ...warden.worker.tokens.claimsFor(user),
      iat: now,
      exp: now + 2,
    });
    const quiet = await connectClient(warden.port, { token: shortLived });
    clients.push(quiet);
    assert.equal(quiet.status.isAuthenticated, true);
    const channel = quiet.socket.subscribe('news');
    await channel.listener('subscribe').once();

    // The quiet client sends nothing from here on; the server must act by itself.
    const [authEnded, kicked] = await Promise.all([
      quiet.socket.receiver('warden:authEnded').once() as Promise<{ name: string }>,
      quiet.socket.listener('kickOut').once() as Promise<{ channel: string }>,
      quiet.socket.listener('deauthenticate').once(),
    ]);
    assert.equal(authEnded.name, 'AuthTokenExpiredError');
    assert.equal(kicked.channel, 'news');
    assert.equal(quiet.socket.authState, 'unauthenticated');
    const serverSide = warden.worker.agServer.clients[quiet.socket.id as string];
    assert.ok(serverSide, 'the socket stays connected');
    assert.deepEqual(serverSide.subscriptions(), []);
    assert.equal(serverSide.authState, 'unauthenticated');

    // A publish after the kick reaches another subscriber but not the expired one.
    const fresh = await connectClient(warden.port, { token: warden.worker.tokens.issue(user).token });
    clients.push(fresh);
    const freshChannel = fresh.socket.subscribe('news');
    await freshChannel.listener('subscribe').once();
    let leaked = false;
    void (async () => {
      for await (const _message of channel) leaked = true;
    })();
    const delivered = freshChannel.once();
    await fresh.socket.invokePublish('news', 'after expiry');
    assert.equal(await delivered, 'after expiry');
    assert.equal(leaked, false);
  });
});
