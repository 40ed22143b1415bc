import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createWardenClient,
  type WardenClient,
  type WardenEventName,
  type WardenEvents,
} from '../../../client/src/index.ts';
import { fileTokenStorage } from '../../../client/src/node.ts';
import { Revocations } from '../../../auth/revocations.ts';
import { startTestWarden, type TestWarden } from '../../helpers/warden.ts';

/** Every payload of `event` the client emits, in order. */
function record<E extends WardenEventName>(client: WardenClient, event: E): Array<WardenEvents[E]> {
  const seen: Array<WardenEvents[E]> = [];
  client.on(event, (payload) => seen.push(payload));
  return seen;
}

/** The next payload of `event`. */
function next<E extends WardenEventName>(client: WardenClient, event: E): Promise<WardenEvents[E]> {
  return new Promise((resolve) => {
    const off = client.on(event, (payload) => {
      off();
      resolve(payload);
    });
  });
}

/** Resolves once the server has applied everything sent before (a round trip on the same socket). */
async function roundTrip(client: WardenClient): Promise<void> {
  await client.invoke('whoami').catch(() => undefined);
}

describe('warden-client in Node against a real server', function () {
  const clients: WardenClient[] = [];
  const client = (warden: TestWarden, options: Parameters<typeof createWardenClient>[0] = {}) => {
    const created = createWardenClient({ url: warden.url, ...options });
    clients.push(created);
    return created;
  };
  afterEach(function () {
    for (const created of clients.splice(0)) created.close();
  });

  describe('with the default lifetimes', function () {
    let warden: TestWarden;
    before(async function () {
      warden = await startTestWarden();
    });
    after(async function () {
      await warden?.close();
    });

    it('is authenticated as soon as `await login()` returns, with the claims and expiry of the token', async function () {
      const { user, password } = await warden.createUser({ publish: ['chat.*'], invoke: ['whoami'] });
      const warden1 = client(warden);
      assert.equal(warden1.state, 'anonymous');
      const authenticated = record(warden1, 'authenticated');
      const claims = await warden1.login(user.username, password);
      // Synchronously after the await: no event loop turn in between.
      assert.equal(warden1.state, 'authenticated');
      assert.equal(warden1.claims?.username, user.username);
      assert.deepEqual(warden1.claims?.publish, ['chat.*']);
      assert.equal(claims.jti, warden1.claims?.jti);
      assert.equal(typeof warden1.expiresAt, 'number');
      assert.deepEqual(
        authenticated.map((event) => event.source),
        ['login'],
      );
      // The server agrees.
      const whoami = await warden1.invoke<{ username: string }>('whoami');
      assert.equal(whoami.username, user.username);
    });

    it('rejects a wrong password with LoginError and stays anonymous', async function () {
      const { user } = await warden.createUser();
      const warden1 = client(warden);
      await assert.rejects(warden1.login(user.username, 'wrong-password'), { name: 'LoginError' });
      assert.equal(warden1.state, 'anonymous');
      assert.equal(warden1.claims, null);
    });

    it('names refused publishes, subscribes and invokes as the server does', async function () {
      const { user, password } = await warden.createUser({ publish: ['chat.*'], subscribe: ['chat.*'] });
      const warden1 = client(warden);
      await warden1.login(user.username, password);
      await assert.rejects(warden1.publish('news', 1), { name: 'PublishError', code: 'PUBLISH_FORBIDDEN' });
      await assert.rejects(warden1.subscribe('news'), { name: 'SubscribeError' });
      await assert.rejects(warden1.invoke('admin.reset'), { name: 'InvokeError' });
      await warden1.subscribe('chat.lobby');
      const message = next(warden1, 'message');
      await warden1.publish('chat.lobby', { text: 'hi' });
      assert.deepEqual(await message, { channel: 'chat.lobby', data: { text: 'hi' } });
      assert.deepEqual(warden1.subscriptions, ['chat.lobby']);
      assert.equal(warden1.state, 'authenticated');
    });

    it('reports its own logout as `logout`, once; a client sharing the token hears `logout-elsewhere`, once', async function () {
      const { user, password } = await warden.createUser();
      const own = client(warden);
      const other = client(warden);
      await own.login(user.username, password);
      await other.authenticate((await tokenOf(own)) as string);
      assert.equal(other.state, 'authenticated');
      const ownEnds = record(own, 'authEnded');
      const otherEnds = record(other, 'authEnded');
      const otherEnded = next(other, 'authEnded');

      await own.logout();
      assert.equal(own.state, 'ended');
      await otherEnded;
      // Anything the server still had in flight for either socket has arrived by now.
      await Promise.all([roundTrip(own), roundTrip(other)]);
      assert.deepEqual(
        ownEnds.map(({ reason, error }) => [reason, error?.name ?? null]),
        [['logout', null]],
      );
      assert.deepEqual(
        otherEnds.map(({ reason }) => reason),
        ['logout-elsewhere'],
      );
      assert.equal(other.state, 'ended');
    });

    it('tells a revoked user from a disabled one', async function () {
      const revoked = await warden.createUser();
      const disabled = await warden.createUser();
      const a = client(warden);
      const b = client(warden);
      await a.login(revoked.user.username, revoked.password);
      await b.login(disabled.user.username, disabled.password);
      const now = Math.floor(Date.now() / 1000);
      const aEnded = next(a, 'authEnded');
      await warden.worker.control.revoke(Revocations.ofUser(revoked.user.id, now + 1, now + 3600));
      const aEnd = await aEnded;
      assert.equal(aEnd.reason, 'revoked');
      assert.equal(aEnd.error?.name, 'AuthTokenRevokedError');

      const bEnded = next(b, 'authEnded');
      await warden.worker.store.updateUser(disabled.user.username, { disabled: true });
      await warden.worker.control.revoke(Revocations.ofUser(disabled.user.id, now + 1, now + 3600));
      assert.equal((await bEnded).reason, 'disabled');
      assert.equal(b.state, 'ended');
    });

    it('keeps the token in a 0600 file with fileTokenStorage; a new client is authenticated in the handshake', async function () {
      const dir = await mkdtemp(join(tmpdir(), 'warden-client-'));
      try {
        const file = join(dir, 'token');
        const { user, password } = await warden.createUser();
        const first = client(warden, { storage: fileTokenStorage(file) });
        await first.login(user.username, password);
        // login() resolves once the token is kept, too.
        assert.equal((await stat(file)).mode & 0o777, 0o600);
        first.close();

        const second = client(warden, { storage: fileTokenStorage(file) });
        const { source, claims } = await next(second, 'authenticated');
        assert.equal(source, 'handshake');
        assert.equal(claims.username, user.username);
        assert.equal(second.state, 'authenticated');
        second.close();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe('with short lifetimes', function () {
    let warden: TestWarden;
    before(async function () {
      warden = await startTestWarden({
        TOKEN_TTL: '6',
        TOKEN_RENEW_INTERVAL: '1',
        TOKEN_REUSE_GRACE: '2',
        UNAUTHENTICATED_TIMEOUT: '1',
      });
    });
    after(async function () {
      await warden?.close();
    });

    it('emits `renewed` with the new token when the server renews it', async function () {
      const { user, password } = await warden.createUser();
      const warden1 = client(warden);
      const first = await warden1.login(user.username, password);
      const renewed = await next(warden1, 'renewed');
      assert.notEqual(renewed.claims.jti, first.jti);
      assert.equal(renewed.source, 'server');
      assert.equal(warden1.claims?.jti, renewed.claims.jti);
      assert.equal(warden1.expiresAt, renewed.expiresAt);
    });

    it('emits `expiring` ahead of the expiry of a token that has not been renewed yet', async function () {
      const { user, password } = await warden.createUser();
      // A lead as long as the token's life: due as soon as a token arrives.
      const warden1 = client(warden, { expiringLead: 6 });
      const held: number[] = [];
      warden1.on('authenticated', ({ claims }) => held.push(claims.exp));
      warden1.on('renewed', ({ claims }) => held.push(claims.exp));
      const expiring = next(warden1, 'expiring');
      await warden1.login(user.username, password);
      const event = await expiring;
      assert.ok(held.includes(event.expiresAt), `${event.expiresAt} is the expiry of a token it held`);
      assert.ok(event.inSeconds <= 6);
    });

    it('stops retrying once the server closes it for staying logged out after a revocation, and says so', async function () {
      const { user, password } = await warden.createUser();
      const warden1 = client(warden);
      await warden1.login(user.username, password);
      const now = Math.floor(Date.now() / 1000);
      const closed = new Promise<WardenEvents['connection']>((resolve) => {
        warden1.on('connection', (event) => {
          if (event.state === 'closed') resolve(event);
        });
      });
      await warden.worker.control.revoke(Revocations.ofUser(user.id, now + 1, now + 3600));
      const event = await closed;
      assert.equal(event.code, 4131);
      assert.equal(event.terminal, true);
      assert.match(event.why ?? '', /log in/);
      assert.equal(warden1.connection, 'closed');
      // And a login connects it again.
      const again = await warden.createUser();
      await warden1.login(again.user.username, again.password);
      assert.equal(warden1.state, 'authenticated');
      assert.equal(warden1.connection, 'open');
    });
  });
});

/** The signed token a client's socket holds (a test-only look inside). */
async function tokenOf(client: WardenClient): Promise<string | null> {
  const socket = (client as unknown as { socket: { signedAuthToken: string | null } }).socket;
  return socket.signedAuthToken;
}
