import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig, type Config } from '../config/index.ts';
import { packagePath } from '../config/paths.ts';
import { AUTH_KEY_FINGERPRINT } from '../auth/key-fingerprint.ts';
import { PasswordHasher } from '../auth/passwords.ts';
import { parseCommandArgs, parseUserCommand, USER_USAGE } from '../admin/user-commands.ts';
import { parseRoleCommand, ROLE_USAGE } from '../admin/role-commands.ts';
import { INVITE_USAGE, parseInviteCommand } from '../admin/invite-commands.ts';
import { UsageError } from '../admin/validation.ts';
import { WardenError } from '../errors/catalogue.ts';
import { setAuditLogger } from '../log/audit.ts';
import { childLogger, createLogger } from '../log/logger.ts';
import { openStore, type Store } from '../store/index.ts';
import { endWithParent, reportCannotStart, type RoleName } from './process.ts';
import { cannotStartMessage, type ListenSetting } from './start-failure.ts';

/** What `warden --help` prints: every top-level command (docs/cli.md documents each; test/unit/docs checks). */
export const USAGE = `usage: warden <command>
  start                 every role on this host (what \`npm start\` runs)
  worker                one worker process (HTTP + WebSocket)
  state                 the cluster's state server
  broker                one SCC broker
  migrate               apply database migrations to DATABASE_URL (creates a new SQLite file)
  auth-key reset        forget the cluster's AUTH_KEY fingerprint (after rotating the key)
  user ...              manage users (warden user --help)
  role ...              manage roles and their patterns (warden role --help)
  invite create         print a one-time registration invite (warden invite --help)
  --version             print Warden's version
exit status: 0 success, 1 failure, 2 usage error`;

function version(): string {
  const pkg = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

interface StoreContext {
  readonly config: Config;
  readonly store: Store;
}

/**
 * Runs `run` on the store DATABASE_URL names. Only commands that set a store up may create a
 * SQLite file that is not there (`create`); the others fail naming DATABASE_URL and the path.
 */
async function withStore<T>(
  options: { readonly create: boolean; readonly migrate: boolean; readonly config?: Config },
  run: (ctx: StoreContext) => Promise<T>,
): Promise<T> {
  const config = options.config ?? loadConfig();
  const store = openStore(config.databaseUrl, { create: options.create });
  try {
    if (options.migrate) await store.migrate();
    return await run({ config, store });
  } finally {
    await store.close();
  }
}

/** Refuses every argument of a command that takes none. */
function noArguments(command: string, args: string[]): void {
  const { positionals } = parseCommandArgs(command, args, {});
  if (positionals.length > 0)
    throw new UsageError(`warden ${command} takes no arguments (got "${positionals[0]}")`);
}

/**
 * An operator sees why the store is unavailable (e.g. "connect ECONNREFUSED"), which the
 * client-safe message leaves out. Other errors' causes are driver details (the SQL of a
 * constraint): their message says it all.
 */
function withCause(error: Error): string {
  if (error.name !== 'StoreUnavailableError') return error.message;
  const cause = error.cause instanceof Error ? error.cause.message : undefined;
  return cause === undefined || error.message.includes(cause) ? error.message : `${error.message}: ${cause}`;
}

/** Where each role listens, to name the variable in a bind error. */
function listenSettings(role: RoleName, config: Config): ListenSetting[] {
  const metrics: ListenSetting[] =
    config.metricsPort === null
      ? []
      : [{ variable: 'METRICS_PORT', port: config.metricsPort, hostVariable: 'HOST', host: config.host }];
  return [...roleListenSettings(role, config), ...metrics];
}

function roleListenSettings(role: RoleName, config: Config): ListenSetting[] {
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

/**
 * The admin commands' audit lines (revocations, permission changes, by `cli`) go to stderr:
 * stdout is the command's own output, which scripts read.
 */
function auditToStderr(config: Config): void {
  const write = (line: string) => void process.stderr.write(`${line}\n`);
  const log = createLogger({ role: 'cli', level: 'info', format: config.logFormat, write });
  setAuditLogger(childLogger(log, { module: 'audit' }));
}

const HELP = new Set(['--help', '-h', 'help']);

/** Runs one `warden` command; returns the exit code (0 ok, 1 failure, 2 usage). */
export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const out = (line: string) => process.stdout.write(line + '\n');
  const warn = (line: string) => process.stderr.write(`warden: ${line}\n`);
  try {
    const ownHelp = command === 'user' || command === 'role' || command === 'invite';
    if (command !== undefined && !ownHelp && args.length === 1 && HELP.has(args[0] ?? '')) {
      out(USAGE);
      return 0;
    }
    switch (command) {
      case 'start':
        noArguments(command, args);
        await (await import('./supervisor.ts')).runSupervisor();
        return 0;
      case 'worker':
        noArguments(command, args);
        return await runRole('worker', async () => (await import('../worker/main.ts')).runWorker());
      case 'state':
        noArguments(command, args);
        return await runRole('state', async () => (await import('./state-main.ts')).runStateServer());
      case 'broker':
        noArguments(command, args);
        return await runRole('broker', async () => (await import('./broker-main.ts')).runBroker());
      case 'migrate':
        noArguments(command, args);
        return await withStore({ create: true, migrate: false }, async ({ store }) => {
          out(`applied ${await store.migrate()} migration(s)`);
          return 0;
        });
      case 'auth-key':
        if (args[0] !== 'reset') throw new UsageError('usage: warden auth-key reset');
        noArguments('auth-key reset', args.slice(1));
        return await withStore({ create: false, migrate: true }, async ({ store }) => {
          const had = await store.deleteMeta(AUTH_KEY_FINGERPRINT);
          out(
            had
              ? 'forgot the AUTH_KEY fingerprint; the next worker to start records its own'
              : 'no AUTH_KEY fingerprint was recorded',
          );
          return 0;
        });
      case 'user': {
        if (args.includes('--help') || args.includes('-h') || args[0] === 'help') {
          out(USER_USAGE);
          return 0;
        }
        const config = loadConfig();
        auditToStderr(config);
        const user = await parseUserCommand(args, { passwordMinLength: config.passwordMinLength, readStdin });
        await withStore({ create: user.createsStore, migrate: true, config }, ({ store }) =>
          user.run({
            store,
            hasher: new PasswordHasher({ cost: config.passwordHashCost }),
            tokenTtl: config.tokenTtl,
            out,
            warn,
          }),
        );
        return 0;
      }
      case 'role': {
        if (args.includes('--help') || args.includes('-h') || args[0] === 'help') {
          out(ROLE_USAGE);
          return 0;
        }
        const role = parseRoleCommand(args);
        auditToStderr(loadConfig());
        await withStore({ create: role.createsStore, migrate: true }, ({ store }) =>
          role.run({ store, out, warn }),
        );
        return 0;
      }
      case 'invite': {
        if (args.includes('--help') || args.includes('-h') || args[0] === 'help' || args.length === 0) {
          out(INVITE_USAGE);
          return args.length === 0 ? 2 : 0;
        }
        const invite = parseInviteCommand(args);
        await withStore({ create: invite.createsStore, migrate: true }, ({ store }) =>
          invite.run({ store, out, warn }),
        );
        return 0;
      }
      case '--version':
      case '-v':
      case 'version':
        noArguments(command, args);
        out(version());
        return 0;
      case '--help':
      case '-h':
      case 'help':
        out(USAGE);
        return 0;
      case undefined:
        throw new UsageError(USAGE);
      default:
        throw new UsageError(`unknown command "${command}"\n${USAGE}`);
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
