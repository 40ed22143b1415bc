import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onInterrupt } from '../lib/cleanup.ts';
import { Forked } from '../lib/forked.ts';
import { postJson } from '../lib/http.ts';
import { Captured, freePortRun, WARDEN_BIN, wardenCommand } from '../lib/processes.ts';
import { stopCluster } from '../revocation/propagation.ts';
import type { FromServer, ToServer, WireProtocol } from './protocol.ts';
import { wardenProcesses, type StackProcess } from './proc.ts';

/** The stacks, in the order of the table. */
export const STACK_IDS = [
  'ws',
  'sc',
  'sc-pass',
  'sc-scc',
  'sio',
  'sio-cluster',
  'warden-solo',
  'warden-scc',
  'warden-1',
  'warden-2',
] as const;
export type StackId = (typeof STACK_IDS)[number];

export const STACK_LABELS: Readonly<Record<StackId, string>> = {
  ws: 'raw ws',
  sc: 'bare SC',
  'sc-pass': 'SC + pass-through',
  'sc-scc': 'SC + SCC (1 worker, 1 broker)',
  sio: 'Socket.IO + JWT',
  'sio-cluster': 'Socket.IO cluster-adapter (2 workers)',
  'warden-solo': 'Warden, one worker, no cluster',
  'warden-scc': "Warden's worker + SCC (1 broker)",
  'warden-1': 'Warden start, 1 worker 1 broker',
  'warden-2': 'Warden start, 2 workers 1 broker',
};

/** A stack that is up: where clients connect, its processes, how to read its heap, how to stop it. */
export interface RunningStack {
  readonly protocol: WireProtocol;
  readonly port: number;
  readonly token: string | null;
  readonly processes: readonly StackProcess[];
  /** heapUsed after gc summed over the processes that can tell; null where none can (warden start). */
  heap(): Promise<number | null>;
  stop(): Promise<void>;
}

/**
 * Limits Warden's stacks are given so that the bench measures work, not refusals: every socket
 * comes from one address (the client process), and the 1:1 run sends ~100-300 actions per
 * socket per second. The limiters still run (and cost what they cost).
 */
export const WARDEN_BENCH_LIMITS: Readonly<Record<string, string>> = {
  MAX_CONNECTIONS_PER_ADDRESS: '1000000',
  SOCKET_RATE_LIMIT: '1000000',
  LOGIN_RATE_LIMIT: '1000000',
  MAX_CHANNELS_PER_SOCKET: '100000',
};

const SERVERS = fileURLToPath(new URL('./servers/', import.meta.url));
const READY_MS = 60_000;

type Server = Forked<ToServer, FromServer>;

/** Where each server process writes a V8 CPU profile when it exits (--cpu-prof), if anywhere. */
let profileDir: string | null = null;
const profileFlags = (): string[] =>
  profileDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];

async function forkServer(
  script: string,
  env: Readonly<Record<string, string>> = {},
): Promise<{ server: Server; ready: Extract<FromServer, { type: 'ready' }> }> {
  const server: Server = new Forked(`${SERVERS}${script}`, {
    execArgv: ['--expose-gc', ...profileFlags()],
    env,
  });
  const forget = onInterrupt(() => server.kill());
  void server.exited.then(forget);
  try {
    return { server, ready: await server.next('ready', READY_MS) };
  } catch (error) {
    server.kill();
    throw error;
  }
}

const close = (server: Server) => server.close({ type: 'close' }, 10_000);

async function heapOf(server: Server): Promise<number> {
  server.send({ type: 'heap' });
  return (await server.next('heap', 30_000)).bytes;
}

/** One forked process is the whole stack (plus the node:cluster workers it reports). */
async function single(
  protocol: WireProtocol,
  script: string,
  env: Readonly<Record<string, string>> = {},
  role = 'worker',
): Promise<RunningStack> {
  const { server, ready } = await forkServer(script, env);
  return {
    protocol,
    port: ready.port,
    token: ready.token,
    processes: [{ pid: server.pid ?? 0, role }, ...ready.others],
    heap: () => heapOf(server),
    stop: () => close(server),
  };
}

