import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  fchmodSync,
  openSync,
  readSync,
  statSync,
  type Stats,
} from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WardenError } from '../errors/catalogue.ts';
import { sqliteAttemptCounter } from './attempt-counters.ts';
import { makePrivateDir, octal, PRIVATE_FILE_MODE, sharedMode } from './file-modes.ts';
import { MIGRATIONS, MIGRATIONS_TABLE } from './migrations.ts';
import {
  eventFromRow,
  failedRedemption,
  inOrderOf,
  newRoleValues,
  nowSeconds,
  patchColumns,
  roleExists,
  roleFromRow,
  roleNotFound,
  rolePatchColumns,
  storeUnavailable,
  userExists,
  userFromRow,
  userNotFound,
  type EventRow,
  type OneTimeRow,
  type RoleRow,
  type UserRow,
} from './rows.ts';
import type {
  ClusterEvent,
  NewClusterEvent,
  NewOneTimeSecret,
  NewRole,
  OneTimePurpose,
  Redemption,
  NewUser,
  Role,
  RolePatch,
  Store,
  User,
  UserPatch,
} from './types.ts';

/** Runs a synchronous driver call; driver errors become StoreUnavailableError. */
function guard<T>(run: () => T): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (error) {
    return Promise.reject(error instanceof WardenError ? error : storeUnavailable(error));
  }
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

const BUSY_TIMEOUT_MS = 5000;

/**
 * Puts the file in WAL mode (a property of the file: the first process to open it does it).
 * Changing the journal mode needs an exclusive lock, and SQLite answers SQLITE_BUSY for it at
 * once instead of calling the busy handler, so workers opening a new file together failed to
 * start ("database is locked": measured 1-2 of 120 opens by 3 processes). Retry for as long as
 * the busy handler would wait.
 */
function enableWal(db: Database.Database): void {
  const deadline = performance.now() + BUSY_TIMEOUT_MS;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY' || performance.now() > deadline) throw error;
      Atomics.wait(pause, 0, 0, 5);
    }
  }
}

export interface SqliteStoreOptions {
  /**
   * Create the file (and its missing directories, mode 0700) when there is none: true for the
   * commands that set a store up (`migrate`, `start`, `user add`). Every other command fails on a
   * missing file instead, so a typo in DATABASE_URL or a run from another directory never looks
   * like an empty store. Default true.
   */
  readonly create?: boolean;
}

const SQLITE_HEADER = 'SQLite format 3\0';
const SIDECARS = ['-wal', '-shm'] as const;

function cannotOpen(path: string, reason: string, cause?: unknown): WardenError {
  return new WardenError(
    'StoreUnavailableError',
    `DATABASE_URL: cannot open the SQLite database at ${path}: ${reason}`,
    cause === undefined ? undefined : { cause },
  );
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

function startsWithSqliteHeader(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(SQLITE_HEADER.length);
    readSync(fd, header, 0, header.length, 0);
    return header.toString('latin1') === SQLITE_HEADER;
  } finally {
    closeSync(fd);
  }
}

/**
 * Makes sure a database file is there, mode 0600, before the driver opens it. SQLite creates a
 * new file with 0644 (less the umask) and gives the -wal and -shm files the main file's mode
 * (unixOpen's findCreateFileMode), so a main file created 0600 here keeps all three private.
 *
 * An existing database that others may read is refused rather than chmod-ed: its hashes may
 * already have been copied, which the operator has to know, and a group-readable file may be a
 * deliberate choice (a backup user) that Warden should not silently undo.
 */
