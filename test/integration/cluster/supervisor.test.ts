import assert from 'node:assert/strict';
import { connectClient, socketLogin, type TestClient } from '../../helpers/clients.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { execFileSync } from 'node:child_process';
import { connect, createServer, type Server } from 'node:net';
import {
  childrenOf,
  freePort,
  freePortRun,
  freePorts,
  isAlive,
  runWarden,
  type RunningProcess,
} from '../../helpers/processes.ts';
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
    brokerPort = await freePortRun(2);
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
    await warden.waitFor(new RegExp(`worker exited; restarting child=${victim}`));
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
    await warden.waitFor(new RegExp(`broker exited; restarting child=${victim}`), 30_000, mark);
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
    await warden.waitFor(new RegExp(`worker exited; restarting child=${victim} code=0`));
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

/** `warden start` when it cannot start, and when its supervisor is killed outright. */
describe('warden start: ports in use, a killed supervisor (real processes)', function () {
  this.timeout(120_000);
  let db: { url: string; drop(): Promise<void> };
  const secrets = testSecrets();

  before(async function () {
    db = await createTestDatabase();
  });
  after(async function () {
    await db?.drop();
  });

  interface Ports {
    PORT: number;
    SCC_STATE_SERVER_PORT: number;
    SCC_BROKER_SERVER_PORT: number;
    METRICS_PORT: number;
  }

  async function ports(): Promise<Ports> {
    const [port, state, broker, metrics] = await freePorts(4);
    return {
      PORT: port ?? 0,
      SCC_STATE_SERVER_PORT: state ?? 0,
      SCC_BROKER_SERVER_PORT: broker ?? 0,
      METRICS_PORT: metrics ?? 0,
    };
  }

  function run(args: string[], given: Ports): RunningProcess {
    return runWarden(args, {
      ...testEnv(db.url, { PORT: String(given.PORT), HOST: '127.0.0.1' }),
      WORKERS: '2',
      BROKERS: '1',
      SCC_STATE_SERVER_PORT: String(given.SCC_STATE_SERVER_PORT),
      SCC_BROKER_SERVER_PORT: String(given.SCC_BROKER_SERVER_PORT),
      METRICS_PORT: String(given.METRICS_PORT),
      AUTH_KEY: secrets.authKey,
      SCC_AUTH_KEY: secrets.sccAuthKey,
      LOG_LEVEL: 'info',
    });
  }

  /** Holds 127.0.0.1:port, as another program would. */
  async function occupy(port: number): Promise<Server> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return server;
  }

  /** The process's exit, or a failure (and a SIGTERM to it) when it runs past `ms`. */
  async function exitWithin(warden: RunningProcess, ms: number) {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`still running after ${ms} ms:\n${warden.output()}`)), ms);
    });
    try {
      return await Promise.race([warden.exited(), late]);
    } finally {
      clearTimeout(timer);
      await warden.stop();
    }
  }

  const cases: Array<[command: string, variable: keyof Ports]> = [
    ['start', 'PORT'],
    ['start', 'SCC_STATE_SERVER_PORT'],
    ['start', 'SCC_BROKER_SERVER_PORT'],
    ['broker', 'SCC_BROKER_SERVER_PORT'],
    ['start', 'METRICS_PORT'],
    ['worker', 'METRICS_PORT'],
  ];
  for (const [command, variable] of cases) {
    it(`warden ${command} with ${variable} in use exits 1 with one line naming it, instead of restarting`, async function () {
      const given = await ports();
      const blocker = await occupy(given[variable]);
      try {
        const warden = run([command], given);
        const { code } = await exitWithin(warden, 60_000);
        const output = warden.output();
        assert.equal(code, 1, output);
        assert.deepEqual(
          output.split('\n').filter((line) => line.includes('in use')),
          [`warden: ${variable} ${given[variable]} is in use on 127.0.0.1; set ${variable} to a free port`],
          output,
        );
        assert.doesNotMatch(output, /\n\s+at /, 'no stack trace');
        assert.doesNotMatch(output, /restarting/);
      } finally {
        blocker.close();
      }
    });
  }

  it('SIGKILL of the supervisor ends every role, and a new warden start on the same ports comes up', async function () {
    const given = await ports();
    const first = run(['start'], given);
    await first.waitFor(/Warden is ready/, 60_000);
    const roles = childrenOf(first.child.pid as number).filter((c) => c.args.includes('warden.js'));
    assert.equal(roles.length, 4, 'state server, broker, two workers');
    first.child.kill('SIGKILL');
    await first.exited();
    // They are not this process's children: there is no exit event to await, so poll (bounded).
    const deadline = Date.now() + 20_000;
    while (roles.some((role) => isAlive(role.pid))) {
      if (Date.now() > deadline)
        assert.fail(
          `roles outlived their supervisor:\n${roles.map((role) => describePid(role.pid)).join('')}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const second = run(['start'], given);
    try {
      await second.waitFor(/Warden is ready/, 60_000);
    } finally {
      await second.stop();
    }
  });
});