/**
 * A cluster of one worker: the state server, one scc-broker, and `worker(statePort, authKey)`
 * attached to them with scc-broker-client (the heap is the worker's).
 */
async function clusterOfOne(
  worker: (
    statePort: number,
    authKey: string,
  ) => Promise<{ server: Server; ready: Extract<FromServer, { type: 'ready' }> }>,
): Promise<RunningStack> {
  const authKey = randomBytes(24).toString('hex');
  const started: Server[] = [];
  try {
    const state = await forkServer('scc-state.ts', { SCC_AUTH_KEY: authKey });
    started.push(state.server);
    const brokerPort = await freePortRun(1);
    const broker = await forkServer('scc-broker.ts', {
      SCC_STATE_SERVER_HOST: '127.0.0.1',
      SCC_STATE_SERVER_PORT: String(state.ready.port),
      SCC_BROKER_SERVER_PORT: String(brokerPort),
      SCC_AUTH_KEY: authKey,
      SCC_BROKER_SERVER_RETRY_DELAY: '200',
    });
    started.push(broker.server);
    const attached = await worker(state.ready.port, authKey);
    started.push(attached.server);
    return {
      protocol: 'sc',
      port: attached.ready.port,
      token: attached.ready.token,
      processes: [
        { pid: attached.server.pid ?? 0, role: 'worker' },
        { pid: broker.server.pid ?? 0, role: 'broker' },
        { pid: state.server.pid ?? 0, role: 'state' },
      ],
      heap: async () => heapOf(attached.server),
      stop: async () => {
        for (const server of started.reverse()) await close(server);
      },
    };
  } catch (error) {
    for (const server of started) server.kill();
    throw error;
  }
}

/** SocketCluster's own cluster: the state server, one scc-broker, one SC worker attached with scc-broker-client. */
const sccStack = (): Promise<RunningStack> =>
  clusterOfOne((statePort, authKey) =>
    forkServer('sc-server.ts', { SC_STACK: 'scc', SCC_STATE_PORT: String(statePort), SCC_AUTH_KEY: authKey }),
  );

/**
 * Warden's worker (warden-solo.ts), alone or, with `cluster`, attached to a cluster of one broker
 * as `warden worker` attaches (cluster/scc-attach.ts): the heap of a worker on the cluster, which
 * `warden start` cannot report.
 */
