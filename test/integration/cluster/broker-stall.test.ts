import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { connectClient, type TestClient } from '../../helpers/clients.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { createStoredUser } from '../../helpers/warden.ts';
import { startRoles, type RoleCluster } from './role-processes.ts';

const require = createRequire(import.meta.url);
const Mapper = require('scc-broker-client/mappers/skeleton-rendezvous-mapper') as new () => {
  setSites(sites: string[]): void;
  findSite(key: string): string;
};

/** Bound on noticing a stopped broker: STALL_TIMEOUT_MS (2 s) + a probe interval + slack for a loaded machine. */
const NOTICE_BOUND_MS = 5000;

/**
 * A broker stops (SIGSTOP: its process is alive, its sockets open, nothing answers). Workers notice
 * within seconds, well before its own sockets (30 s) or the state server (10 s) would, and move its
 * channels to the other broker; after SIGCONT it is used again.
 */
describe('a stalled broker', function () {
  this.timeout(120_000);
  let db: { url: string; drop(): Promise<void> };
  let cluster: RoleCluster;
  const clients: TestClient[] = [];
  const username = 'broker-stall-user';
  const password = 'broker-stall-password';

  before(async function () {
    db = await createTestDatabase();
    await createStoredUser(db.url, { username, password, publish: ['chat.*'], subscribe: ['chat.*'] });
    cluster = await startRoles({ databaseUrl: db.url, brokers: 2 });
  });
  after(async function () {
    for (const client of clients) client.socket.disconnect();
    await cluster?.stop();
    await db?.drop();
  });

  async function connect(port: number, token: string) {
    const client = await connectClient(port, { token });
    clients.push(client);
    assert.equal(client.status.isAuthenticated, true);
    return client;
  }

  /** Publishes on `channel` through `from` until `to` receives one (each try waits for the ack). */
  async function delivered(from: TestClient, to: TestClient, channel: string): Promise<void> {
    let arrived = false;
    const received = to.socket
      .channel(channel)
      .once()
      .then(() => (arrived = true));
    for (let attempt = 0; attempt < 100 && !arrived; attempt++) {
      await from.socket.invokePublish(channel, { attempt });
      await Promise.race([received, new Promise((resolve) => setTimeout(resolve, 100))]);
    }
    assert.ok(arrived, `nothing arrived on ${channel}`);
  }

  it('is noticed by every worker within a few seconds; its channels carry on over the other broker, and it is used again after SIGCONT', async function () {
    const a = await cluster.startWorker();
    const b = await cluster.startWorker();
    const [first, second] = cluster.brokers;
    assert.ok(first && second);
    const mapper = new Mapper();
    mapper.setSites(cluster.brokers.map((broker) => `ws://127.0.0.1:${broker.port}`));
    const channel = Array.from({ length: 64 }, (_, i) => `chat.stall-${i}`).find(
      (name) => mapper.findSite(name) === `ws://127.0.0.1:${second.port}`,
    );
    assert.ok(channel, 'a channel of the second broker');

    const login = await fetch(`http://127.0.0.1:${a.port}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const { token } = (await login.json()) as { token: string };
    const publisher = await connect(a.port, token);
    const subscriber = await connect(b.port, token);
    await subscriber.socket.subscribe(channel).listener('subscribe').once();
    await delivered(publisher, subscriber, channel);

    const since = [a, b].map((worker) => worker.process.output().length);
    const stalled = /broker stalled: .* broker=ws:\/\/127\.0\.0\.1:(\d+)/;
    const stoppedAt = Date.now();
    second.process.child.kill('SIGSTOP');
    const notices = await Promise.all(
      [a, b].map((worker, i) => worker.process.waitFor(stalled, NOTICE_BOUND_MS * 2, since[i])),
    );
    const noticedAfter = Date.now() - stoppedAt;
    for (const line of notices) assert.equal(stalled.exec(line)?.[1], String(second.port));
    assert.ok(noticedAfter <= NOTICE_BOUND_MS, `noticed after ${noticedAfter} ms`);
    console.log(`      both workers noticed the stopped broker after ${noticedAfter} ms`);
    // Still stopped: the channel now goes through the first broker.
    await delivered(publisher, subscriber, channel);

    const resumed = [a, b].map((worker) => worker.process.output().length);
    second.process.child.kill('SIGCONT');
    // Used again: either the worker sees it answer, or (if the state server evicted it meanwhile)
    // it rejoins the cluster and the workers get it back in their lists.
    await Promise.all(
      [a, b].map((worker, i) =>
        worker.process.waitFor(
          new RegExp(
            `broker answers again.*:${second.port}|broker list updated brokers=\\[.*:${second.port}.*\\] stalled=\\[\\]`,
          ),
          30_000,
          resumed[i],
        ),
      ),
    );
    await delivered(publisher, subscriber, channel);
  });
});
