import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AGClientSocket } from 'socketcluster-client';
import { parseRoleCommand } from '../../../admin/role-commands.ts';
import { parseConfig } from '../../../config/index.ts';
import { silentLogger } from '../../../log/logger.ts';
import { openStore } from '../../../store/index.ts';
import { startWorker, type WardenWorker } from '../../../worker/create-worker.ts';
import { rejection } from '../../helpers/clients.ts';
import { connect, userinfo } from '../../helpers/gateway.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { startNginx, type RunningNginx } from '../../helpers/nginx.ts';
import { testEnv, testSecrets } from '../../helpers/warden.ts';

/**
 * The gateway and anonymous modes on two workers sharing one MariaDB database, each behind its
 * own nginx playing the gateway (as two pods behind one APISIX would be): a role change made by
 * the CLI reaches gateway sockets on both workers with the next event-log poll, and anonymous
 * access is the same on both.
 */
const SECRET = randomBytes(24).toString('hex');
describe('gateway identity and anonymous access on two workers', function () {
  this.timeout(60_000);
  const workers: WardenWorker[] = [];
  const proxies: RunningNginx[] = [];
  const sockets: AGClientSocket[] = [];
  let databaseUrl: string;
  let drop: () => Promise<void>;

  before(async function () {
    const db = await createTestDatabase();
    databaseUrl = db.url;
    drop = db.drop;
    const secrets = testSecrets();
    for (let i = 0; i < 2; i++) {
      const config = parseConfig(
        testEnv(db.url, {
          GATEWAY_IDENTITY_HEADER: 'X-Userinfo',
          GATEWAY_TRUSTED_PROXIES: '127.0.0.1',
          GATEWAY_SECRET_HEADER: 'X-Gateway-Secret',
          GATEWAY_SECRET: SECRET,
          GATEWAY_UNAUTH_ACTION: 'pass',
          ANONYMOUS: 'on',
          ANONYMOUS_SUBSCRIBE: 'news',
          // Only the test's own polls deliver the role change.
          REVOCATION_POLL_INTERVAL: '60000',
          TOKEN_REUSE_GRACE: '300',
        }),
        secrets,
      );
      workers.push(await startWorker({ config, log: silentLogger }));
    }
    await workers[0]?.store.createRole({
      name: 'chat',
      publish: ['chat.*'],
      subscribe: ['chat.*'],
      invoke: [],
    });
  });
  after(async function () {
    for (const socket of sockets) socket.disconnect();
    for (const nginx of proxies) await nginx.stop();
    for (const worker of workers) await worker.close();
    await drop?.();
  });

  it('applies a role change to gateway sockets on every worker, kicking what it no longer allows', async function () {
    const identity = userinfo({
      sub: 'kc-gus',
      preferred_username: 'gus',
      realm_access: { roles: ['chat'] },
    });
    const subscribed: AGClientSocket[] = [];
    for (const worker of workers) {
      const nginx = await startNginx(worker.port, {
        headers: { 'X-Userinfo': identity, 'X-Gateway-Secret': SECRET },
      });
      proxies.push(nginx);
      const outcome = await connect(nginx.port, '127.0.0.2');
      assert.ok(outcome.connected, 'connected through the gateway');
      const { socket, status } = outcome;
      sockets.push(socket);
      assert.equal(status.isAuthenticated, true);
      const channel = socket.subscribe('chat.lobby');
      await channel.listener('subscribe').once();
      subscribed.push(socket);
    }
    const kicks = subscribed.map((socket) => socket.listener('kickOut').once());
    const admin = openStore(databaseUrl);
    try {
      await parseRoleCommand(['set', 'chat', '--subscribe', 'chat.ops']).run({
        store: admin,
        out: () => {},
        warn: () => {},
      });
    } finally {
      await admin.close();
    }
    await Promise.all(workers.map((worker) => worker.feed.poll()));
    for (const kick of kicks) assert.equal(((await kick) as { channel: string }).channel, 'chat.lobby');
  });

  it('gives the same anonymous access on every worker, and nothing more', async function () {
    for (const worker of workers) {
      const outcome = await connect(worker.port, '127.0.0.2');
      assert.ok(outcome.connected, 'connected directly');
      const { socket, status } = outcome;
      sockets.push(socket);
      assert.equal(status.isAuthenticated, false);
      const news = socket.subscribe('news');
      await news.listener('subscribe').once();
      const refused = await rejection(socket.invokePublish('news', 'no'));
      assert.equal(refused.name, 'PublishError');
    }
  });
});
