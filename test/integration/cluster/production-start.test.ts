import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../../store/index.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { freePort, runWarden } from '../../helpers/processes.ts';
import { testEnv, testSecrets } from '../../helpers/warden.ts';

/** `warden start` in production: no generated secrets, no demo users. */
describe('warden start in production mode', function () {
  this.timeout(60_000);
  let db: { url: string; drop(): Promise<void> };

  before(async function () {
    db = await createTestDatabase();
  });
  after(async function () {
    await db?.drop();
  });

  async function start(env: Record<string, string>) {
    return runWarden(['start'], {
      ...testEnv(db.url, { PORT: String(await freePort()), HOST: '127.0.0.1' }),
      NODE_ENV: 'production',
      WORKERS: '1',
      SCC_STATE_SERVER_PORT: String(await freePort()),
      SCC_BROKER_SERVER_PORT: String(await freePort()),
      ...env,
    });
  }

  it('refuses to start without AUTH_KEY, naming it', async function () {
    const warden = await start({ AUTH_KEY: '', SCC_AUTH_KEY: testSecrets().sccAuthKey });
    assert.notEqual((await warden.exited()).code, 0);
    assert.match(warden.output(), /AUTH_KEY/);
  });

  it('starts on an empty store without creating demo users', async function () {
    const secrets = testSecrets();
    const warden = await start({ AUTH_KEY: secrets.authKey, SCC_AUTH_KEY: secrets.sccAuthKey });
    try {
      await warden.waitFor(/Warden is ready/, 60_000);
      assert.doesNotMatch(warden.output(), /Demo users/);
      const store = openStore(db.url);
      assert.equal(await store.countUsers(), 0);
      await store.close();
    } finally {
      await warden.stop();
    }
  });

  it('keeps a new SQLite store private: its directory 0700, the database and its -wal and -shm 0600', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'warden-prod-'));
    const data = join(dir, 'data');
    const secrets = testSecrets();
    // AUTH_KEY is given, so no development key creates DATA_DIR first: the store does.
    const warden = await start({
      AUTH_KEY: secrets.authKey,
      SCC_AUTH_KEY: secrets.sccAuthKey,
      DATA_DIR: data,
      DATABASE_URL: `sqlite:${join(data, 'warden.db')}`,
    });
    try {
      await warden.waitFor(/Warden is ready/, 60_000);
      const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);
      assert.equal(mode(data), '700');
      for (const file of ['warden.db', 'warden.db-wal', 'warden.db-shm'])
        assert.equal(mode(join(data, file)), '600', file);
    } finally {
      await warden.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
