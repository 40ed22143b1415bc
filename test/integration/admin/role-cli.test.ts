import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import type { TokenClaims } from '../../../auth/tokens.ts';
import { connectClient, socketLogin, type TestClient } from '../../helpers/clients.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { wardenBin } from '../../helpers/processes.ts';
import { startTestWarden, testEnv, testSecrets, type TestWarden } from '../../helpers/warden.ts';
import { withoutLogLines } from '../../helpers/processes.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `warden role ...` as an operator runs it: a real process on the store DATABASE_URL names. Each
 * run costs seconds, so parsing and validation in detail are left to the unit tests
 * (test/unit/admin/role-commands.test.ts); here, what only a process shows.
 */
describe('warden role CLI (real processes, MariaDB and SQLite)', function () {
  this.timeout(60_000);
  let db: { url: string; drop(): Promise<void> };
  let warden: TestWarden;
  const secrets = testSecrets();
  const clients: TestClient[] = [];

  before(async function () {
    db = await createTestDatabase();
    warden = await startTestWarden({}, { databaseUrl: db.url, secrets });
  });
  afterEach(function () {
    for (const client of clients.splice(0)) client.socket.disconnect();
  });
  after(async function () {
    await warden.close();
    await db.drop();
  });

  function warden_(args: string[], env: Record<string, string> = {}, cwd = process.cwd()): Promise<Run> {
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
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      // The audit trail's JSON lines are checked in test/integration/ops; here, the command's own.
      child.on('close', (code) => resolve({ code, stdout, stderr: withoutLogLines(stderr) }));
    });
  }

  /** Resolves with the claims of the client's next token. */
  function nextClaims(client: TestClient): Promise<TokenClaims> {
    return (client.socket.listener('authenticate').once() as Promise<{ signedAuthToken: string }>).then(
      ({ signedAuthToken }) => jwt.decode(signedAuthToken) as TokenClaims,
    );
  }

  it('adds, sets, lists and removes a role; a connected socket follows each change at once', async function () {
    const added = await warden_([
      'role',
      'add',
      'cli-chat',
      '--subscribe',
      'chat.*',
      '--publish',
      'chat.{username}',
    ]);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(added.stdout, 'created role cli-chat\n');

    const { user, password } = await warden.createUser({ roles: ['cli-chat'] });
    const client = await connectClient(warden.port);
    clients.push(client);
    const token = jwt.decode(await socketLogin(client, user.username, password)) as TokenClaims;
    assert.deepEqual([token.publish, token.subscribe], [[`chat.${user.username}`], ['chat.*']]);
    await client.socket.subscribe('chat.lobby').listener('subscribe').once();

    // The worker's own event-feed timer (250 ms) brings the change: no poll from the test.
    const renewed = nextClaims(client);
    const kicked = client.socket.listener('kickOut').once() as Promise<{ channel: string }>;
    const set = await warden_(['role', 'set', 'cli-chat', '--subscribe', 'news.*']);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, 'updated role cli-chat\n');
    assert.deepEqual((await renewed).subscribe, ['news.*']);
    assert.equal((await kicked).channel, 'chat.lobby');

    const listed = await warden_(['role', 'list']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^ROLE\s+PUBLISH\s+SUBSCRIBE\s+INVOKE$/m);
    assert.match(listed.stdout, /^cli-chat\s+chat\.\{username\}\s+news\.\*\s+-$/m);

    const emptied = nextClaims(client);
    const removed = await warden_(['role', 'remove', 'cli-chat']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, 'removed role cli-chat\n');
    assert.match(removed.stderr, /^warden: warning: 1 user\(s\) still name role "cli-chat"/);
    const claims = await emptied;
    assert.deepEqual([claims.publish, claims.subscribe], [[], []]);
    assert.equal(client.socket.authState, 'authenticated');
  });

  it('exits 1 for a duplicate or unknown role and 2 for a usage error, with one line on stderr', async function () {
    assert.equal((await warden_(['role', 'add', 'cli-dup'])).code, 0);
    const cases: Array<[string[], number, RegExp]> = [
      [['role', 'add', 'cli-dup'], 1, /^warden: role "cli-dup" already exists\n$/],
      [['role', 'set', 'cli-nobody', '--publish', 'a.b'], 1, /^warden: no role named "cli-nobody"\n$/],
      [
        ['role', 'add', 'cli-x', '--subscribe', '#warden.control'],
        2,
        /^warden: --subscribe "#warden\.control" /,
      ],
      [['role', 'list', '--bogus'], 2, /^warden: unknown option "--bogus" for warden role list\n$/],
    ];
    const runs = await Promise.all(cases.map(([args]) => warden_(args)));
    for (const [i, run] of runs.entries()) {
      const [args, code, stderr] = cases[i] as [string[], number, RegExp];
      assert.equal(run.code, code, `warden ${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, stderr, `warden ${args.join(' ')}`);
    }
    const help = await warden_(['role', '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^usage: warden role <command>\n {2}add <role>/);
  });

  it('on SQLite: role add creates a private store, and role list refuses a missing one', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'warden-role-cli-'));
    try {
      const path = join(dir, 'data', 'warden.db');
      const missing = await warden_(['role', 'list'], { DATABASE_URL: `sqlite:${path}` });
      assert.equal(missing.code, 1);
      assert.match(
        missing.stderr,
        /^warden: DATABASE_URL: cannot open the SQLite database at .*warden migrate/,
      );
      assert.equal(existsSync(join(dir, 'data')), false, 'role list created nothing');

      const added = await warden_(['role', 'add', 'ops', '--invoke', 'rpc.*'], {
        DATABASE_URL: `sqlite:${path}`,
      });
      assert.equal(added.code, 0, added.stderr);
      assert.equal((statSync(path).mode & 0o777).toString(8), '600');
      const listed = await warden_(['role', 'list'], { DATABASE_URL: `sqlite:${path}` });
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^ops\s+-\s+-\s+rpc\.\*$/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
