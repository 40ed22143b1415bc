import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import mysql, {
  type Pool,
  type PoolConnection,
  type ResultSetHeader,
  type RowDataPacket,
} from 'mysql2/promise';
import { WardenError } from '../errors/catalogue.ts';
import { mysqlAttemptCounter } from './attempt-counters.ts';
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
  NewClusterEvent,
  NewOneTimeSecret,
  NewRole,
  NewUser,
  OneTimePurpose,
  Redemption,
  RolePatch,
  Store,
  UserPatch,
} from './types.ts';

type Value = string | number | null;

/** Rows per multi-row INSERT of appendEvents. */
const APPEND_CHUNK = 500;

export interface MysqlStoreOptions {
  /** How long to wait for the TCP connection and the server's greeting. Default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /**
   * How long one call may take, waiting for a pooled connection included. Default 10 000 ms.
   * mysql2 sets no such bound by itself: on a server that accepted the connection and then
   * stopped answering (a stopped process, a network that drops packets) every call would hang.
   */
  readonly statementTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
const DEFAULT_STATEMENT_TIMEOUT_MS = 10_000;
/** Migrations may legitimately take long (DDL on a big table), so they get a wider bound. */
const MIGRATION_TIMEOUT_MS = 120_000;

/**
 * Exact username match. The column's utf8mb4_bin collation is PAD SPACE on MariaDB and MySQL, so
 * `username = ?` alone also matches "alice " and "alice  " to "alice" (a login under a padded
 * name would find alice, and get a fresh per-username rate limit). Binary strings do not pad; the
 * plain comparison stays first so the unique index is still used.
 */
const BY_USERNAME = 'username = ? AND CAST(username AS BINARY) = CAST(? AS BINARY)';
/** Exact role name match, for the same reason as BY_USERNAME. */
const BY_ROLE_NAME = 'name = ? AND CAST(name AS BINARY) = CAST(? AS BINARY)';

/**
 * Drops a connection that may be waiting for an answer that will never come. Not back into the
 * pool: every later command on it would queue behind. `destroy()` only half-closes the socket,
 * which a server that stopped answering never completes, so the socket is destroyed too.
 */
function discard(connection: PoolConnection): void {
  connection.destroy();
  (connection.connection as unknown as { stream?: Socket }).stream?.destroy();
}

function isDuplicate(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === 'ER_DUP_ENTRY';
}

/** Pool options from a mysql:// URL. */
function poolOptions(url: string, connectTimeout: number): mysql.PoolOptions {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database === '')
    throw new WardenError(
      'BadRequestError',
      'DATABASE_URL must name a database: mysql://user:pass@host:port/db',
    );
  return {
    host: parsed.hostname,
    port: parsed.port === '' ? 3306 : Number(parsed.port),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database,
    connectionLimit: 10,
    // Bounded: past 1000 waiting queries callers fail fast instead of piling up.
    queueLimit: 1000,
    multipleStatements: false,
    connectTimeout,
    enableKeepAlive: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    charset: 'utf8mb4',
  };
}

/**
 * The MySQL/MariaDB store (mysql2 pool): placeholders only, no multiple statements, a bounded
 * queue, a bounded time per call. Driver errors and timeouts become StoreUnavailableError (the
 * driver's error kept only as `cause`).
 *
 * @example
 *   const store = openMysqlStore('mysql://warden:secret@db:3306/warden');
 */
