import assert from 'node:assert/strict';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { runWarden } from '../../helpers/processes.ts';
import { startTestWarden, testEnv, testSecrets, type TestWarden } from '../../helpers/warden.ts';

/**
 * Workers with different AUTH_KEYs must not form one cluster: each would reject the other's
 * tokens as "invalid signature", depending on where a client lands. The second is refused at start.
 */
describe('one AUTH_KEY per cluster', function () {
  this.timeout(60_000);
  let db: { url: string; drop(): Promise<void> };
  let first: TestWarden;
  const secrets = testSecrets();

  before(async function () {
    db = await createTestDatabase();
    first = await startTestWarden({}, { databaseUrl: db.url, secrets });
  });
  after(async function () {
    await first?.close();
    await db?.drop();
  });

  it('starts a second worker with the same AUTH_KEY', async function () {
    const second = await startTestWarden({}, { databaseUrl: db.url, secrets });
    await second.close();
  });

  it('refuses a worker with another AUTH_KEY at start, naming AUTH_KEY', async function () {
    const other = { ...testSecrets(), sccAuthKey: secrets.sccAuthKey };
    await assert.rejects(startTestWarden({}, { databaseUrl: db.url, secrets: other }), {
      name: 'ConfigError',
      variable: 'AUTH_KEY',
    });
  });

  it('makes `warden worker` with another AUTH_KEY exit non-zero with a clear message', async function () {
    const worker = runWarden(['worker'], {
      ...testEnv(db.url),
      AUTH_KEY: testSecrets().authKey,
      SCC_AUTH_KEY: secrets.sccAuthKey,
    });
    const { code } = await worker.exited();
    assert.equal(code, 1);
    assert.match(worker.output(), /AUTH_KEY: differs from the key the other workers of this cluster use/);
  });

  it('accepts a new key after `warden auth-key reset` (a deliberate rotation)', async function () {
    const rotated = testSecrets();
    const reset = runWarden(['auth-key', 'reset'], {
      ...testEnv(db.url),
      AUTH_KEY: rotated.authKey,
      SCC_AUTH_KEY: rotated.sccAuthKey,
    });
    assert.equal((await reset.exited()).code, 0);
    assert.match(reset.output(), /forgot the AUTH_KEY fingerprint/);
    const next = await startTestWarden({}, { databaseUrl: db.url, secrets: rotated });
    await next.close();
    // The first worker's key is now the odd one out.
    await assert.rejects(startTestWarden({}, { databaseUrl: db.url, secrets }), { variable: 'AUTH_KEY' });
  });
});
