import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';
import { connectClient, type ConnectStatus, type TestClient } from '../../helpers/clients.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { freePorts, isAlive, runWarden, type RunningProcess } from '../../helpers/processes.ts';
import { testSecrets, createStoredUser } from '../../helpers/warden.ts';

/**
 * The topology kubernetes/ describes, as processes on loopback: one state server, two brokers,
 * three workers, each started with its Deployment's command and the environment its pod would
 * get (the ConfigMap, the Secret's keys, the downward-API pod IP). Only what a pod network
 * provides for free is replaced: every pod listens on its own port here, and Service names
 * resolve to 127.0.0.1.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
type Json = Record<string, unknown>;

interface PodSpec {
  readonly command: string[];
  readonly envNames: string[];
  readonly replicas: number | undefined;
}

function manifest(file: string): Json[] {
  return loadAll(readFileSync(`${ROOT}kubernetes/${file}`, 'utf8')).filter(
    (doc): doc is Json => typeof doc === 'object' && doc !== null,
  );
}

function deployment(file: string): PodSpec {
  const doc = manifest(file).find((d) => d.kind === 'Deployment') as {
    spec: { replicas?: number; template: { spec: { containers: Array<{ command: string[]; env?: Array<{ name: string }> }> } } };
  };
  const [container] = doc.spec.template.spec.containers;
  assert.ok(container, `${file} has a container`);
  return {
    command: container.command,
    envNames: (container.env ?? []).map((e) => e.name),
    replicas: doc.spec.replicas,
  };
}

describe('the Kubernetes topology as processes: state, 2 brokers, 3 workers', function () {
  this.timeout(120_000);
  const processes: RunningProcess[] = [];
  const clients: TestClient[] = [];
  let db: { url: string; drop(): Promise<void> };
  let workerPorts: number[] = [];
  /** Each pod's METRICS_PORT (each pod has its own network namespace; here, its own port). */
  let metricsPorts: Record<'state' | 'broker' | 'worker', number[]> = { state: [], broker: [], worker: [] };
  /** The environment every pod gets (ConfigMap + Secret), on loopback. */
  let pod: Record<string, string> = {};
  const username = 'topology-user';
  const password = 'topology-password';

  function start(spec: PodSpec, env: Record<string, string>): RunningProcess {
    // `node bin/warden.js <role>`, run from the image's working directory (the project root).
    assert.deepEqual(spec.command.slice(0, 2), ['node', 'bin/warden.js']);
    for (const name of spec.envNames) assert.ok(name in env, `${name} is given to the process`);
    const child = runWarden(spec.command.slice(2), env);
    processes.push(child);
    return child;
  }

  before(async function () {
    db = await createTestDatabase();
    await createStoredUser(db.url, { username, password, publish: ['chat.*'], subscribe: ['chat.*'] });

    const configMap = manifest('configmap.yaml')[0] as { data: Record<string, string> };
    const secrets = testSecrets();
    const [statePort, brokerPort1, brokerPort2, ...ports] = await freePorts(12);
    workerPorts = ports.slice(0, 3);
    const metrics = ports.slice(3);
    metricsPorts = { state: metrics.slice(0, 1), broker: metrics.slice(1, 3), worker: metrics.slice(3, 6) };
    pod = {
      ...configMap.data,
      AUTH_KEY: secrets.authKey,
      SCC_AUTH_KEY: secrets.sccAuthKey,
      DATABASE_URL: db.url,
      SCC_INSTANCE_IP: '127.0.0.1',
      SCC_STATE_SERVER_HOST: '127.0.0.1',
      SCC_STATE_SERVER_PORT: String(statePort),
      ALLOWED_ORIGINS: 'http://127.0.0.1',
      DATA_DIR: `${ROOT}data/topology-test`,
    };
    assert.equal(pod.NODE_ENV, 'production');

    const state = deployment('state.yaml');
    const broker = deployment('broker.yaml');
    const worker = deployment('worker.yaml');
    assert.equal(state.replicas, 1);
    assert.equal(broker.replicas, 2);
    assert.equal(pod.METRICS_PORT, '9464');
    const metricsOf = (role: keyof typeof metricsPorts, i: number) => ({
      METRICS_PORT: String(metricsPorts[role][i]),
    });
    await start(state, { ...pod, ...metricsOf('state', 0) }).waitFor(/state server listening|ready/i, 30_000);
    const brokers = [brokerPort1, brokerPort2].map((port, i) =>
      start(broker, { ...pod, SCC_BROKER_SERVER_PORT: String(port), ...metricsOf('broker', i) }),
    );
    await Promise.all(brokers.map((b) => b.waitFor(/broker listening/, 30_000)));
    const workers = workerPorts.map((port, i) =>
      start(worker, { ...pod, PORT: String(port), HOST: '127.0.0.1', ...metricsOf('worker', i) }),
    );
    await Promise.all(workers.map((w) => w.waitFor(/\bready\b/, 60_000)));
  });

  afterEach(function () {
    for (const client of clients.splice(0)) client.socket.disconnect();
  });

  after(async function () {
    for (const child of processes.reverse()) await child.stop('SIGTERM');
    for (const child of processes) assert.equal(isAlive(child.child.pid as number), false);
    await db?.drop();
  });

  async function connect(port: number, token?: string): Promise<TestClient & { status: ConnectStatus }> {
    const client = await connectClient(port, token === undefined ? {} : { token });
    clients.push(client);
    return client;
  }

  async function httpLogin(port: number): Promise<string> {
    const response = await fetch(`http://127.0.0.1:${port}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    assert.equal(response.status, 200);
    return ((await response.json()) as { token: string }).token;
  }

  it('reports every worker ready (store, brokers, not draining)', async function () {
    for (const port of workerPorts) {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`);
      assert.equal(response.status, 200, `worker on ${port} is ready`);
    }
  });

  it('serves GET /metrics in every pod, on METRICS_PORT and not on PORT', async function () {
    for (const [role, ports] of Object.entries(metricsPorts)) {
      for (const port of ports) {
        const response = await fetch(`http://127.0.0.1:${port}/metrics`);
        assert.equal(response.status, 200, `${role} on ${port}`);
        const body = await response.text();
        assert.match(body, /^warden_process_cpu_seconds_total \d/m, `${role} runtime metrics`);
        if (role === 'worker') assert.match(body, /^warden_broker_connected 1$/m, 'a worker connected to brokers');
      }
    }
    const onPublicPort = await fetch(`http://127.0.0.1:${workerPorts[0]}/metrics`);
    assert.equal(onPublicPort.status, 404);
  });

  it('accepts a token from one worker on every worker', async function () {
    const token = await httpLogin(workerPorts[0] as number);
    for (const port of workerPorts) {
      const client = await connect(port, token);
      assert.equal(client.status.isAuthenticated, true, `authenticated on ${port}`);
    }
  });

  it('delivers a publish on worker A to subscribers on workers B and C, on channels over both brokers', async function () {
    const token = await httpLogin(workerPorts[1] as number);
    const [a, b, c] = await Promise.all(workerPorts.map((port) => connect(port, token)));
    assert.ok(a && b && c);
    // Eight channels: with two brokers, rendezvous hashing puts some on each.
    const channels = Array.from({ length: 8 }, (_, i) => `chat.topology-${i}`);
    for (const channel of channels) {
      await Promise.all([b, c].map((s) => s.socket.subscribe(channel).listener('subscribe').once()));
      const received: Promise<unknown[]> = Promise.all([b, c].map((s) => s.socket.channel(channel).once()));
      await a.socket.invokePublish(channel, { channel });
      assert.deepEqual(await received, [{ channel }, { channel }]);
    }
  });

  it('logs out on worker A and deauthenticates the same session on workers B and C', async function () {
    const token = await httpLogin(workerPorts[2] as number);
    const [a, b, c] = await Promise.all(workerPorts.map((port) => connect(port, token)));
    assert.ok(a && b && c);
    const started = Date.now();
    const ended = [b, c].map((s) => s.socket.listener('deauthenticate').once());
    await a.socket.invoke('logout', {});
    await Promise.all(ended);
    console.log(`      logout on A reached B and C after ${Date.now() - started} ms`);
    for (const client of [a, b, c]) assert.equal(client.socket.authState, 'unauthenticated');
    // The same token is refused everywhere afterwards.
    const again = await connect(workerPorts[1] as number, token);
    assert.equal(again.status.isAuthenticated, false);
  });

  it('revokes a user from the CLI (its own process): sockets on every worker lose their authentication', async function () {
    const token = await httpLogin(workerPorts[0] as number);
    const sockets = await Promise.all(workerPorts.map((port) => connect(port, token)));
    const ended = sockets.map((s) => s.socket.listener('deauthenticate').once());
    const cli = runWarden(['user', 'revoke', username], pod);
    assert.equal((await cli.exited()).code, 0, cli.output());
    const exitedAt = Date.now();
    await Promise.all(ended);
    console.log(`      warden user revoke reached all 3 workers ${Date.now() - exitedAt} ms after the CLI exited`);
    // A new login is not affected by the cut-off.
    const fresh = await connect(workerPorts[2] as number, await httpLogin(workerPorts[2] as number));
    assert.equal(fresh.status.isAuthenticated, true);
  });
});
