import { randomBytes } from 'node:crypto';
import { parseConfig, type Config } from '../../config/index.ts';
import { PasswordHasher } from '../../auth/passwords.ts';
import { silentLogger } from '../../log/logger.ts';
import type { User } from '../../store/types.ts';
import { openStore } from '../../store/index.ts';
import { startWorker, type WardenWorker } from '../../worker/create-worker.ts';
import { createTestDatabase } from './mariadb.ts';

export const TEST_HASH_COST = 14;

export interface TestWarden {
  readonly worker: WardenWorker;
  readonly config: Config;
  readonly port: number;
  readonly url: string;
  readonly databaseUrl: string;
  /** Creates a user with a fresh random name unless `username` is given; returns its password. */
  createUser(spec?: Partial<Omit<User, 'id' | 'passwordHash'>>): Promise<{ user: User; password: string }>;
  close(): Promise<void>;
}

/** An environment for tests: random keys, port 0, cheap password hashing. */
export function testEnv(databaseUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: databaseUrl,
    PASSWORD_HASH_COST: String(TEST_HASH_COST),
    LOGIN_RATE_LIMIT: '1000',
    LOGIN_FAILURE_LIMIT: '1000',
    LOGIN_ACCOUNT_FAILURE_LIMIT: '1000',
    LOG_LEVEL: 'error',
    // Every role process would otherwise take 9464; a test that scrapes sets its own.
    METRICS_PORT: '0',
    ...overrides,
  };
}

export function testSecrets(): { authKey: string; sccAuthKey: string } {
  return { authKey: randomBytes(32).toString('hex'), sccAuthKey: randomBytes(32).toString('hex') };
}

const hasher = new PasswordHasher({ cost: TEST_HASH_COST });

/**
 * Starts a real worker on port 0 against a fresh MariaDB database (dropped on close).
 *
 * @example
 *   const warden = await startTestWarden({ TOKEN_TTL: '5', TOKEN_RENEW_INTERVAL: '2', TOKEN_REUSE_GRACE: '1' });
 */
export async function startTestWarden(
  overrides: Record<string, string> = {},
  options: {
    now?: () => number;
    secrets?: { authKey: string; sccAuthKey: string };
    databaseUrl?: string;
  } = {},
): Promise<TestWarden> {
  const db = options.databaseUrl === undefined ? await createTestDatabase() : null;
  const databaseUrl = options.databaseUrl ?? (db as { url: string }).url;
  const config = parseConfig(testEnv(databaseUrl, overrides), options.secrets ?? testSecrets());
  const worker = await startWorker({
    config,
    log: silentLogger,
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    worker,
    config,
    port: worker.port,
    url: worker.url,
    databaseUrl,
    async createUser(spec = {}) {
      const password = randomBytes(8).toString('hex');
      const user = await worker.store.createUser({
        username: spec.username ?? `u${randomBytes(5).toString('hex')}`,
        passwordHash: await hasher.hash(password),
        tenant: spec.tenant ?? null,
        roles: spec.roles ?? [],
        publish: spec.publish ?? [],
        subscribe: spec.subscribe ?? [],
        invoke: spec.invoke ?? [],
      });
      return { user, password };
    },
    async close() {
      await worker.close();
      await db?.drop();
    },
  };
}

/**
 * Creates a user directly in the store at `databaseUrl` (migrating it first), for tests whose
 * Warden runs in other processes.
 */
export async function createStoredUser(
  databaseUrl: string,
  spec: { username: string; password: string } & Partial<Pick<User, 'publish' | 'subscribe' | 'invoke'>>,
): Promise<void> {
  const store = openStore(databaseUrl);
  try {
    await store.migrate();
    await store.createUser({
      username: spec.username,
      passwordHash: await hasher.hash(spec.password),
      tenant: null,
      roles: [],
      publish: spec.publish ?? [],
      subscribe: spec.subscribe ?? [],
      invoke: spec.invoke ?? [],
    });
  } finally {
    await store.close();
  }
}