export function openMysqlStore(url: string, options: MysqlStoreOptions = {}): Store {
  const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const settings = poolOptions(url, options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  const database = settings.database as string;
  const pool: Pool = mysql.createPool(settings);
  let closing: Promise<void> | undefined;

  /** Runs `work` on one pooled connection, failing after `timeoutMs` (see MysqlStoreOptions). */
  const onConnection = <T>(
    work: (connection: PoolConnection) => Promise<T>,
    timeoutMs = statementTimeoutMs,
  ): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      let connection: PoolConnection | undefined;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        if (connection !== undefined) discard(connection);
        reject(new Error(`no answer from the database within ${timeoutMs} ms`));
      }, timeoutMs);
      pool.getConnection().then(
        (acquired) => {
          if (timedOut) return acquired.release();
          connection = acquired;
          const settle = () => {
            clearTimeout(timer);
            acquired.release();
          };
          work(acquired).then(
            (value) => (settle(), resolve(value)),
            (error: unknown) => (settle(), reject(error)),
          );
        },
        (error: unknown) => (clearTimeout(timer), reject(error)),
      );
    });
  const run = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw error instanceof WardenError ? error : storeUnavailable(error);
    }
  };
  const rows = <R>(sql: string, values: Value[] = []): Promise<R[]> =>
    onConnection(async (connection) => {
      const [result] = await connection.execute<RowDataPacket[]>(sql, values);
      return result as unknown as R[];
    });
  const exec = (sql: string, values: Value[] = []): Promise<ResultSetHeader> =>
    onConnection(async (connection) => (await connection.execute<ResultSetHeader>(sql, values))[0]);
  /** One DDL statement (not preparable), under the migration bound. */
  const ddl = (sql: string): Promise<void> =>
    onConnection(async (connection) => void (await connection.query(sql)), MIGRATION_TIMEOUT_MS);
  const findByName = async (username: string) =>
    (await rows<UserRow>(`SELECT * FROM users WHERE ${BY_USERNAME}`, [username, username]))[0];
  const findRole = async (name: string) =>
    (await rows<RoleRow>(`SELECT * FROM roles WHERE ${BY_ROLE_NAME}`, [name, name]))[0];

  return {
    kind: 'mysql',

    migrate: () =>
      run(async () => {
        await ddl(MIGRATIONS_TABLE.mysql);
        let applied = 0;
        for (const migration of MIGRATIONS) {
          if (
            (await rows('SELECT 1 FROM schema_migrations WHERE version = ?', [migration.version])).length > 0
          )
            continue;
          for (const sql of migration.mysql) await ddl(sql);
          const result = await exec(
            'INSERT IGNORE INTO schema_migrations (version, applied_at) VALUES (?, ?)',
            [migration.version, nowSeconds()],
          );
          if (result.affectedRows > 0) applied++;
        }
        return applied;
      }),

    createUser: (user: NewUser) =>
      run(async () => {
        const now = nowSeconds();
        const id = randomUUID();
        try {
          await exec(
            `INSERT INTO users (id, username, password_hash, tenant, roles, publish, subscribe, \`invoke\`, disabled, tokens_valid_from, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?)`,
            [
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
            ],
          );
        } catch (error) {
          if (isDuplicate(error)) throw userExists(user.username, error);
          throw error;
        }
        const [row] = await rows<UserRow>('SELECT * FROM users WHERE id = ?', [id]);
        return userFromRow(row as UserRow);
      }),

    findUserByUsername: (username: string) =>
      run(async () => {
        const row = await findByName(username);
        return row === undefined ? null : userFromRow(row);
      }),

    findUserById: (id: string) =>
      run(async () => {
        const [row] = await rows<UserRow>('SELECT * FROM users WHERE id = ?', [id]);
        return row === undefined ? null : userFromRow(row);
      }),

    listUsers: () =>
      run(async () => (await rows<UserRow>('SELECT * FROM users ORDER BY username')).map(userFromRow)),

    countUsers: () =>
      run(async () => Number((await rows<{ n: number }>('SELECT COUNT(*) AS n FROM users'))[0]?.n ?? 0)),

    updateUser: (username: string, patch: UserPatch) =>
      run(async () => {
        const columns = patchColumns(patch);
        if (columns.length > 0) {
          const assignments = columns.map(([column]) => `\`${column}\` = ?`).join(', ');
          const result = await exec(`UPDATE users SET ${assignments}, updated_at = ? WHERE ${BY_USERNAME}`, [
            ...columns.map(([, value]) => value),
            nowSeconds(),
            username,
            username,
          ]);
          if (result.affectedRows === 0) throw userNotFound(username);
        }
        const row = await findByName(username);
        if (row === undefined) throw userNotFound(username);
        return userFromRow(row);
      }),

    removeUser: (username: string) =>
      run(async () => {
        const row = await findByName(username);
        if (row === undefined) throw userNotFound(username);
        const result = await exec('DELETE FROM users WHERE id = ?', [row.id]);
        if (result.affectedRows === 0) throw userNotFound(username);
        return userFromRow(row);
      }),

    createRole: (role: NewRole) =>
      run(async () => {
        const now = nowSeconds();
        try {
          await exec(
            'INSERT INTO roles (name, publish, subscribe, `invoke`, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
            newRoleValues(role, now),
          );
        } catch (error) {
          if (isDuplicate(error)) throw roleExists(role.name, error);
          throw error;
        }
        const row = await findRole(role.name);
        if (row === undefined) throw roleNotFound(role.name);
        return roleFromRow(row);
      }),

    updateRole: (name: string, patch: RolePatch) =>
      run(async () => {
        const columns = rolePatchColumns(patch);
        if (columns.length > 0) {
          const assignments = columns.map(([column]) => `\`${column}\` = ?`).join(', ');
          const result = await exec(`UPDATE roles SET ${assignments}, updated_at = ? WHERE ${BY_ROLE_NAME}`, [
            ...columns.map(([, value]) => value),
            nowSeconds(),
            name,
            name,
          ]);
          if (result.affectedRows === 0) throw roleNotFound(name);
        }
        const row = await findRole(name);
        if (row === undefined) throw roleNotFound(name);
        return roleFromRow(row);
      }),

    removeRole: (name: string) =>
      run(async () => {
        const row = await findRole(name);
        if (row === undefined) throw roleNotFound(name);
        const result = await exec(`DELETE FROM roles WHERE ${BY_ROLE_NAME}`, [name, name]);
        if (result.affectedRows === 0) throw roleNotFound(name);
        return roleFromRow(row);
      }),

    listRoles: () =>
      run(async () => (await rows<RoleRow>('SELECT * FROM roles ORDER BY name')).map(roleFromRow)),

    findRoles: (names: readonly string[]) =>
      run(async () => {
        const wanted = [...new Set(names)];
        if (wanted.length === 0) return [];
        const found = await rows<RoleRow>(
          `SELECT * FROM roles WHERE name IN (${wanted.map(() => '?').join(', ')})`,
          wanted,
        );
        // inOrderOf matches exactly, dropping what PAD SPACE matched ("chat " for "chat").
        return inOrderOf(wanted, found.map(roleFromRow));
      }),

    appendEvent: (event: NewClusterEvent) =>
      run(async () => {
        const createdAt = nowSeconds();
        const result = await exec(
          'INSERT INTO cluster_events (kind, subject, value, expires_at, created_at) VALUES (?, ?, ?, ?, ?)',
          [event.kind, event.subject, event.value, event.expiresAt, createdAt],
        );
        return { ...event, id: Number(result.insertId), createdAt };
      }),

    appendEvents: (events: readonly NewClusterEvent[]) =>
      run(async () => {
        if (events.length === 0) return;
        const createdAt = nowSeconds();
        // One multi-row INSERT per chunk: atomic per statement; chunks keep the packet small.
        for (let from = 0; from < events.length; from += APPEND_CHUNK) {
          const chunk = events.slice(from, from + APPEND_CHUNK);
          await exec(
            `INSERT INTO cluster_events (kind, subject, value, expires_at, created_at) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?)').join(', ')}`,
            chunk.flatMap((event) => [event.kind, event.subject, event.value, event.expiresAt, createdAt]),
          );
        }
      }),

    eventsAfter: (afterId: number, limit: number) =>
      run(async () => {
        const count = Math.floor(limit);
        if (!(count >= 1)) return [];
        // LIMIT takes a literal here: mysql2's prepared LIMIT ? is rejected by some servers; it is a checked integer.
        return (
          await rows<EventRow>(`SELECT * FROM cluster_events WHERE id > ? ORDER BY id LIMIT ${count}`, [
            afterId,
          ])
        ).map(eventFromRow);
      }),

    activeRevocations: (now: number) =>
      run(async () =>
        (
          await rows<EventRow>(
            "SELECT * FROM cluster_events WHERE kind IN ('token', 'session', 'user') AND expires_at >= ? ORDER BY id",
            [now],
          )
        ).map(eventFromRow),
      ),

    purgeExpiredEvents: (now: number) =>
      run(async () => (await exec('DELETE FROM cluster_events WHERE expires_at < ?', [now])).affectedRows),

    claimMeta: (name: string, value: string) =>
      run(async () => {
        await exec('INSERT IGNORE INTO cluster_meta (name, value) VALUES (?, ?)', [name, value]);
        const [row] = await rows<{ value: string }>('SELECT value FROM cluster_meta WHERE name = ?', [name]);
        return (row as { value: string }).value;
      }),

    deleteMeta: (name: string) =>
      run(async () => (await exec('DELETE FROM cluster_meta WHERE name = ?', [name])).affectedRows > 0),

    createOneTimeSecret: (secret: NewOneTimeSecret) =>
      run(async () => {
        await exec(
          'INSERT INTO one_time_secrets (secret_hash, purpose, payload, expires_at, used_at, created_at) VALUES (?, ?, ?, ?, NULL, ?)',
          [secret.hash, secret.purpose, secret.payload, secret.expiresAt, Date.now()],
        );
      }),

    redeemOneTimeSecret: (hash: string, purpose: OneTimePurpose, now: number) =>
      run(async (): Promise<Redemption> => {
        // InnoDB locks the row for the UPDATE: of concurrent redeemers on any worker, one changes it.
        const result = await exec(
          'UPDATE one_time_secrets SET used_at = ? WHERE secret_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?',
          [now, hash, purpose, now],
        );
        const [row] = await rows<OneTimeRow>(
          'SELECT payload, expires_at, used_at FROM one_time_secrets WHERE secret_hash = ? AND purpose = ?',
          [hash, purpose],
        );
        if (result.affectedRows === 1 && row !== undefined)
          return { status: 'redeemed', payload: row.payload };
        return failedRedemption(row);
      }),

    peekOneTimeSecret: (hash: string, purpose: OneTimePurpose) =>
      run(async () => {
        const [row] = await rows<{ payload: string }>(
          'SELECT payload FROM one_time_secrets WHERE secret_hash = ? AND purpose = ?',
          [hash, purpose],
        );
        return row?.payload ?? null;
      }),

    releaseOneTimeSecret: (hash: string, purpose: OneTimePurpose) =>
      run(
        async () =>
          (
            await exec(
              'UPDATE one_time_secrets SET used_at = NULL WHERE secret_hash = ? AND purpose = ? AND used_at IS NOT NULL',
              [hash, purpose],
            )
          ).affectedRows > 0,
      ),

    purgeOneTimeSecrets: (before: number) =>
      run(
        async () => (await exec('DELETE FROM one_time_secrets WHERE expires_at < ?', [before])).affectedRows,
      ),

    attemptCounter: (options) => mysqlAttemptCounter(pool.pool, database, options),

    ping: () => run(() => onConnection(async (connection) => void (await connection.query('SELECT 1')))),

    // Idempotent. Bounded like a call: the pool's end waits for busy connections, and one busy on a
    // server that stopped answering is freed only when its own call times out and discards it.
    close: () =>
      (closing ??= run(async () => {
        let timer: NodeJS.Timeout | undefined;
        const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, statementTimeoutMs)));
        try {
          await Promise.race([pool.end(), bound]);
        } finally {
          clearTimeout(timer);
        }
      })),
  };
}
