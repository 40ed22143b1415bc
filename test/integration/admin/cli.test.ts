import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { connectClient } from '../../helpers/clients.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { startTestWarden, testEnv, testSecrets, type TestWarden } from '../../helpers/warden.ts';

const WARDEN = fileURLToPath(new URL('../../../bin/warden.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('warden CLI (real processes, real MariaDB)', function () {
  this.timeout(60_000);
  let db: { url: string; drop(): Promise<void> };
  let warden: TestWarden;
  const secrets = testSecrets();

  before(async function () {
    db = await createTestDatabase();
    warden = await startTestWarden({}, { databaseUrl: db.url, secrets });
  });
  after(async function () {
    await warden.close();
    await db.drop();
  });

  function warden_(args: string[], stdin?: string, env: Record<string, string> = {}): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [WARDEN, ...args], {
        env: {
          ...process.env,
          ...testEnv(db.url),
          AUTH_KEY: secrets.authKey,
          SCC_AUTH_KEY: secrets.sccAuthKey,
          ...env,
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(stdin ?? '');
    });
  }

  async function login(username: string, password: string): Promise<number> {
    const response = await fetch(`${warden.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    return response.status;
  }

  it('adds a user with --password-stdin who can log in at once', async function () {
    const added = await warden_(
      [
        'user',
        'add',
        'cli-dana',
        '--password-stdin',
        '--publish',
        'chat.*',
        '--subscribe',
        'chat.*',
        '--tenant',
        'acme',
        '--role',
        'ops',
      ],
      'pa55-word\n',
    );
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout.includes('pa55-word'), false);
    assert.equal(await login('cli-dana', 'pa55-word'), 200);
    const user = await warden.worker.store.findUserByUsername('cli-dana');
    assert.deepEqual(user?.publish, ['chat.*']);
    assert.equal(user?.tenant, 'acme');
    assert.deepEqual(user?.roles, ['ops']);
  });

  it('generates and prints a password when none is given', async function () {
    const added = await warden_(['user', 'add', 'cli-gen']);
    assert.equal(added.code, 0, added.stderr);
    const password = /password: (\S+)/.exec(added.stdout)?.[1];
    assert.ok(password);
    assert.equal(await login('cli-gen', password), 200);
  });

  it('lists users', async function () {
    await warden_(['user', 'add', 'cli-list', '--password', 'x-password']);
    const listed = await warden_(['user', 'list']);
    assert.equal(listed.code, 0);
    assert.match(listed.stdout, /^USERNAME\s+STATUS/m);
    assert.match(listed.stdout, /^cli-list\s+active/m);
  });

  it('sets permissions, and a connected socket gets the new claims at once', async function () {
    await warden_(['user', 'add', 'cli-erin', '--password', 'erin-password', '--publish', 'a.*']);
    const response = await fetch(`${warden.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'cli-erin', password: 'erin-password' }),
    });
    const { token } = (await response.json()) as { token: string };
    const client = await connectClient(warden.port, { token });
    try {
      const renewed = client.socket.listener('authenticate').once() as Promise<{ signedAuthToken: string }>;
      const set = await warden_(['user', 'set', 'cli-erin', '--publish', 'b.*']);
      assert.equal(set.code, 0, set.stderr);
      await renewed;
      await client.socket.invokePublish('b.x', 1);
      await assert.rejects(client.socket.invokePublish('a.x', 1), { name: 'PublishError' });
    } finally {
      client.socket.disconnect();
    }
  });

  /** A socket authenticated as `username` through an HTTP login. */
  async function connectedAs(username: string, password: string) {
    const response = await fetch(`${warden.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const { token } = (await response.json()) as { token: string };
    const client = await connectClient(warden.port, { token });
    assert.equal(client.status.isAuthenticated, true);
    return client;
  }

  it('disables and enables a user: a connected socket loses its authentication at once', async function () {
    await warden_(['user', 'add', 'cli-finn', '--password', 'finn-password']);
    const client = await connectedAs('cli-finn', 'finn-password');
    const lost = client.socket.listener('deauthenticate').once();
    assert.equal((await warden_(['user', 'disable', 'cli-finn'])).code, 0);
    await lost;
    client.socket.disconnect();
    assert.equal(await login('cli-finn', 'finn-password'), 401);
    assert.equal((await warden_(['user', 'enable', 'cli-finn'])).code, 0);
    assert.equal(await login('cli-finn', 'finn-password'), 200);
  });

  it('revokes a user: a connected socket loses its authentication', async function () {
    await warden_(['user', 'add', 'cli-gus', '--password', 'gus-password']);
    const response = await fetch(`${warden.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'cli-gus', password: 'gus-password' }),
    });
    const { token } = (await response.json()) as { token: string };
    const client = await connectClient(warden.port, { token });
    try {
      assert.equal(client.status.isAuthenticated, true);
      const lost = client.socket.listener('deauthenticate').once();
      assert.equal((await warden_(['user', 'revoke', 'cli-gus'])).code, 0);
      await lost;
      await assert.rejects(client.socket.authenticate(token), { name: 'AuthTokenRevokedError' });
      assert.equal(await login('cli-gus', 'gus-password'), 200);
    } finally {
      client.socket.disconnect();
    }
  });

  it('removes a user: a connected socket loses its authentication at once', async function () {
    await warden_(['user', 'add', 'cli-hal', '--password', 'hal-password']);
    const client = await connectedAs('cli-hal', 'hal-password');
    const lost = client.socket.listener('deauthenticate').once();
    assert.equal((await warden_(['user', 'remove', 'cli-hal'])).code, 0);
    await lost;
    client.socket.disconnect();
    assert.equal(await warden.worker.store.findUserByUsername('cli-hal'), null);
    assert.equal(await login('cli-hal', 'hal-password'), 401);
  });

  it('fails with a clear message and a non-zero exit', async function () {
    await warden_(['user', 'add', 'cli-dup', '--password', 'dup-password']);
    const dup = await warden_(['user', 'add', 'cli-dup', '--password', 'dup-password']);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /already exists/);
    const badName = await warden_(['user', 'add', 'has.dot']);
    assert.equal(badName.code, 2);
    assert.match(badName.stderr, /username/);
    const badPattern = await warden_(['user', 'add', 'cli-pat', '--publish', 'a.>.b']);
    assert.equal(badPattern.code, 2);
    const missing = await warden_(['user', 'remove', 'nobody-at-all']);
    assert.notEqual(missing.code, 0);
    const unknown = await warden_(['frobnicate']);
    assert.equal(unknown.code, 2);
  });

  it('names the store and the reason when the store cannot be reached or opened', async function () {
    const unreachable = await warden_(['user', 'list'], undefined, {
      DATABASE_URL: 'mysql://root@127.0.0.1:1/warden',
    });
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^warden: the user store is unavailable: .*ECONNREFUSED/m);
    assert.doesNotMatch(unreachable.stderr, /\n\s+at /, 'no stack trace');
    const directory = await warden_(['user', 'list'], undefined, { DATABASE_URL: `sqlite:${tmpdir()}` });
    assert.equal(directory.code, 1);
    assert.match(directory.stderr, /^warden: DATABASE_URL: cannot open the SQLite database at /m);
    assert.doesNotMatch(directory.stderr, /\n\s+at /, 'no stack trace');
  });

  it('migrates idempotently', async function () {
    const run = await warden_(['migrate']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /applied 0 migration/);
  });
});
