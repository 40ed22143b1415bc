import assert from 'node:assert/strict';
import { connectClient, socketLogin, type TestClient } from '../../helpers/clients.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { childrenOf, freePort, isAlive, runWarden, type RunningProcess } from '../../helpers/processes.ts';
import { testEnv, testSecrets, createStoredUser } from '../../helpers/warden.ts';

/** `warden start` as a real process tree: state server, 2 brokers, 2 workers sharing one port. */
describe('warden start: the cluster on one host (real processes)', function () {
  this.timeout(120_000);
  let db: { url: string; drop(): Promise<void> };
  let warden: RunningProcess;
  let port: number;
  let statePort: number;
  let brokerPort: number;
  const clients: TestClient[] = [];
  let password = '';
  const username = 'cluster-user';

  const roles = () => childrenOf(warden.child.pid as number);
  const pidsOf = (role: string) =>
    roles()
      .filter((c) => c.args.endsWith(` ${role}`))
      .map((c) => c.pid);

  before(async function () {
    db = await createTestDatabase();
    password = 'cluster-password';
    await createStoredUser(db.url, {
      username,
      password,
      publish: ['chat.*'],
      subscribe: ['chat.*'],
      invoke: ['whoami'],
    });
    port = await freePort();
    statePort = await freePort();
    brokerPort = await freePort();
    const secrets = testSecrets();
    warden = runWarden(['start'], {
      ...testEnv(db.url, { PORT: String(port), HOST: '127.0.0.1' }),
      WORKERS: '2',
      BROKERS: '2',
      SCC_STATE_SERVER_PORT: String(statePort),
      SCC_BROKER_SERVER_PORT: String(brokerPort),
      AUTH_KEY: secrets.authKey,
      SCC_AUTH_KEY: secrets.sccAuthKey,
      LOG_LEVEL: 'info',
    });
    await warden.waitFor(/Warden is ready/, 60_000);
  });

  afterEach(function () {
    for (const client of clients.splice(0)) client.socket.disconnect();
  });

  after(async function () {
    await warden?.stop();
    await db?.drop();
  });

  async function loggedInClients(count: number): Promise<TestClient[]> {
    const made: TestClient[] = [];
    for (let i = 0; i < count; i++) {
      const client = await connectClient(port, { autoReconnect: true });
      clients.push(client);
      await socketLogin(client, username, password);
      made.push(client);
    }
    return made;
  }

  async function subscribeAll(all: TestClient[], channel: string): Promise<void> {
    await Promise.all(all.map((c) => c.socket.subscribe(channel).listener('subscribe').once()));
  }

  /**
   * Publishes on `channel` every 250 ms until `received` settles (bounded): right after a broker
   * dies, workers may still map the channel to it until the state server's new list arrives.
   */
  async function publishUntil(
    publisher: TestClient | undefined,
    channel: string,
    received: Promise<unknown>,
  ) {
    let done = false;
    void received.then(() => (done = true));
    const deadline = Date.now() + 60_000;
    while (!done) {
      assert.ok(Date.now() < deadline, `pub/sub on ${channel} did not resume`);
      await publisher?.socket.invokePublish(channel, 'ping').catch(() => undefined);
      await Promise.race([received, new Promise((resolve) => setTimeout(resolve, 250))]);
    }
  }

  it('runs the state server, two brokers and two workers', function () {
    assert.equal(pidsOf('state').length, 1);
    assert.equal(pidsOf('broker').length, 2);
    assert.equal(pidsOf('worker').length, 2);
  });

  it('listens for the state server and brokers on HOST only, and tells plain HTTP nothing', async function () {
    // Linux routes all of 127.0.0.0/8 to the loopback: a server bound to every interface would
    // accept 127.0.0.2 too; one bound to HOST=127.0.0.1 does not.
    for (const [what, rolePort] of [
      ['state server', statePort],
      ['broker', brokerPort],
      ['second broker', brokerPort + 1],
    ] as const) {
      assert.equal(await tcpConnects('127.0.0.1', rolePort), true, `${what} on 127.0.0.1`);
      assert.equal(await tcpConnects('127.0.0.2', rolePort), false, `${what} on 127.0.0.2`);
    }
    const response = await fetch(`http://127.0.0.1:${statePort}/`);
    assert.equal(response.status, 404);
    assert.equal(await response.text(), '');
  });

  it('delivers a publish to subscribers on every worker', async function () {
    const all = await loggedInClients(6);
    // Several channels so that both brokers carry some (rendezvous hashing spreads them).
    for (const channel of ['chat.a', 'chat.b', 'chat.c', 'chat.d']) {
      await subscribeAll(all, channel);
      const received = Promise.all(all.map((c) => c.socket.channel(channel).once()));
      await all[0]?.socket.invokePublish(channel, { from: 'zero', channel });
      const messages = await received;
      assert.deepEqual(
        messages,
        all.map(() => ({ from: 'zero', channel })),
      );
    }
  });

  it('accepts a token from one worker on every other worker', async function () {
    const response = await fetch(`http://127.0.0.1:${port}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const { token } = (await response.json()) as { token: string };
    for (let i = 0; i < 4; i++) {
      const client = await connectClient(port, { token });
      clients.push(client);
      assert.equal(client.status.isAuthenticated, true, `connection ${i}`);
    }
  });

  it('keeps pub/sub between workers working while the state server is down', async function () {
    const all = await loggedInClients(4);
    await subscribeAll(all, 'chat.state-down');
    const [statePid] = pidsOf('state');
    assert.ok(statePid);
    process.kill(statePid, 'SIGSTOP');
    try {
      const received = Promise.all(all.map((c) => c.socket.channel('chat.state-down').once()));
      await all[1]?.socket.invokePublish('chat.state-down', 'still here');
      assert.deepEqual(
        await received,
        all.map(() => 'still here'),
      );
    } finally {
      process.kill(statePid, 'SIGCONT');
    }
  });

  it('after kill -9 of a worker, its clients reconnect and are authenticated again with their stored token', async function () {
    const all = await loggedInClients(6);
    const [victim] = pidsOf('worker');
    assert.ok(victim);
    const closed: TestClient[] = [];
    for (const client of all)
      void client.socket
        .listener('close')
        .once()
        .then(() => closed.push(client));
    const killedAt = Date.now();
    process.kill(victim, 'SIGKILL');
    // Round-robin put half of them on the victim: wait until every one of those is back.
    await warden.waitFor(new RegExp(`worker exited; restarting pid=${victim}`));
    await Promise.all(
      all.map(async (client) => {
        if (client.socket.state !== 'open' || closed.includes(client)) {
          await client.socket.listener('authenticate').once();
        }
      }),
    );
    const recoveredMs = Date.now() - killedAt;
    assert.ok(closed.length >= 1, 'some clients were on the killed worker');
    for (const client of all) assert.equal(client.socket.authState, 'authenticated');
    console.log(`      worker kill -9: ${closed.length} client(s) re-authenticated after ${recoveredMs} ms`);
    await subscribeAll(all, 'chat.after-kill');
    const received = Promise.all(all.map((c) => c.socket.channel('chat.after-kill').once()));
    await all[0]?.socket.invokePublish('chat.after-kill', 1);
    await received;
  });

  it('after kill -9 of a broker, it is restarted and pub/sub across workers resumes', async function () {
    const all = await loggedInClients(4);
    const channels = ['chat.k1', 'chat.k2', 'chat.k3', 'chat.k4'];
    for (const channel of channels) await subscribeAll(all, channel);
    const [victim] = pidsOf('broker');
    assert.ok(victim);
    const mark = warden.output().length;
    const killedAt = Date.now();
    process.kill(victim, 'SIGKILL');
    await warden.waitFor(new RegExp(`broker exited; restarting pid=${victim}`), 30_000, mark);
    // The restarted broker is back in the cluster once the state server announces two brokers.
    await warden.waitFor(/broker list grew.*brokers=\[[^\]]*,[^\]]*\]/, 60_000, mark);
    const rejoinedMs = Date.now() - killedAt;
    assert.equal(pidsOf('broker').length, 2);
    // Every channel (spread over both brokers) carries messages to subscribers on both workers.
    for (const channel of channels) {
      const received = Promise.all(all.map((c) => c.socket.channel(channel).once()));
      await publishUntil(all[0], channel, received);
    }
    console.log(
      `      broker kill -9: restarted broker rejoined after ${rejoinedMs} ms; pub/sub on 4 channels after ${Date.now() - killedAt} ms`,
    );
  });

  it('SIGTERM to a worker: in-flight RPCs finish, clients are closed with 4100 and reconnect', async function () {
    const all: TestClient[] = [];
    for (let i = 0; i < 4; i++) {
      const client = await connectClient(port, { autoReconnect: true });
      clients.push(client);
      all.push(client);
    }
    const [victim] = pidsOf('worker');
    assert.ok(victim);
    const codes: number[] = [];
    for (const client of all)
      void client.socket
        .listener('close')
        .once()
        .then(({ code }: { code: number }) => codes.push(code));
    const logins = all.map((client) => client.socket.invoke('login', { username, password }));
    process.kill(victim, 'SIGTERM');
    const results = await Promise.allSettled(logins);
    assert.deepEqual(
      results.map((r) => r.status),
      all.map(() => 'fulfilled'),
    );
    await warden.waitFor(new RegExp(`worker exited; restarting pid=${victim} code=0`));
    assert.ok(codes.length >= 1);
    for (const code of codes) assert.equal(code, 4100);
    await Promise.all(
      all.map((c) => (c.socket.state === 'open' ? undefined : c.socket.listener('connect').once())),
    );
  });

  it('SIGTERM to the supervisor stops every process (no orphans)', async function () {
    const tree = roles().map((c) => c.pid);
    assert.ok(tree.length >= 5);
    await warden.stop('SIGTERM');
    assert.deepEqual((await warden.exited()).code, 0);
    for (const pid of tree) assert.equal(isAlive(pid), false, `pid ${pid} still alive: ${describePid(pid)}`);
  });
});

/** Whether a TCP connection to host:port is accepted. */
function tcpConnects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function describePid(pid: number): string {
  try {
    return execFileSync('ps', ['-o', 'pid=,ppid=,stat=,args=', '-p', String(pid)], { encoding: 'utf8' });
  } catch {
    return '(gone)';
  }
}