function prepareFile(path: string, create: boolean): void {
  const stat = statOrNull(path);
  if (stat === null) {
    if (!create)
      throw cannotOpen(
        path,
        'there is no database file; run `warden migrate` to create one there, or set DATABASE_URL to the existing one',
      );
    makePrivateDir(dirname(path));
    try {
      // 'wx': when several processes (the workers of `warden start`) create it at once, one does.
      const fd = openSync(path, 'wx', PRIVATE_FILE_MODE);
      try {
        fchmodSync(fd, PRIVATE_FILE_MODE);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    return;
  }
  if (!stat.isFile() || !sharedMode(stat.mode)) return;
  // Empty: nothing was ever written to it (SQLite makes it a new database), so nothing leaked.
  if (stat.size === 0) return chmodSync(path, PRIVATE_FILE_MODE);
  // Not a database at all: the driver says so, which is the more useful message.
  if (!startsWithSqliteHeader(path)) return;
  const files = [path, ...SIDECARS.map((suffix) => path + suffix).filter((file) => existsSync(file))];
  throw cannotOpen(
    path,
    `the file holds password hashes but its mode is ${octal(stat.mode)} (other users can access it); run \`chmod 600 ${files.join(' ')}\` and start again`,
  );
}

/** A -wal or -shm left by an older version or another tool keeps its mode: make it 0600 too. */
function restrictSidecars(path: string): void {
  for (const suffix of SIDECARS) {
    const stat = statOrNull(path + suffix);
    if (stat !== null && stat.isFile() && sharedMode(stat.mode)) chmodSync(path + suffix, PRIVATE_FILE_MODE);
  }
}

/**
 * Opens and configures the file. A path that cannot hold a database (a directory, a file that is
 * not SQLite, no permission, no file where one must exist) fails here with a message naming the
 * path and DATABASE_URL, not a driver stack trace.
 */
function openDatabase(path: string, create: boolean): Database.Database {
  const memory = path === ':memory:';
  let db: Database.Database | undefined;
  try {
    if (!memory) prepareFile(path, create);
    // fileMustExist: prepareFile made it, so a file deleted since is an error, not a new store.
    db = new Database(path, { fileMustExist: !memory });
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    if (!memory) enableWal(db);
    db.pragma('foreign_keys = ON');
    if (!memory) restrictSidecars(path);
    return db;
  } catch (error) {
    db?.close();
    if (error instanceof WardenError) throw error;
    throw cannotOpen(path, error instanceof Error ? error.message : String(error), error);
  }
}

/**
 * The embedded SQLite store (better-sqlite3): the zero-set-up default on one host. WAL mode lets
 * the workers of `warden start` read while one writes; `busy_timeout` makes a writer wait for
 * another process's write instead of failing at once. The file and its -wal and -shm are mode
 * 0600 and directories it creates 0700: the file holds password hashes.
 *
 * @example
 *   const store = openSqliteStore('/srv/warden/data/warden.db', { create: false });
 */
export function openSqliteStore(path: string, options: SqliteStoreOptions = {}): Store {
  const db = openDatabase(path, options.create ?? true);
  let counters: Database.Database | null = null;
  /**
   * Login counters get a connection of their own without fsync (`synchronous = OFF`; WAL keeps the
   * file consistent): a login flood writes several counter rows per attempt, each a transaction on
   * the event loop, and losing a few counts to a power cut is harmless. Users and revocations keep
   * the default, durable connection.
   */
  const counterDb = () => {
    if (counters === null) {
      counters = path === ':memory:' ? db : new Database(path, { fileMustExist: true });
      if (counters !== db) {
        counters.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
        counters.pragma('synchronous = OFF');
      }
    }
    return counters;
  };
  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string) => {
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };
  const findByName = (username: string) =>
    prepare('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
  const findRole = (name: string) =>
    prepare('SELECT * FROM roles WHERE name = ?').get(name) as RoleRow | undefined;

  return {
    kind: 'sqlite',

    migrate: () =>
      guard(() => {
        db.exec(MIGRATIONS_TABLE.sqlite);
        let applied = 0;
        for (const migration of MIGRATIONS) {
          const done = db
            .transaction(() => {
              if (prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(migration.version))
                return false;
              for (const sql of migration.sqlite) db.exec(sql);
              prepare('INSERT OR IGNORE INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(
                migration.version,
                nowSeconds(),
              );
              return true;
            })
            .immediate();
          if (done) applied++;
        }
        return applied;
      }),

    createUser: (user: NewUser) =>
      guard(() => {
        const now = nowSeconds();
        const id = randomUUID();
        try {
          prepare(
            `INSERT INTO users (id, username, password_hash, tenant, roles, publish, subscribe, "invoke", disabled, tokens_valid_from, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)`,
          ).run(
            id,
            user.username,
            user.passwordHash,
            user.tenant,
            JSON.stringify(user.roles),
            JSON.stringify(user.publish),
            JSON.stringify(user.subscribe),
            JSON.stringify(user.invoke),
            now,
            now,
          );
        } catch (error) {
          if (isUniqueViolation(error)) throw userExists(user.username, error);
          throw error;
        }
        return userFromRow(prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow);
      }),

    findUserByUsername: (username: string) =>
      guard(() => {
        const row = findByName(username);
        return row === undefined ? null : userFromRow(row);
      }),

    findUserById: (id: string) =>
      guard(() => {
        const row = prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
        return row === undefined ? null : userFromRow(row);
      }),

    listUsers: () =>
      guard(() => (prepare('SELECT * FROM users ORDER BY username').all() as UserRow[]).map(userFromRow)),

    countUsers: () => guard(() => (prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n),

    updateUser: (username: string, patch: UserPatch) =>
      guard((): User => {
        const columns = patchColumns(patch);
        if (columns.length > 0) {
          const assignments = columns.map(([column]) => `"${column}" = ?`).join(', ');
          const result = prepare(`UPDATE users SET ${assignments}, updated_at = ? WHERE username = ?`).run(
            ...columns.map(([, value]) => value),
            nowSeconds(),
            username,
          );
          if (result.changes === 0) throw userNotFound(username);
        }
        const row = findByName(username);
        if (row === undefined) throw userNotFound(username);
        return userFromRow(row);
      }),

    removeUser: (username: string) =>
      guard(() =>
        db.transaction(() => {
          const row = findByName(username);
          if (row === undefined) throw userNotFound(username);
          prepare('DELETE FROM users WHERE id = ?').run(row.id);
          return userFromRow(row);
        })(),
      ),

    createRole: (role: NewRole) =>
      guard((): Role => {
        const now = nowSeconds();
        try {
          prepare(
            'INSERT INTO roles (name, publish, subscribe, "invoke", created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
          ).run(...newRoleValues(role, now));
        } catch (error) {
          if (isUniqueViolation(error)) throw roleExists(role.name, error);
          throw error;
        }
        return roleFromRow(findRole(role.name) as RoleRow);
      }),

    updateRole: (name: string, patch: RolePatch) =>
      guard((): Role => {
        const columns = rolePatchColumns(patch);
        if (columns.length > 0) {
          const assignments = columns.map(([column]) => `"${column}" = ?`).join(', ');
          const result = prepare(`UPDATE roles SET ${assignments}, updated_at = ? WHERE name = ?`).run(
            ...columns.map(([, value]) => value),
            nowSeconds(),
            name,
          );
          if (result.changes === 0) throw roleNotFound(name);
        }
        const row = findRole(name);
        if (row === undefined) throw roleNotFound(name);
        return roleFromRow(row);
      }),

    removeRole: (name: string) =>
      guard(() =>
        db.transaction(() => {
          const row = findRole(name);
          if (row === undefined) throw roleNotFound(name);
          prepare('DELETE FROM roles WHERE name = ?').run(name);
          return roleFromRow(row);
        })(),
      ),

    listRoles: () =>
      guard(() => (prepare('SELECT * FROM roles ORDER BY name').all() as RoleRow[]).map(roleFromRow)),

    findRoles: (names: readonly string[]) =>
      guard(() => {
        const wanted = [...new Set(names)];
        if (wanted.length === 0) return [];
        // One statement for any number of names (a list of placeholders would be one per length).
        const rows = prepare('SELECT * FROM roles WHERE name IN (SELECT value FROM json_each(?))').all(
          JSON.stringify(wanted),
        ) as RoleRow[];
        return inOrderOf(wanted, rows.map(roleFromRow));
      }),

    appendEvent: (event: NewClusterEvent) =>
      guard((): ClusterEvent => {
        const createdAt = nowSeconds();
        const result = prepare(
          'INSERT INTO cluster_events (kind, subject, value, expires_at, created_at) VALUES (?, ?, ?, ?, ?)',
        ).run(event.kind, event.subject, event.value, event.expiresAt, createdAt);
        return { ...event, id: Number(result.lastInsertRowid), createdAt };
      }),

    appendEvents: (events: readonly NewClusterEvent[]) =>
      guard(() => {
        const createdAt = nowSeconds();
        const insert = prepare(
          'INSERT INTO cluster_events (kind, subject, value, expires_at, created_at) VALUES (?, ?, ?, ?, ?)',
        );
        db.transaction(() => {
          for (const event of events)
            insert.run(event.kind, event.subject, event.value, event.expiresAt, createdAt);
        })();
      }),

    eventsAfter: (afterId: number, limit: number) =>
      guard(() => {
        // SQLite reads a negative LIMIT as "no limit".
        const count = Math.floor(limit);
        if (!(count >= 1)) return [];
        return (
          prepare('SELECT * FROM cluster_events WHERE id > ? ORDER BY id LIMIT ?').all(
            afterId,
            count,
          ) as EventRow[]
        ).map(eventFromRow);
      }),

    activeRevocations: (now: number) =>
      guard(() =>
        (
          prepare(
            "SELECT * FROM cluster_events WHERE kind IN ('token', 'session', 'user') AND expires_at >= ? ORDER BY id",
          ).all(now) as EventRow[]
        ).map(eventFromRow),
      ),

    purgeExpiredEvents: (now: number) =>
      guard(() => prepare('DELETE FROM cluster_events WHERE expires_at < ?').run(now).changes),

    claimMeta: (name: string, value: string) =>
      guard(() => {
        prepare('INSERT OR IGNORE INTO cluster_meta (name, value) VALUES (?, ?)').run(name, value);
        return (prepare('SELECT value FROM cluster_meta WHERE name = ?').get(name) as { value: string })
          .value;
      }),

    deleteMeta: (name: string) =>
      guard(() => prepare('DELETE FROM cluster_meta WHERE name = ?').run(name).changes > 0),

    createOneTimeSecret: (secret: NewOneTimeSecret) =>
      guard(() => {
        prepare(
          'INSERT INTO one_time_secrets (secret_hash, purpose, payload, expires_at, used_at, created_at) VALUES (?, ?, ?, ?, NULL, ?)',
        ).run(secret.hash, secret.purpose, secret.payload, secret.expiresAt, Date.now());
      }),

    redeemOneTimeSecret: (hash: string, purpose: OneTimePurpose, now: number) =>
      guard((): Redemption => {
        // One UPDATE decides: SQLite serialises writers across the processes sharing the file.
        const row = prepare(
          'UPDATE one_time_secrets SET used_at = ? WHERE secret_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ? RETURNING payload',
        ).get(now, hash, purpose, now) as { payload: string } | undefined;
        if (row !== undefined) return { status: 'redeemed', payload: row.payload };
        return failedRedemption(
          prepare(
            'SELECT payload, expires_at, used_at FROM one_time_secrets WHERE secret_hash = ? AND purpose = ?',
          ).get(hash, purpose) as OneTimeRow | undefined,
        );
      }),

    peekOneTimeSecret: (hash: string, purpose: OneTimePurpose) =>
      guard(() => {
        const row = prepare('SELECT payload FROM one_time_secrets WHERE secret_hash = ? AND purpose = ?').get(
          hash,
          purpose,
        ) as { payload: string } | undefined;
        return row?.payload ?? null;
      }),

    releaseOneTimeSecret: (hash: string, purpose: OneTimePurpose) =>
      guard(
        () =>
          prepare(
            'UPDATE one_time_secrets SET used_at = NULL WHERE secret_hash = ? AND purpose = ? AND used_at IS NOT NULL',
          ).run(hash, purpose).changes > 0,
      ),

    purgeOneTimeSecrets: (before: number) =>
      guard(() => prepare('DELETE FROM one_time_secrets WHERE expires_at < ?').run(before).changes),

    attemptCounter: (options) => sqliteAttemptCounter(counterDb(), options),

    ping: () => guard(() => void prepare('SELECT 1').get()),

    close: () =>
      guard(() => {
        if (counters !== null && counters !== db) counters.close();
        db.close();
      }),
  };
}
