import { freePort, runWarden, type RunningProcess } from '../../helpers/processes.ts';
import { testEnv, testSecrets } from '../../helpers/warden.ts';

/**
 * A cluster of separately started role processes (`warden state`, `warden broker`, `warden worker`,
 * as on Kubernetes), each on its own loopback port, so a test can kill, stop or restart one role
 * at a time. Every process logs at info level: tests wait on its lines.
 *
 * @example
 *   const cluster = await startRoles({ databaseUrl: db.url, brokers: 1 });
 *   const a = await cluster.startWorker();
 */
export interface RoleCluster {
  readonly state: RunningProcess;
  readonly statePort: number;
  readonly brokers: ReadonlyArray<{ readonly process: RunningProcess; readonly port: number }>;
  /** Starts one more broker (a scale-out) and resolves once the state server has announced it. */
  startBroker(): Promise<{ process: RunningProcess; port: number }>;
  /** Starts a worker and resolves once it is ready (it has the broker list). */
  startWorker(env?: Record<string, string>): Promise<{ process: RunningProcess; port: number }>;
  /** Stops every process that is still running (workers first). */
  stop(): Promise<void>;
}

export async function startRoles(options: {
  databaseUrl: string;
  brokers: number;
  env?: Record<string, string>;
}): Promise<RoleCluster> {
  const secrets = testSecrets();
  const statePort = await freePort();
  const common = {
    ...testEnv(options.databaseUrl, { HOST: '127.0.0.1', LOG_LEVEL: 'info' }),
    AUTH_KEY: secrets.authKey,
    SCC_AUTH_KEY: secrets.sccAuthKey,
    SCC_STATE_SERVER_HOST: '127.0.0.1',
    SCC_STATE_SERVER_PORT: String(statePort),
    SCC_INSTANCE_IP: '127.0.0.1',
    ...options.env,
  };
  const all: RunningProcess[] = [];
  const workers: RunningProcess[] = [];
  const state = runWarden(['state'], common);
  all.push(state);
  await state.waitFor(/state server listening/, 30_000);
  const brokers: { process: RunningProcess; port: number }[] = [];
  const launchBroker = async () => {
    const port = await freePort();
    const broker = runWarden(['broker'], { ...common, SCC_BROKER_SERVER_PORT: String(port) });
    all.push(broker);
    brokers.push({ process: broker, port });
    return { process: broker, port };
  };
  // The state server announces joined brokers after a short delay; a worker that joins first gets
  // an incomplete list (later corrected), so wait until each broker is in the list.
  const joined = async (broker: { process: RunningProcess; port: number }) => {
    await broker.process.waitFor(/broker listening/, 30_000);
    await state.waitFor(new RegExp(`broker joined uri=ws://127.0.0.1:${broker.port}`), 30_000);
    return broker;
  };
  const launched = [];
  for (let i = 0; i < options.brokers; i++) launched.push(await launchBroker());
  await Promise.all(launched.map(joined));
  return {
    state,
    statePort,
    brokers,
    startBroker: async () => joined(await launchBroker()),
    async startWorker(env = {}) {
      const port = await freePort();
      const worker = runWarden(['worker'], { ...common, PORT: String(port), ...env });
      all.push(worker);
      workers.push(worker);
      await worker.waitFor(/\bready\b/, 60_000);
      return { process: worker, port };
    },
    async stop() {
      for (const child of [...workers, ...all.filter((p) => !workers.includes(p)).reverse()]) {
        // A stopped (SIGSTOP) process would never see SIGTERM.
        if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGCONT');
        await child.stop('SIGTERM');
      }
    },
  };
}
