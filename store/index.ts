import { resolve } from 'node:path';
import { openMysqlStore } from './mysql.ts';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite.ts';
import type { Store } from './types.ts';

export type * from './types.ts';

export type StoreOptions = SqliteStoreOptions;

/**
 * Opens the store that DATABASE_URL names: `sqlite:PATH` (relative to the working directory, or
 * `sqlite::memory:`) or `mysql://user:pass@host:port/db`. `{ create: false }` refuses a SQLite
 * path with no database yet (a MySQL database is never created by Warden).
 *
 * @example
 *   const store = openStore(config.databaseUrl, { create: false });
 */
export function openStore(databaseUrl: string, options: StoreOptions = {}): Store {
  if (databaseUrl.startsWith('sqlite:')) {
    const path = databaseUrl.slice('sqlite:'.length);
    return openSqliteStore(path === ':memory:' ? path : resolve(path), options);
  }
  if (databaseUrl.startsWith('mysql://')) return openMysqlStore(databaseUrl);
  throw new Error(`unsupported DATABASE_URL scheme: ${databaseUrl.split(':')[0]}`);
}
