import { ConfigError, loadConfig } from '../config/index.ts';
import { AUTH_KEY_FINGERPRINT } from '../auth/key-fingerprint.ts';
import { PasswordHasher } from '../auth/passwords.ts';
import { runUserCommand, USER_USAGE } from '../admin/user-commands.ts';
import { UsageError } from '../admin/validation.ts';
import { WardenError } from '../errors/catalogue.ts';
import { openStore } from '../store/index.ts';

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
        await (await import('../worker/main.ts')).runWorker();
        return 0;
      case 'state':
        await (await import('./state-main.ts')).runStateServer();
        return 0;
      case 'broker':
        await (await import('./broker-main.ts')).runBroker();
        return 0;
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
