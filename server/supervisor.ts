import cluster from 'node:cluster';
import { fork } from 'node:child_process';
import { loadConfig, type Config } from '../config/index.ts';
import { packagePath } from '../config/paths.ts';
import { assertSharedAuthKey } from '../auth/key-fingerprint.ts';
import { TokenService } from '../auth/tokens.ts';
import { PasswordHasher } from '../auth/passwords.ts';
import { seedDemoUsers } from '../admin/demo-users.ts';
import type { Logger } from '../log/logger.ts';
import { openStore } from '../store/index.ts';
import { SUPERVISED_ENV } from './process.ts';
import { RoleProcess, type RoleSpawner } from './role-process.ts';
import { cannotStartMessage } from './start-failure.ts';
import { startTelemetry, type RoleTelemetry } from './telemetry.ts';

const WARDEN_BIN = packagePath('bin', 'warden.js');

/**
 * `warden start` (what `npm start` runs): the whole cluster on this host, the topology of
 * `kubernetes/` as processes. One state server, BROKERS scc-broker processes on consecutive ports
 * from SCC_BROKER_SERVER_PORT, and WORKERS workers sharing PORT.
 *
 * Workers share PORT through node:cluster: Node 20 has no SO_REUSEPORT option (`reusePort`
 * arrived in 22.12/23.1), and node:cluster's round-robin hand-off spreads connections evenly
 * where the kernel's SO_REUSEPORT hashing can pile them onto one worker.
 */
export async function runSupervisor(): Promise<void> {
  const config = loadConfig();
  const demo = await prepareStore(config);
  // GET /metrics here sums every worker's metrics (the workers answer over node:cluster's IPC).
  const telemetry = await startTelemetry('supervisor', config).catch((error: unknown) => {
    const setting = {
      variable: 'METRICS_PORT',
      port: config.metricsPort ?? 0,
      hostVariable: 'HOST',
      host: config.host,
    };
    const message = cannotStartMessage(error, [setting]);
    if (message === null) throw error;
    // Nothing is started yet: one line, as for the other ports, and no restart.
    process.stderr.write(`warden: ${message}\n`);
    process.exit(1);
  });
  const { log } = telemetry;

  const roles: RoleProcess[] = [];
  const workers: RoleProcess[] = [];
  const stop = stopper(log, roles, workers, telemetry);
  // A role that cannot start (a port in use) would fail the same way on every restart: say why
  // once and stop, rather than restart it forever.
  const options = {
    onCannotStart: (message: string) =>
      stop('cannot start', 1, () => process.stderr.write(`warden: ${message}\n`)),
  };
  const stateEnv = { SCC_STATE_SERVER_PORT: String(config.sccStateServerPort) };
  const state = new RoleProcess('state', spawnChild(['state'], stateEnv), log, options);
  roles.push(state);
  state.start();
  process.once('SIGTERM', () => stop('SIGTERM', 0));
  process.once('SIGINT', () => stop('SIGINT', 0));
  await state.ready;
  const brokers: RoleProcess[] = [];
  for (let i = 0; i < config.brokers; i++) {
    const broker = new RoleProcess(
      'broker',
      spawnChild(['broker'], { SCC_BROKER_SERVER_PORT: String(config.sccBrokerServerPort + i) }),
      log,
      options,
    );
    roles.push(broker);
    brokers.push(broker);
    broker.start();
  }
  cluster.setupPrimary({ exec: WARDEN_BIN, args: ['worker'], silent: false });
  for (let i = 0; i < config.workers; i++) {
    const worker = new RoleProcess('worker', spawnClusterWorker(), log, options);
    workers.push(worker);
    roles.push(worker);
    worker.start();
  }
  // The banner waits for the brokers too: one that cannot bind its port stops the start.
  await Promise.all([...brokers, ...workers].map((role) => role.ready));
  printBanner(config, demo);
}

async function prepareStore(config: Config): Promise<Array<{ username: string; password: string }>> {
  const store = openStore(config.databaseUrl);
  try {
    await store.migrate();
    // Fail fast here rather than in a restart loop of workers.
    await assertSharedAuthKey(store, new TokenService({ key: config.authKey, ttl: config.tokenTtl }).key);
    return config.production
      ? []
      : await seedDemoUsers(store, new PasswordHasher({ cost: config.passwordHashCost }));
  } finally {
    await store.close();
  }
}

function spawnChild(args: string[], env: Record<string, string>): RoleSpawner {
  return () =>
    fork(WARDEN_BIN, args, {
      env: { ...process.env, ...env, [SUPERVISED_ENV]: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
}

function spawnClusterWorker(): RoleSpawner {
  return () => cluster.fork({ [SUPERVISED_ENV]: '1' }).process;
}

function printBanner(config: Config, demo: Array<{ username: string; password: string }>): void {
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const lines = [
    ``,
    `Warden is ready: http://${host}:${config.port}/`,
    `  ${config.workers} worker(s), ${config.brokers} broker(s), state server on :${config.sccStateServerPort}`,
  ];
  if (demo.length > 0) {
    lines.push('  Demo users (passwords shown once; log in on the page above or with POST /auth/login):');
    for (const { username, password } of demo) lines.push(`    ${username.padEnd(6)} ${password}`);
  }
  process.stdout.write(lines.join('\n') + '\n\n');
}

/**
 * Stops every role once (later calls are ignored) and exits with `code`: workers first (they
 * drain their sockets), then brokers, then the state server.
 */
function stopper(
  log: Logger,
  roles: RoleProcess[],
  workers: RoleProcess[],
  telemetry: RoleTelemetry,
): (reason: string, code: number, first?: () => void) => void {
  let stopping = false;
  return (reason, code, first) => {
    if (stopping) return;
    stopping = true;
    first?.();
    log.info('stopping every role', { signal: reason });
    void (async () => {
      await Promise.all(workers.map((worker) => worker.stop()));
      const others = roles.filter((role) => !workers.includes(role)).reverse();
      for (const role of others) await role.stop();
      await telemetry.close();
      process.exit(code);
    })();
  };
}
