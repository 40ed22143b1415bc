import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WardenError } from '../../../errors/catalogue.ts';
import { openStore } from '../../../store/index.ts';
import { MIGRATIONS } from '../../../store/migrations.ts';
import { describeStoreContract, type OpenedStore } from './store-contract.ts';

const modeOf = (path: string) => statSync(path).mode & 0o777;

const STORE_MODULE = new URL('../../../store/index.ts', import.meta.url).href;

async function tempDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-store-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A store on a new SQLite file in a temp directory, opened by URL as DATABASE_URL names it. */
async function openTempSqliteStore(): Promise<OpenedStore> {
  const temp = await tempDir();
  const url = `sqlite:${join(temp.dir, 'warden.db')}`;
  const store = openStore(url);
  return {
    store,
    another: () => openStore(url),
    async cleanup() {
      try {
        await store.close();
      } finally {
        await temp.remove();
      }
    },
  };
}

describeStoreContract('sqlite', openTempSqliteStore);

describe('SQLite store', function () {
  let temp: { dir: string; remove(): Promise<void> };
  let file: string;

  beforeEach(async function () {
    temp = await tempDir();
    file = join(temp.dir, 'warden.db');
  });
  afterEach(async function () {
    await temp.remove();
  });

  it('puts the database in WAL mode, so readers do not wait for the writer', async function () {
    const store = openStore(`sqlite:${file}`);
    try {
      await store.migrate();
      const direct = new Database(file, { readonly: true });
      try {
        assert.equal(direct.pragma('journal_mode', { simple: true }), 'wal');
      } finally {
        direct.close();
      }
    } finally {
      await store.close();
    }
  });

  it('keeps users, events and meta across close and reopen', async function () {
    const first = openStore(`sqlite:${file}`);
    await first.migrate();
    const user = await first.createUser({
      username: 'alice',
      passwordHash: '$scrypt$x',
      tenant: null,
      roles: ['admin'],
      publish: ['a.*'],
      subscribe: [],
      invoke: [],
    });
    const disabled = await first.updateUser('alice', { disabled: true, tokensValidFrom: 42 });
    const appended = await first.appendEvent({ kind: 'user', subject: user.id, value: 42, expiresAt: 2e9 });
    await first.claimMeta('fingerprint', 'abc');
    await first.close();

    const second = openStore(`sqlite:${file}`);
    try {
      assert.equal(await second.migrate(), 0);
      assert.deepEqual(await second.findUserByUsername('alice'), disabled);
      assert.deepEqual(await second.eventsAfter(0, 10), [appended]);
      assert.equal(await second.claimMeta('fingerprint', 'other'), 'abc');
      const next = await second.appendEvent({ kind: 'token', subject: 'jti', value: 0, expiresAt: 2e9 });
      assert.ok(next.id > appended.id);
    } finally {
      await second.close();
    }
  });

  it('refuses a path that cannot hold a database with StoreUnavailableError naming DATABASE_URL and the path', async function () {
    const notSqlite = join(temp.dir, 'notes.txt');
    await writeFile(
      notSqlite,
      'this is not a SQLite database, only text that is long enough to have a header\n'.repeat(20),
    );
    for (const path of [temp.dir, notSqlite]) {
      assert.throws(
        () => openStore(`sqlite:${path}`),
        (error: unknown) =>
          error instanceof WardenError &&
          error.name === 'StoreUnavailableError' &&
          error.message.includes('DATABASE_URL') &&
          error.message.includes(path),
      );
    }
    const text = await readFile(notSqlite, 'utf8');
    assert.match(text, /^this is not a SQLite database/, 'the file it refused is left as it was');
  });

  it('creates missing parent directories of the database file', async function () {
    const nested = join(temp.dir, 'data', 'nested', 'warden.db');
    const store = openStore(`sqlite:${nested}`);
    try {
      assert.equal(await store.migrate(), MIGRATIONS.length);
      assert.ok(existsSync(nested));
    } finally {
      await store.close();
    }
  });

  it('creates the file, its -wal and -shm 0600 and new directories 0700, whatever the umask', async function () {
    const nested = join(temp.dir, 'data', 'nested', 'warden.db');
    const umask = process.umask(0);
    const store = (() => {
      try {
        return openStore(`sqlite:${nested}`);
      } finally {
        process.umask(umask);
      }
    })();
    try {
      await store.migrate();
      await store.appendEvent({ kind: 'token', subject: 'jti', value: 0, expiresAt: 2e9 });
      assert.equal(modeOf(join(temp.dir, 'data')).toString(8), '700');
      assert.equal(modeOf(join(temp.dir, 'data', 'nested')).toString(8), '700');
      for (const path of [nested, `${nested}-wal`, `${nested}-shm`])
        assert.equal(modeOf(path).toString(8), '600', path);
    } finally {
      await store.close();
    }
    assert.equal(modeOf(temp.dir).toString(8), '700', 'an existing directory keeps its mode (mkdtemp: 0700)');
  });

  it('refuses an existing database that other users can read, naming DATABASE_URL, the path and the fix', async function () {
    const first = openStore(`sqlite:${file}`);
    await first.migrate();
    await first.close();
    chmodSync(file, 0o644);
    assert.throws(
      () => openStore(`sqlite:${file}`),
      (error: unknown) =>
        error instanceof WardenError &&
        error.name === 'StoreUnavailableError' &&
        error.message.includes('DATABASE_URL') &&
        error.message.includes('0644') &&
        error.message.includes(`chmod 600 ${file}`),
    );
    assert.equal(modeOf(file).toString(8), '644', 'left for the operator to fix');
    chmodSync(file, 0o600);
    await openStore(`sqlite:${file}`).close();
  });

  it('makes a -wal left readable by another tool 0600', async function () {
    const first = openStore(`sqlite:${file}`);
    await first.migrate();
    await first.close();
    // Another connection keeps a non-empty -wal around (SQLite itself re-modes only empty ones).
    const other = new Database(file);
    try {
      other.exec("INSERT INTO cluster_meta (name, value) VALUES ('x', 'y')");
      chmodSync(`${file}-wal`, 0o644);
      const store = openStore(`sqlite:${file}`);
      await store.close();
      assert.equal(modeOf(`${file}-wal`).toString(8), '600');
    } finally {
      other.close();
    }
  });

  it('with { create: false }, refuses a missing file and creates neither it nor its directory', function () {
    const missing = join(temp.dir, 'elsewhere', 'warden.db');
    assert.throws(
      () => openStore(`sqlite:${missing}`, { create: false }),
      (error: unknown) =>
        error instanceof WardenError &&
        error.name === 'StoreUnavailableError' &&
        error.message.includes('DATABASE_URL') &&
        error.message.includes(missing) &&
        error.message.includes('warden migrate'),
    );
    assert.equal(existsSync(join(temp.dir, 'elsewhere')), false);
  });

  it('rolls a migration that fails half-way back completely, and applies it on the next run', async function () {
    // A view where a table belongs: CREATE TABLE IF NOT EXISTS skips it, CREATE INDEX then fails,
    // after `users` was already created in the same migration.
    const sabotage = new Database(file);
    sabotage.exec('CREATE VIEW cluster_events AS SELECT 1 AS expires_at');
    chmodSync(file, 0o600);
    const store = openStore(`sqlite:${file}`);
    try {
      await assert.rejects(store.migrate(), { name: 'StoreUnavailableError' });
      const tables = () =>
        (
          sabotage.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
            name: string;
          }[]
        ).map((row) => row.name);
      assert.deepEqual(tables(), ['schema_migrations'], 'nothing of the failed migration is left');
      sabotage.exec('DROP VIEW cluster_events');
      assert.equal(await store.migrate(), MIGRATIONS.length);
      assert.deepEqual(tables(), [
        'cluster_events',
        'cluster_meta',
        'login_attempts',
        'one_time_secrets',
        'roles',
        'schema_migrations',
        'sqlite_sequence',
        'users',
      ]);
    } finally {
      sabotage.close();
      await store.close();
    }
  });

  it('applies each migration once when several processes open and migrate a new file at once', async function () {
    // `warden start` boots its workers together and every one of them migrates. Each round, the
    // children are released together (IPC) on a new file and report how many migrations they
    // applied; several rounds, because one race window is only a few milliseconds wide.
    const script = `
      const { openStore } = await import(process.env.STORE_MODULE);
      process.on('message', async (url) => {
        if (url === 'done') return process.disconnect();
        try {
          const store = openStore(url);
          const applied = await store.migrate();
          await store.close();
          process.send({ applied });
        } catch (error) {
          process.send({ error: String(error) + ' / ' + String(error.cause) });
        }
      });
      process.send('ready');
    `;
    const children = Array.from({ length: 3 }, () =>
      spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
        env: { ...process.env, STORE_MODULE },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    const answer = (child: (typeof children)[number]) =>
      new Promise<unknown>((resolve, reject) => {
        const onExit = (code: number | null) => reject(new Error(`child exited (${code}) before answering`));
        child.once('exit', onExit);
        child.once('message', (message) => {
          child.off('exit', onExit);
          resolve(message);
        });
      });
    try {
      await Promise.all(children.map(answer));
      for (let round = 0; round < 15; round++) {
        const answers = children.map(answer);
        for (const child of children) child.send(`sqlite:${join(temp.dir, `round-${round}.db`)}`);
        const reports = (await Promise.all(answers)) as Array<{ applied?: number; error?: string }>;
        const what = `round ${round}: ${JSON.stringify(reports)}`;
        assert.ok(
          reports.every((report) => report.error === undefined),
          what,
        );
        assert.equal(
          reports.reduce((sum, report) => sum + (report.applied ?? 0), 0),
          MIGRATIONS.length,
          what,
        );
      }
      for (const child of children) child.send('done');
    } finally {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill();
    }
  });
});
