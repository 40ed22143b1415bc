import { resolve } from 'node:path';
import { openMysqlStore } from './mysql.ts';
import { openSqliteStore } from './sqlite.ts';
import type { Store } from './types.ts';

export type * from './types.ts';

/**
 * Opens the store that DATABASE_URL names: `sqlite:PATH` (relative to the working directory, or
 * `sqlite::memory:`) or `mysql://user:pass@host:port/db`.
 */
export function openStore(databaseUrl: string): Store {
  if (databaseUrl.startsWith('sqlite:')) {
    const path = databaseUrl.slice('sqlite:'.length);
    return openSqliteStore(path === ':memory:' ? path : resolve(path));
  }
  if (databaseUrl.startsWith('mysql://')) return openMysqlStore(databaseUrl);
  throw new Error(`unsupported DATABASE_URL scheme: ${databaseUrl.split(':')[0]}`);
}
