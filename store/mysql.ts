import { randomUUID } from 'node:crypto';
import mysql, { type Pool, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import { WardenError } from '../errors/catalogue.ts';
import { MIGRATIONS, MIGRATIONS_TABLE } from './migrations.ts';
import {
  eventFromRow,
  nowSeconds,
  patchColumns,
  storeUnavailable,
  userExists,
  userFromRow,
  userNotFound,
  type EventRow,
  type UserRow,
} from './rows.ts';
import type { NewClusterEvent, NewUser, Store, UserPatch } from './types.ts';

type Value = string | number | null;

function isDuplicate(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === 'ER_DUP_ENTRY';
}

/** Pool options from a mysql:// URL. */
function poolOptions(url: string): mysql.PoolOptions {
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
    connectTimeout: 5000,
    enableKeepAlive: true,
    supportBigNumbers: true,
    bigNumberStrings: false,
    charset: 'utf8mb4',
  };
}

/**
 * The MySQL/MariaDB store (mysql2 pool): placeholders only, no multiple statements, a bounded
 * queue. Driver errors become StoreUnavailableError (the driver's error kept only as `cause`).
 *
 * @example
 *   const store = openMysqlStore('mysql://warden:secret@db:3306/warden');
 */
export function openMysqlStore(url: string): Store {
  const pool: Pool = mysql.createPool(poolOptions(url));
  const run = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw error instanceof WardenError ? error : storeUnavailable(error);
    }
  };
  const rows = async <R>(sql: string, values: Value[] = []): Promise<R[]> => {
    const [result] = await pool.execute<RowDataPacket[]>(sql, values);
    return result as unknown as R[];
  };
  const exec = async (sql: string, values: Value[] = []): Promise<ResultSetHeader> => {
    const [result] = await pool.execute<ResultSetHeader>(sql, values);
    return result;
  };
  const findByName = async (username: string) =>
    (await rows<UserRow>('SELECT * FROM users WHERE username = ?', [username]))[0];

  return {
    kind: 'mysql',

    migrate: () =>
      run(async () => {
        await pool.query(MIGRATIONS_TABLE.mysql);
        let applied = 0;
        for (const migration of MIGRATIONS) {
          if (
            (await rows('SELECT 1 FROM schema_migrations WHERE version = ?', [migration.version])).length > 0
          )
            continue;
          for (const sql of migration.mysql) await pool.query(sql);
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
          const result = await exec(`UPDATE users SET ${assignments}, updated_at = ? WHERE username = ?`, [
            ...columns.map(([, value]) => value),
            nowSeconds(),
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

    appendEvent: (event: NewClusterEvent) =>
      run(async () => {
        const createdAt = nowSeconds();
        const result = await exec(
          'INSERT INTO cluster_events (kind, subject, value, expires_at, created_at) VALUES (?, ?, ?, ?, ?)',
          [event.kind, event.subject, event.value, event.expiresAt, createdAt],
        );
        return { ...event, id: Number(result.insertId), createdAt };
      }),

    eventsAfter: (afterId: number, limit: number) =>
      run(async () =>
        // LIMIT takes a literal here: mysql2's prepared LIMIT ? is rejected by some servers; it is a checked integer.
        (
          await rows<EventRow>(
            `SELECT * FROM cluster_events WHERE id > ? ORDER BY id LIMIT ${Math.max(1, Math.floor(limit))}`,
            [afterId],
          )
        ).map(eventFromRow),
      ),

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

    ping: () =>
      run(async () => {
        await pool.query('SELECT 1');
      }),

    close: () => run(() => pool.end()),
  };
}
