import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import mysql from 'mysql2/promise';
import type { WardenError } from '../../../errors/catalogue.ts';
import { openStore } from '../../../store/index.ts';
import { MIGRATIONS } from '../../../store/migrations.ts';
import { openMysqlStore } from '../../../store/mysql.ts';
import type { Store } from '../../../store/types.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { freePort } from '../../helpers/processes.ts';
import { describeStoreContract, rejectsWith, type OpenedStore } from './store-contract.ts';
import { startFreezableProxy, type FreezableProxy } from './freezable-proxy.ts';

/** A store on a new MariaDB database, opened by URL as DATABASE_URL names it. */
async function openTempMysqlStore(): Promise<OpenedStore> {
  const db = await createTestDatabase();
  const store = openStore(db.url);
  return {
    store,
    another: () => openStore(db.url),
    async cleanup() {
      try {
        await store.close();
      } finally {
        await db.drop();
      }
    },
  };
}

describeStoreContract('mysql', openTempMysqlStore);

/**
 * Settles like `promise` if it settles within `ms`, else rejects: a hang becomes a failure that
 * says so, not a mocha timeout.
 */
async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}

/** Asserts a StoreUnavailableError within `ms`; returns how long it took (ms). */
async function unavailableWithin(ms: number, call: Promise<unknown>): Promise<number> {
  const started = performance.now();
  const error: WardenError = await within(ms, rejectsWith(call, 'StoreUnavailableError'));
  // The driver's error travels only as the non-enumerable `cause`, never to a client.
  assert.ok(error.cause instanceof Error, 'keeps the driver error as cause');
  assert.ok(!Object.keys(error).includes('cause'));
  return performance.now() - started;
}

const TIMEOUTS = { connectTimeoutMs: 500, statementTimeoutMs: 1000 };

function withPort(url: string, port: number): string {
  const moved = new URL(url);
  moved.port = String(port);
  return moved.toString();
}

describe('MySQL store when the server is down or stops answering', function () {
  it('fails every call at once with StoreUnavailableError when nothing listens on the port', async function () {
    const store = openStore(`mysql://root@127.0.0.1:${await freePort()}/warden`);
    const calls: Array<(s: Store) => Promise<unknown>> = [
      (s) => s.ping(),
      (s) => s.migrate(),
      (s) => s.findUserByUsername('alice'),
      (s) => s.countUsers(),
      (s) =>
        s.createUser({
          username: 'a',
          passwordHash: 'h',
          tenant: null,
          roles: [],
          publish: [],
          subscribe: [],
          invoke: [],
        }),
      (s) => s.appendEvent({ kind: 'token', subject: 'jti', value: 0, expiresAt: 1 }),
      (s) => s.claimMeta('fingerprint', 'x'),
    ];
    for (const call of calls) await unavailableWithin(2000, call(store));
    await within(2000, store.close());
  });

  describe('through a proxy', function () {
    let db: { url: string; drop(): Promise<void> };
    let proxy: FreezableProxy;
    let store: Store;

    beforeEach(async function () {
      db = await createTestDatabase();
      const target = new URL(db.url);
      proxy = await startFreezableProxy({ host: target.hostname, port: Number(target.port || 3306) });
      store = openMysqlStore(withPort(db.url, proxy.port), TIMEOUTS);
      await store.migrate();
      await store.createUser({
        username: 'alice',
        passwordHash: 'h',
        tenant: null,
        roles: [],
        publish: [],
        subscribe: [],
        invoke: [],
      });
    });
    afterEach(async function () {
      try {
        proxy.thaw();
        await within(5000, store.close());
      } finally {
        await proxy.close();
        await db.drop();
      }
    });

    it('fails calls to a server that stopped answering within the statement timeout, then recovers', async function () {
      proxy.freeze();
      // One call on a pooled connection that now hangs, then several at once: none may queue
      // behind the hung connection forever.
      const took = await unavailableWithin(4000, store.findUserByUsername('alice'));
      assert.ok(took >= TIMEOUTS.statementTimeoutMs * 0.9, `gave up after ${took} ms, before the timeout`);
      await Promise.all([
        unavailableWithin(4000, store.ping()),
        unavailableWithin(4000, store.countUsers()),
        unavailableWithin(4000, store.claimMeta('fingerprint', 'x')),
      ]);
      proxy.thaw();
      assert.equal((await within(4000, store.findUserByUsername('alice')))?.username, 'alice');
    });

    it('closes in bounded time while a call hangs on a server that stopped answering', async function () {
      proxy.freeze();
      const requested = proxy.requestHeld();
      const hanging = unavailableWithin(4000, store.ping());
      await requested;
      await within(4000, store.close());
      await hanging;
    });

    it('fails calls at once after the server went away mid-session', async function () {
      await proxy.close();
      await unavailableWithin(2000, store.ping());
      await unavailableWithin(2000, store.findUserByUsername('alice'));
    });
  });

  it('gives up on a server that accepts connections but never greets, within the connect timeout', async function () {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    assert.ok(address !== null && typeof address === 'object');
    const store = openMysqlStore(`mysql://root@127.0.0.1:${address.port}/warden`, TIMEOUTS);
    try {
      const took = await unavailableWithin(3000, store.ping());
      assert.ok(took >= TIMEOUTS.connectTimeoutMs * 0.9, `gave up after ${took} ms, before the timeout`);
    } finally {
      await within(3000, store.close());
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe('MySQL store migrations', function () {
  it('do not record a migration that failed half-way, and the next run completes it', async function () {
    // MySQL cannot roll DDL back, so the guarantee is: a migration counts as applied only once all
    // of its statements ran. A user allowed to create some of the tables but not `cluster_meta`
    // makes the first migration stop after `users` and `cluster_events`.
    const db = await createTestDatabase();
    const url = new URL(db.url);
    const database = url.pathname.slice(1);
    const limitedUser = `warden_limited_${randomBytes(4).toString('hex')}`;
    const admin = await mysql.createConnection(db.url);
    const store = openStore(db.url);
    try {
      await admin.query(`CREATE USER '${limitedUser}'@'%'`);
      for (const table of ['schema_migrations', 'users', 'cluster_events'])
        await admin.query(
          `GRANT SELECT, INSERT, CREATE ON \`${database}\`.\`${table}\` TO '${limitedUser}'@'%'`,
        );
      url.username = limitedUser;
      const limited = openStore(url.toString());
      try {
        await rejectsWith(limited.migrate(), 'StoreUnavailableError');
      } finally {
        await limited.close();
      }
      const tables = async () => {
        const [rows] = await admin.query<mysql.RowDataPacket[]>('SHOW TABLES');
        return rows.map((row) => Object.values(row)[0] as string).sort();
      };
      assert.deepEqual(await tables(), ['cluster_events', 'schema_migrations', 'users']);
      const [applied] = await admin.query<mysql.RowDataPacket[]>('SELECT version FROM schema_migrations');
      assert.deepEqual(applied, [], 'the failed migration is not recorded');

      assert.equal(await store.migrate(), MIGRATIONS.length);
      assert.deepEqual(await tables(), [
        'cluster_events',
        'cluster_meta',
        'login_attempts',
        'one_time_secrets',
        'roles',
        'schema_migrations',
        'users',
      ]);
      assert.equal(await store.claimMeta('fingerprint', 'x'), 'x');
    } finally {
      await store.close();
      await admin.query(`DROP USER IF EXISTS '${limitedUser}'@'%'`);
      await admin.end();
      await db.drop();
    }
  });
});
