import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import socketClusterClient, { type AGClientSocket } from 'socketcluster-client';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import type { AttachedWorkerReply, AttachedWorkerRequest } from './attached-worker.ts';
import { startRoles, type RoleCluster } from './role-processes.ts';

const require = createRequire(import.meta.url);
const Mapper = require('scc-broker-client/mappers/skeleton-rendezvous-mapper') as new () => {
  setSites(sites: string[]): void;
  findSite(key: string): string;
};

const ATTACHED_WORKER = fileURLToPath(new URL('./attached-worker.ts', import.meta.url));

/** Channels per publishing worker, and messages per channel in each round. */
const CHANNELS = 24;
const MESSAGES = 5;
const BATCH_MS = 20;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A forked attached-worker.ts: a bare AGServer attached to the cluster as Warden attaches it. */
interface Worker {
  readonly child: ChildProcess;
  readonly port: number;
  ask(request: DistributiveOmit<AttachedWorkerRequest, 'id'>): Promise<unknown>;
}

/** A message the test publishes: its round and its place in that round's sequence. */
interface Mark {
  round: string;
  seq: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * cluster/broker-channels.ts: a worker's broker connections deliver channel messages through one
 * handler per broker socket, not scc-broker-client's consumer loop per channel, and every message
 * still arrives exactly once and in order: across workers, with and without pubSubBatchDuration,
 * after an unsubscribe and a resubscribe, and after a broker joins and leaves the cluster. Real
 * state server and brokers (`warden state`, `warden broker`); the workers are attached-worker.ts
 * processes, which can tell the test how many consumers their broker sockets have.
 */
describe('broker channels: one handler per broker socket, not a loop per channel', function () {
  this.timeout(120_000);
  const sccAuthKey = randomBytes(32).toString('hex');
  let db: { url: string; drop(): Promise<void> };
  let roles: RoleCluster;
  const workers: Worker[] = [];
  let plain: Worker;
  let batched: Worker;
  let receiver: Worker;
  let subscriber: AGClientSocket | undefined;
  /** What `subscriber` received, by channel. */
  const received = new Map<string, Mark[]>();
  const plainChannels = Array.from({ length: CHANNELS }, (_, i) => `chat.plain-${i}`);
  const batchedChannels = Array.from({ length: CHANNELS }, (_, i) => `chat.batched-${i}`);
  const channels = [...plainChannels, ...batchedChannels];

  async function startWorker(batchMs: number | null): Promise<Worker> {
    const child = fork(ATTACHED_WORKER, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: {
        ...process.env,
        STATE_PORT: String(roles.statePort),
        SCC_AUTH_KEY: sccAuthKey,
        ...(batchMs === null ? {} : { BATCH_MS: String(batchMs) }),
      },
    });
    const pending = new Map<number, { resolve(result: unknown): void; reject(error: Error): void }>();
    let nextId = 1;
    const ready = new Promise<unknown>((resolve, reject) => {
      pending.set(0, { resolve, reject });
      child.once('exit', (code) => reject(new Error(`attached worker exited (${code})`)));
    });
    child.on('message', (reply: AttachedWorkerReply) => {
      const waiter = pending.get(reply.id);
      pending.delete(reply.id);
      if (reply.error === undefined) waiter?.resolve(reply.result);
      else waiter?.reject(new Error(reply.error));
    });
    const worker: Worker = {
      child,
      port: Number(await ready),
      ask: (request) =>
        new Promise((resolve, reject) => {
          const id = nextId++;
          pending.set(id, { resolve, reject });
          child.send({ ...request, id });
        }),
    };
    workers.push(worker);
    return worker;
  }

  function subscribe(socket: AGClientSocket, channel: string): Promise<unknown> {
    const subscription = socket.subscribe(channel);
    void (async () => {
      for await (const data of subscription) {
        const list = received.get(channel) ?? [];
        list.push(data as Mark);
        received.set(channel, list);
      }
    })();
    return subscription.listener('subscribe').once();
  }

  const publisherOf = (channel: string) => (plainChannels.includes(channel) ? plain : batched);
  const publish = (channel: string, mark: Mark) =>
    void publisherOf(channel).ask({ op: 'publish', channel, data: mark });
  const ofRound = (channel: string, round: string) =>
    (received.get(channel) ?? []).filter((mark) => mark.round === round).map((mark) => mark.seq);

  /**
   * Publishes MESSAGES marks of a fresh round on each of `on` and `off` from its worker, and checks
   * that the subscriber got each of `on` exactly once, in order, and nothing of the round on `off`.
   */
  async function roundTrip(on: readonly string[], off: readonly string[] = []): Promise<void> {
    const round = randomBytes(4).toString('hex');
    for (let seq = 0; seq < MESSAGES; seq++) {
      for (const channel of [...on, ...off]) publish(channel, { round, seq });
    }
    const deadline = Date.now() + 30_000;
    while (!on.every((channel) => ofRound(channel, round).length >= MESSAGES)) {
      if (Date.now() > deadline) assert.fail(`round ${round} not delivered`);
      await sleep(50);
    }
    // Late duplicates (a second consumer, a batch delivered twice) would land within this.
    await sleep(BATCH_MS * 10);
    const expected = Array.from({ length: MESSAGES }, (_, i) => i);
    for (const channel of on) assert.deepEqual(ofRound(channel, round), expected, channel);
    for (const channel of off) assert.deepEqual(ofRound(channel, round), [], channel);
  }

  /** Publishes probes on every channel until each has arrived: all workers' mappings agree again. */
  async function settled(on: readonly string[]): Promise<void> {
    const round = `probe-${randomBytes(4).toString('hex')}`;
    const deadline = Date.now() + 30_000;
    for (let seq = 0; ; seq++) {
      const missing = on.filter((channel) => ofRound(channel, round).length === 0);
      if (missing.length === 0) return;
      if (Date.now() > deadline) assert.fail(`no probe arrived on ${missing.join(', ')}`);
      for (const channel of missing) publish(channel, { round, seq });
      await sleep(200);
    }
  }

  const noChannelLoops = async () => {
    for (const worker of workers) {
      assert.equal(await worker.ask({ op: 'consumers' }), 0, `consumers on worker :${worker.port}`);
    }
  };
  const brokersOf = async (worker: Worker) => (await worker.ask({ op: 'brokers' })) as string[];
  /** Resolves once every worker's broker list holds `uri` (or, with `has` false, no longer does). */
  const everyWorkerLists = async (uri: string, has: boolean) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const lists = await Promise.all(workers.map(brokersOf));
      if (lists.every((list) => list.includes(uri) === has)) return;
      if (Date.now() > deadline)
        assert.fail(`broker lists ${JSON.stringify(lists)}, waiting for ${uri}: ${has}`);
      await sleep(100);
    }
  };

  before(async function () {
    db = await createTestDatabase();
    roles = await startRoles({ databaseUrl: db.url, brokers: 2, env: { SCC_AUTH_KEY: sccAuthKey } });
    plain = await startWorker(null);
    batched = await startWorker(BATCH_MS);
    receiver = await startWorker(null);
    subscriber = socketClusterClient.create({
      hostname: '127.0.0.1',
      port: receiver.port,
      autoReconnect: false,
    });
    await subscriber.listener('connect').once();
    // Each ack waits for the broker's confirmation (scc-attach.ts): messages flow from here on.
    await Promise.all(channels.map((channel) => subscribe(subscriber as AGClientSocket, channel)));
  });
  after(async function () {
    subscriber?.disconnect();
    for (const worker of workers) {
      const exited = new Promise((resolve) => worker.child.once('exit', resolve));
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGTERM');
      await exited;
    }
    await roles?.stop();
    await db?.drop();
  });

  it('subscribes every channel at its broker without a consumer of the channel on any broker socket', async function () {
    assert.equal((await brokersOf(receiver)).length, 2);
    await noChannelLoops();
  });

  it('delivers each message once and in order across workers, batched (pubSubBatchDuration) or not', async function () {
    await roundTrip(channels);
    await noChannelLoops();
  });

  it('stops after an unsubscribe, and delivers once again after a resubscribe', async function () {
    const socket = subscriber as AGClientSocket;
    const dropped = channels.filter((_, i) => i % 3 === 0);
    const kept = channels.filter((_, i) => i % 3 !== 0);
    for (const channel of dropped) {
      socket.unsubscribe(channel);
      socket.closeChannel(channel);
    }
    await roundTrip(kept, dropped);
    await Promise.all(dropped.map((channel) => subscribe(socket, channel)));
    await roundTrip(channels);
    await noChannelLoops();
  });

  it('moves channels to a broker that joins, and off it when it leaves, still once and in order', async function () {
    const added = await roles.startBroker();
    const uri = `ws://127.0.0.1:${added.port}`;
    await everyWorkerLists(uri, true);
    const mapper = new Mapper();
    mapper.setSites(await brokersOf(receiver));
    assert.ok(
      channels.some((channel) => mapper.findSite(channel) === uri),
      'some channels move to the new broker',
    );
    await settled(channels);
    await roundTrip(channels);
    await noChannelLoops();

    await added.process.stop('SIGTERM');
    await everyWorkerLists(uri, false);
    await settled(channels);
    await roundTrip(channels);
    await noChannelLoops();
  });
});
