import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectClient } from '../../helpers/clients.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { wardenBin } from '../../helpers/processes.ts';
import { startTestWarden, testEnv, testSecrets, type TestWarden } from '../../helpers/warden.ts';
import { withoutLogLines } from '../../helpers/processes.ts';

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

  function warden_(
    args: string[],
    stdin?: string,
    env: Record<string, string> = {},
    cwd: string = process.cwd(),
  ): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [wardenBin(), ...args], {
        cwd,
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
      // The audit trail's JSON lines are checked in test/integration/ops; here, the command's own.
      child.on('close', (code) => resolve({ code, stdout, stderr: withoutLogLines(stderr) }));
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

  it('creates a one-time invite that names its roles, printed once and stored only hashed', async function () {
    const run = await warden_(['invite', 'create', '--role', 'editor', '--role', 'user', '--ttl', '600']);
    assert.equal(run.code, 0, run.stderr);
    const invite = run.stdout.trim();
    assert.match(invite, /^[A-Za-z0-9_-]{43}$/);
    assert.match(run.stderr, /one-time invite with roles editor, user, valid until/);
    const { OneTimeSecrets, secretHash } = await import('../../../auth/one-time-secrets.ts');
    assert.equal(
      await warden.worker.store.peekOneTimeSecret(invite, 'invite'),
      null,
      'the invite itself is not a key',
    );
    assert.notEqual(await warden.worker.store.peekOneTimeSecret(secretHash(invite), 'invite'), null);
    const secrets = new OneTimeSecrets({ store: warden.worker.store, now: Date.now });
    const outcome = await secrets.redeem('invite', invite);
    assert.deepEqual(outcome, { status: 'redeemed', payload: JSON.stringify({ roles: ['editor', 'user'] }) });
    for (const args of [
      ['invite', 'create', '--ttl', '0'],
      ['invite', 'create', '--role', 'a.b'],
      ['invite'],
    ]) {
      assert.equal((await warden_(args)).code, 2, args.join(' '));
    }
  });

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
      'pa55-word-long\n',
    );
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout.includes('pa55-word-long'), false);
    assert.equal(await login('cli-dana', 'pa55-word-long'), 200);
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
    // The driver's text (UNIQUE constraint failed / Duplicate entry) is not the operator's business.
    assert.equal(dup.stderr, 'warden: user "cli-dup" already exists\n');
    const badName = await warden_(['user', 'add', 'has.dot']);
    assert.equal(badName.code, 2);
    assert.match(badName.stderr, /username/);
    const badPattern = await warden_(['user', 'add', 'cli-pat', '--publish', 'a.>.b']);
    assert.equal(badPattern.code, 2);
  });

  it('exits 1 when a user is not found, whichever command looks for it', async function () {
    const commands = ['revoke', 'remove', 'disable'];
    const runs = await Promise.all(commands.map((command) => warden_(['user', command, 'nobody-at-all'])));
    for (const [i, run] of runs.entries()) {
      assert.equal(run.code, 1, `user ${commands[i]}: ${run.stderr}`);
      assert.equal(run.stderr, 'warden: no user named "nobody-at-all"\n', `user ${commands[i]}`);
    }
  });

  it('exits 2 for a usage error: unknown commands, unknown options and stray arguments, in every command', async function () {
    const usage: string[][] = [
      ['user', 'list', '--bogus'],
      ['user', 'revoke', 'cli-x', '--publish', 'a.b'],
      ['migrate', 'extra'],
      ['start', '--bogus'],
      ['frobnicate'],
      ['user', 'frobnicate'],
    ];
    const runs = await Promise.all(usage.map((args) => warden_(args)));
    for (const [i, run] of runs.entries()) {
      const what = `warden ${usage[i]?.join(' ')}: ${run.stderr}`;
      assert.equal(run.code, 2, what);
      assert.match(run.stderr, /^warden: /, what);
    }
    assert.match(runs[0]?.stderr ?? '', /unknown option "--bogus" for warden user list/);
    assert.match(runs[1]?.stderr ?? '', /unknown option "--publish" for warden user revoke/);
    assert.match(runs[2]?.stderr ?? '', /warden migrate takes no arguments/);
    assert.match(runs[4]?.stderr ?? '', /^warden: unknown command "frobnicate"\nusage: warden/);
    assert.match(runs[5]?.stderr ?? '', /unknown command "user frobnicate"/);
  });

  it('prints its version with --version', async function () {
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const run = await warden_(['--version']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `${pkg.version}\n`);
  });

  it('refuses patterns that can never match, and warns about {tenant} for a user without a tenant', async function () {
    const refused = [
      ['--publish', '#warden.control'],
      ['--invoke', '#handshake'],
      ['--subscribe', 'user.{bogus}.>'],
    ] as const;
    const runs = await Promise.all(
      refused.map(([flag, pattern]) =>
        warden_(['user', 'add', 'cli-never', '--password', 'never-password', flag, pattern]),
      ),
    );
    for (const [i, run] of runs.entries()) {
      const [flag, pattern] = refused[i] ?? ['', ''];
      assert.equal(run.code, 2, `${flag} ${pattern}: ${run.stderr}`);
      assert.ok(run.stderr.startsWith(`warden: ${flag} "${pattern}" `), run.stderr);
    }
    assert.equal(await warden.worker.store.findUserByUsername('cli-never'), null);

    const added = await warden_([
      'user',
      'add',
      'cli-ivy',
      '--password',
      'ivy-password',
      '--subscribe',
      'tenant.{tenant}.>',
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(
      added.stderr,
      /^warden: warning: user "cli-ivy" has no tenant, so its subscribe pattern "tenant\.\{tenant\}\.>" grants nothing/,
    );
    const given = await warden_(['user', 'set', 'cli-ivy', '--tenant', 'acme']);
    assert.equal(given.code, 0, given.stderr);
    assert.equal(given.stderr, '');
    const cleared = await warden_(['user', 'set', 'cli-ivy', '--no-tenant']);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.match(cleared.stderr, /warning: user "cli-ivy" has no tenant/);
  });

  it('enforces PASSWORD_MIN_LENGTH for --password and --password-stdin in user add and user set', async function () {
    const short = await warden_(['user', 'add', 'cli-jo', '--password', 'nine-char']);
    assert.equal(short.code, 2);
    assert.match(short.stderr, /at least 10 .*PASSWORD_MIN_LENGTH/);
    const shortStdin = await warden_(['user', 'add', 'cli-jo', '--password-stdin'], 'nine-char\n');
    assert.equal(shortStdin.code, 2);
    assert.equal(await warden.worker.store.findUserByUsername('cli-jo'), null);
    // Counted in characters, not bytes: ten of them, thirty bytes of UTF-8.
    const added = await warden_(['user', 'add', 'cli-jo', '--password-stdin'], 'ääääääääää\n');
    assert.equal(added.code, 0, added.stderr);
    const shortSet = await warden_(['user', 'set', 'cli-jo', '--password', 'nine-char']);
    assert.equal(shortSet.code, 2);
    const lower = await warden_(['user', 'set', 'cli-jo', '--password', 'four'], undefined, {
      PASSWORD_MIN_LENGTH: '4',
    });
    assert.equal(lower.code, 0, lower.stderr);
    assert.equal(await login('cli-jo', 'four'), 200);
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

  it('creates a SQLite store only in migrate and user add, with a 0700 directory and a 0600 file', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'warden-cli-'));
    try {
      const env = { DATABASE_URL: '' }; // unset: the default, ./data/warden.db in the working directory
      const path = join(dir, 'data', 'warden.db');
      // `user list` from a directory without a store: an error, not an empty list.
      for (const args of [
        ['user', 'list'],
        ['user', 'revoke', 'cli-x'],
        ['user', 'set', 'cli-x', '--role', 'r'],
        ['auth-key', 'reset'],
      ]) {
        const run = await warden_(args, undefined, env, dir);
        assert.equal(run.code, 1, `${args.join(' ')}: ${run.stderr}`);
        assert.match(run.stderr, /^warden: DATABASE_URL: cannot open the SQLite database at /);
        assert.ok(run.stderr.includes(path), run.stderr);
        assert.match(run.stderr, /warden migrate/);
        assert.equal(existsSync(join(dir, 'data')), false, `${args.join(' ')} created nothing`);
      }
      const nowhere = await warden_(['user', 'list'], undefined, {
        DATABASE_URL: `sqlite:${dir}/no/such/dir/x.db`,
      });
      assert.equal(nowhere.code, 1);
      assert.equal(existsSync(join(dir, 'no')), false, 'no directories made');

      const migrated = await warden_(['migrate'], undefined, env, dir);
      assert.equal(migrated.code, 0, migrated.stderr);
      // AUTH_KEY is given, so no dev key made the directory first: the store did.
      assert.equal((statSync(join(dir, 'data')).mode & 0o777).toString(8), '700');
      assert.equal((statSync(path).mode & 0o777).toString(8), '600');
      const listed = await warden_(['user', 'list'], undefined, env, dir);
      assert.equal(listed.code, 0, listed.stderr);

      const other = join(dir, 'other.db');
      const added = await warden_(['user', 'add', 'cli-kim', '--password', 'kim-password'], undefined, {
        DATABASE_URL: `sqlite:${other}`,
      });
      assert.equal(added.code, 0, added.stderr);
      assert.equal((statSync(other).mode & 0o777).toString(8), '600');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('migrates idempotently', async function () {
    const run = await warden_(['migrate']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /applied 0 migration/);
  });
});
