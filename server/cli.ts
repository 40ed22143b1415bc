import { ConfigError, loadConfig, type Config } from '../config/index.ts';
import { AUTH_KEY_FINGERPRINT } from '../auth/key-fingerprint.ts';
import { PasswordHasher } from '../auth/passwords.ts';
import { runUserCommand, USER_USAGE } from '../admin/user-commands.ts';
import { UsageError } from '../admin/validation.ts';
import { WardenError } from '../errors/catalogue.ts';
import { openStore } from '../store/index.ts';
import { endWithParent, reportCannotStart, type RoleName } from './process.ts';
import { cannotStartMessage, type ListenSetting } from './start-failure.ts';

const USAGE = `usage: warden <command>
  start                 every role on this host (what \`npm start\` runs)
  worker                one worker process (HTTP + WebSocket)
  state                 the cluster's state server
  broker                one SCC broker
  migrate               apply database migrations to DATABASE_URL
  auth-key reset        forget the cluster's AUTH_KEY fingerprint (after rotating the key)
  user ...              manage users (warden user --help)`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function withStore<T>(
  run: (ctx: { store: ReturnType<typeof openStore>; hasher: PasswordHasher; tokenTtl: number }) => Promise<T>,
  migrateFirst = true,
): Promise<T> {
  const config = loadConfig();
  const store = openStore(config.databaseUrl);
  try {
    if (migrateFirst) await store.migrate();
    return await run({
      store,
      hasher: new PasswordHasher({ cost: config.passwordHashCost }),
      tokenTtl: config.tokenTtl,
    });
  } finally {
    await store.close();
  }
}

/** An operator sees why (e.g. "connect ECONNREFUSED"), which a client-safe message leaves out. */
function withCause(error: Error): string {
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause === undefined || error.message.includes(cause) ? error.message : `${error.message}: ${cause}`;
}

/** Where each role listens, to name the variable in a bind error. */
function listenSettings(role: RoleName, config: Config): ListenSetting[] {
  if (role === 'worker')
    return [{ variable: 'PORT', port: config.port, hostVariable: 'HOST', host: config.host }];
  if (role === 'state')
    return [
      {
        variable: 'SCC_STATE_SERVER_PORT',
        port: config.sccStateServerPort,
        hostVariable: 'SCC_BIND_HOST',
        host: config.sccBindHost,
      },
    ];
  return [
    {
      variable: 'SCC_BROKER_SERVER_PORT',
      port: config.sccBrokerServerPort,
      hostVariable: 'SCC_BIND_HOST',
      host: config.sccBindHost,
      ...(config.brokers > 1
        ? { note: `(BROKERS=${config.brokers}: the brokers use consecutive ports from it)` }
        : {}),
    },
  ];
}

/**
 * Runs one role. A failure that a restart would only repeat (a port in use, a bad value) is one
 * line and EXIT_CANNOT_START under the supervisor, so that it stops instead of restarting.
 */
async function runRole(role: RoleName, run: () => Promise<void>): Promise<number> {
  endWithParent();
  try {
    await run();
    return 0;
  } catch (error) {
    let message: string | null;
    try {
      message = cannotStartMessage(error, listenSettings(role, loadConfig()));
    } catch (configError) {
      message = cannotStartMessage(configError, []);
    }
    if (message === null) throw error;
    return await reportCannotStart(role, message);
  }
}

/** Runs one `warden` command; returns the exit code (0 ok, 1 failure, 2 usage). */
export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const out = (line: string) => process.stdout.write(line + '\n');
  try {
    switch (command) {
      case 'start':
        await (await import('./supervisor.ts')).runSupervisor();
        return 0;
      case 'worker':
        return await runRole('worker', async () => (await import('../worker/main.ts')).runWorker());
      case 'state':
        return await runRole('state', async () => (await import('./state-main.ts')).runStateServer());
      case 'broker':
        return await runRole('broker', async () => (await import('./broker-main.ts')).runBroker());
      case 'migrate':
        return await withStore(async ({ store }) => {
          out(`applied ${await store.migrate()} migration(s)`);
          return 0;
        }, false);
      case 'auth-key':
        if (args[0] !== 'reset') {
          process.stderr.write('usage: warden auth-key reset\n');
          return 2;
        }
        return await withStore(async ({ store }) => {
          const had = await store.deleteMeta(AUTH_KEY_FINGERPRINT);
          out(
            had
              ? 'forgot the AUTH_KEY fingerprint; the next worker to start records its own'
              : 'no AUTH_KEY fingerprint was recorded',
          );
          return 0;
        });
      case 'user':
        if (args.length === 0 || args[0] === '--help') {
          out(USER_USAGE);
          return args.length === 0 ? 2 : 0;
        }
        await withStore((ctx) => runUserCommand({ ...ctx, out, readStdin }, args));
        return 0;
      case '--help':
      case 'help':
        out(USAGE);
        return 0;
      default:
        process.stderr.write(USAGE + '\n');
        return 2;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`warden: ${error.message}\n`);
      return 2;
    }
    if (error instanceof ConfigError || error instanceof WardenError) {
      process.stderr.write(`warden: ${withCause(error)}\n`);
      return 1;
    }
    process.stderr.write(`warden: ${error instanceof Error ? error.stack : String(error)}\n`);
    return 1;
  }
}