async function wardenSolo(
  extraEnv: Readonly<Record<string, string>>,
  cluster = false,
): Promise<RunningStack> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-stacks-'));
  const forgetDir = onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
  // A worker tells the state server its port before it listens: on the cluster it needs one now.
  const port = cluster ? { PORT: String(await freePortRun(1)) } : {};
  const env = {
    WARDEN_BENCH_DIR: dir,
    WARDEN_BENCH_ENV: JSON.stringify({ ...WARDEN_BENCH_LIMITS, ...port, ...extraEnv }),
  };
  try {
    const stack = cluster
      ? await clusterOfOne((statePort, authKey) =>
          forkServer('warden-solo.ts', {
            ...env,
            WARDEN_BENCH_STATE_PORT: String(statePort),
            SCC_AUTH_KEY: authKey,
          }),
        )
      : await single('sc', 'warden-solo.ts', env);
    return {
      ...stack,
      stop: async () => {
        await stack.stop();
        await rm(dir, { recursive: true, force: true });
        forgetDir();
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    forgetDir();
    throw error;
  }
}

const BENCH_USER = 'bench-stacks';

/** `warden start` as a user runs it (supervisor, state server, brokers, node:cluster workers), on sqlite. */
async function wardenStart(
  workers: number,
  extraEnv: Readonly<Record<string, string>>,
): Promise<RunningStack> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-bench-stacks-'));
  const forgetDir = onInterrupt(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePortRun(1);
  const statePort = await freePortRun(1, new Set([port]));
  const brokerPort = await freePortRun(1, new Set([port, statePort]));
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    WORKERS: String(workers),
    BROKERS: '1',
    SCC_STATE_SERVER_PORT: String(statePort),
    SCC_BROKER_SERVER_PORT: String(brokerPort),
    DATABASE_URL: `sqlite:${join(dir, 'warden.db')}`,
    DATA_DIR: join(dir, 'data'),
    AUTH_KEY: randomBytes(32).toString('hex'),
    SCC_AUTH_KEY: randomBytes(32).toString('hex'),
    PASSWORD_HASH_COST: '14',
    LOG_LEVEL: 'warn',
    ...WARDEN_BENCH_LIMITS,
    ...extraEnv,
  };
  const password = randomBytes(12).toString('base64url');
  let supervisor: Captured | null = null;
  let forget = () => {};
  const cleanUp = async () => {
    if (supervisor !== null) await stopCluster(supervisor).catch(() => null);
    forget();
    await rm(dir, { recursive: true, force: true });
    forgetDir();
  };
  try {
    await wardenCommand(
      ['user', 'add', BENCH_USER, '--password-stdin', '--publish', 'chat.*', '--subscribe', 'chat.*'],
      env,
      { stdin: `${password}\n` },
    );
    // Flags before the script: node:cluster's workers and the forked roles inherit them.
    supervisor = new Captured(process.execPath, [...profileFlags(), WARDEN_BIN, 'start'], {
      env: { ...process.env, ...env },
      detached: true,
    });
    supervisor.child.stdin?.on('error', () => {});
    supervisor.child.stdin?.end();
    const running = supervisor;
    forget = onInterrupt(() => running.child.kill('SIGTERM'));
    await supervisor.waitForLine(/Warden is ready/, READY_MS);
    const response = await postJson(`http://127.0.0.1:${port}/auth/login`, {
      username: BENCH_USER,
      password,
    });
    const token = (response.body as { token?: unknown } | null)?.token;
    if (response.status !== 200 || typeof token !== 'string') {
      throw new Error(`login answered ${response.status}`);
    }
    const processes = wardenProcesses(supervisor.pid ?? 0);
    if (processes.filter((p) => p.role === 'worker').length !== workers) {
      throw new Error(`found ${processes.length} processes under the supervisor, not ${workers} workers`);
    }
    return {
      protocol: 'sc',
      port,
      token,
      processes,
      // The workers are the supervisor's node:cluster children: no IPC reaches them from here.
      heap: async () => null,
      stop: cleanUp,
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

/**
 * Starts one stack fresh. `wardenEnv` is passed to Warden's stacks only (over the bench's
 * settings), so that configurations can be compared. With `cpuProfileDir`, every server process
 * of the stack writes a V8 CPU profile there when it exits (open them in Chrome's DevTools).
 *
 * @example
 *   const stack = await startStack('sc-pass', {});
 *   await stack.stop();
 */
export function startStack(
  id: StackId,
  wardenEnv: Readonly<Record<string, string>>,
  cpuProfileDir: string | null = null,
): Promise<RunningStack> {
  profileDir = cpuProfileDir;
  switch (id) {
    case 'ws':
      return single('ws', 'ws-server.ts');
    case 'sc':
      return single('sc', 'sc-server.ts', { SC_STACK: 'bare' });
    case 'sc-pass':
      return single('sc', 'sc-server.ts', { SC_STACK: 'passthrough' });
    case 'sc-scc':
      return sccStack();
    case 'sio':
      return single('sio', 'socketio-server.ts', { SIO_STACK: 'single' });
    case 'sio-cluster':
      return single('sio', 'socketio-server.ts', { SIO_STACK: 'cluster', SIO_WORKERS: '2' }, 'primary');
    case 'warden-solo':
      return wardenSolo(wardenEnv);
    case 'warden-scc':
      return wardenSolo(wardenEnv, true);
    case 'warden-1':
      return wardenStart(1, wardenEnv);
    case 'warden-2':
      return wardenStart(2, wardenEnv);
  }
}
