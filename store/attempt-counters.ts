import type Database from 'better-sqlite3';
import type { Pool as CallbackPool } from 'mysql2';
import {
  RateLimiterMySQL,
  RateLimiterRes,
  RateLimiterSQLite,
  type RateLimiterStoreAbstract,
} from 'rate-limiter-flexible';
import { storeUnavailable } from './rows.ts';
import type { AttemptCounter, AttemptCounterOptions, AttemptCount } from './types.ts';

/** The one table every counter shares (created by migration 3); rows are keyed `name:key`. */
export const ATTEMPTS_TABLE = 'login_attempts';

/**
 * How long a counter call may take. rate-limiter-flexible sets no bound of its own, and a login
 * must not hang on a database that stopped answering.
 */
const CALL_TIMEOUT_MS = 5000;

function withDeadline<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer from the database within ${CALL_TIMEOUT_MS} ms`)),
      CALL_TIMEOUT_MS,
    );
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

function countOf(result: RateLimiterRes, limit: number): AttemptCount {
  return {
    count: result.consumedPoints,
    over: result.consumedPoints > limit,
    retryAfterMs: Math.max(0, result.msBeforeNext),
  };
}

/**
 * Wraps a rate-limiter-flexible store limiter as Warden's AttemptCounter: its refusals (which it
 * signals by rejecting with a RateLimiterRes) become a plain `over` flag, and its driver errors
 * StoreUnavailableError, so the callers see only the catalogue.
 */
function wrap(limiter: RateLimiterStoreAbstract, limit: number): AttemptCounter {
  const call = async (work: () => Promise<RateLimiterRes | null>): Promise<RateLimiterRes | null> => {
    try {
      return await withDeadline(work());
    } catch (error) {
      if (error instanceof RateLimiterRes) return error;
      throw storeUnavailable(error);
    }
  };
  return {
    limit,
    async hit(key) {
      return countOf((await call(() => limiter.consume(key, 1))) as RateLimiterRes, limit);
    },
    async peek(key) {
      const result = await call(() => limiter.get(key));
      return result === null ? null : countOf(result, limit);
    },
    async undo(key) {
      await call(() => limiter.reward(key, 1));
    },
    async mark(key, seconds) {
      await call(() => limiter.set(key, 1, seconds));
    },
  };
}

/** A counter in the SQLite file every worker of this host shares. */
export function sqliteAttemptCounter(db: Database.Database, options: AttemptCounterOptions): AttemptCounter {
  const limiter = new RateLimiterSQLite({
    storeClient: db,
    storeType: 'better-sqlite3',
    tableName: ATTEMPTS_TABLE,
    tableCreated: true,
    keyPrefix: options.name,
    // consume() counts past the limit instead of refusing: Warden decides what "over" means.
    points: Number.MAX_SAFE_INTEGER,
    duration: options.windowSeconds,
  });
  return wrap(limiter, options.limit);
}

/** A counter in the MySQL/MariaDB database every worker of the cluster shares. */
export function mysqlAttemptCounter(
  pool: CallbackPool,
  database: string,
  options: AttemptCounterOptions,
): AttemptCounter {
  const limiter = new RateLimiterMySQL({
    storeClient: pool,
    storeType: 'pool',
    dbName: database,
    tableName: ATTEMPTS_TABLE,
    tableCreated: true,
    keyPrefix: options.name,
    points: Number.MAX_SAFE_INTEGER,
    duration: options.windowSeconds,
  });
  return wrap(limiter, options.limit);
}
