import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectClient, socketLogin, type TestClient } from '../../helpers/clients.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { childrenOf, freePorts, runWarden, wardenBin, type RunningProcess } from '../../helpers/processes.ts';
import { createStoredUser, testEnv, testSecrets } from '../../helpers/warden.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Every descendant of `pid` with its command line. */
function tree(pid: number): Array<{ pid: number; args: string }> {
  return childrenOf(pid).flatMap((child) => [child, ...tree(child.pid)]);
}

/**
 * What the image's runtime stage holds: package.json, bin/, dist/, client/ and node_modules, and
 * no TypeScript source. A cluster started from a copy of just that runs the compiled build alone.
 */
describe('the compiled build: warden start from dist/ alone (real processes)', function () {
  this.timeout(120_000);
  let db: { url: string; drop(): Promise<void> };
  let app: string;
  let warden: RunningProcess;
  let port: number;
  const clients: TestClient[] = [];
  const username = 'compiled-user';
  const password = 'compiled-password';

  before(async function () {
    wardenBin(); // brings dist/ up to date
    app = mkdtempSync(join(tmpdir(), 'warden-runtime-'));
    for (const entry of ['package.json', 'bin', 'dist', 'client']) {
      cpSync(join(ROOT, entry), join(app, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'));
    db = await createTestDatabase();
    await createStoredUser(db.url, { username, password, invoke: ['whoami'] });
    const [appPort, statePort, brokerPort] = (await freePorts(3)) as [number, number, number];
    port = appPort;
    const secrets = testSecrets();
    warden = runWarden(
      ['start'],
      {
        ...testEnv(db.url, { PORT: String(port) }),
        WORKERS: '2',
        BROKERS: '1',
        SCC_STATE_SERVER_PORT: String(statePort),
        SCC_BROKER_SERVER_PORT: String(brokerPort),
        AUTH_KEY: secrets.authKey,
        SCC_AUTH_KEY: secrets.sccAuthKey,
        LOG_LEVEL: 'info',
      },
      { bin: join(app, 'bin', 'warden.js') },
    );
    await warden.waitFor(/Warden is ready/, 60_000);
  });

  after(async function () {
    for (const client of clients.splice(0)) client.socket.disconnect();
    await warden?.stop();
    await db?.drop();
    if (app !== undefined) rmSync(app, { recursive: true, force: true });
  });

  it('runs every role from the copy, with no TypeScript loader in any process', function () {
    const processes = tree(warden.child.pid as number);
    const roles = processes.map((p) => p.args.split(' ').at(-1)).sort();
    assert.deepEqual(roles, ['broker', 'state', 'worker', 'worker']);
    for (const { args } of processes) {
      assert.ok(args.includes(join(app, 'bin', 'warden.js')), `runs the copy: ${args}`);
      assert.doesNotMatch(args, /tsx|esbuild|--import|--loader/, args);
    }
  });

  it('logs a user in over a socket', async function () {
    const client = await connectClient(port);
    clients.push(client);
    await socketLogin(client, username, password);
    const me = (await client.socket.invoke('whoami', {})) as { username?: string };
    assert.equal(me.username, username);
  });

  it('serves the demo page and the browser client from client/ next to dist/', async function () {
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(page.status, 200);
    assert.equal(await page.text(), readFileSync(join(ROOT, 'client', 'public', 'index.html'), 'utf8'));
    const script = await fetch(`http://127.0.0.1:${port}/warden-client.js`);
    assert.equal(script.status, 200);
  });

  it('reads its version from package.json', function () {
    const version = execFileSync(process.execPath, [join(app, 'bin', 'warden.js'), '--version'], {
      encoding: 'utf8',
    });
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(version.trim(), pkg.version);
  });

  it('says how to build when dist/ is missing', function () {
    const bare = mkdtempSync(join(tmpdir(), 'warden-unbuilt-'));
    try {
      cpSync(join(app, 'bin'), join(bare, 'bin'), { recursive: true });
      cpSync(join(app, 'package.json'), join(bare, 'package.json'));
      const run = spawnSync(process.execPath, [join(bare, 'bin', 'warden.js'), '--version'], {
        encoding: 'utf8',
      });
      assert.equal(run.status, 1);
      assert.match(run.stderr, /no build in dist\/ \(run `npm run build`/);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});

/**
 * scripts/ensure-deps.js (prestart, pretest, and the test helpers before they spawn a role) on a
 * small project of its own: the repository's tsconfigs, node_modules and two source files.
 */
describe('scripts/ensure-deps.js: builds dist/ only when it is missing or stale', function () {
  this.timeout(120_000);
  let project: string;
  /** As if the last build had run 10 s ago: whatever was written since is newer than it. */
  const buildAged = () => {
    const stamp = join(project, 'dist', '.build-stamp');
    const at = new Date(statSync(stamp).mtimeMs - 10_000);
    utimesSync(stamp, at, at);
  };
  const ensure = () => {
    const run = spawnSync(process.execPath, [join(project, 'scripts', 'ensure-deps.js')], {
      encoding: 'utf8',
    });
    return { status: run.status, output: run.stdout + run.stderr };
  };
  const source = (name: string) => join(project, 'errors', name);
  const built = (name: string) => join(project, 'dist', 'errors', name);

  before(function () {
    project = mkdtempSync(join(tmpdir(), 'warden-ensure-'));
    mkdirSync(join(project, 'scripts'));
    mkdirSync(join(project, 'errors'));
    cpSync(join(ROOT, 'scripts', 'ensure-deps.js'), join(project, 'scripts', 'ensure-deps.js'));
    for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) {
      cpSync(join(ROOT, file), join(project, file));
    }
    symlinkSync(join(ROOT, 'node_modules'), join(project, 'node_modules'));
    writeFileSync(source('a.ts'), "import { b } from './b.ts';\nexport const a: string = `a${b}`;\n");
    writeFileSync(source('b.ts'), "export const b: string = 'b';\n");
    // Written an hour ago: a test makes exactly the change it names newer than the last build.
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (const path of ['tsconfig.json', 'tsconfig.build.json', 'errors', 'errors/a.ts', 'errors/b.ts']) {
      utimesSync(join(project, path), hourAgo, hourAgo);
    }
  });

  after(function () {
    if (project !== undefined) rmSync(project, { recursive: true, force: true });
  });

  it('builds a fresh clone, rewriting the .ts import extensions', function () {
    const run = ensure();
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, /building dist\/ \(no build yet\)/);
    assert.match(readFileSync(built('a.js'), 'utf8'), /from '\.\/b\.js'|from "\.\/b\.js"/);
  });

  it('does nothing when nothing changed', function () {
    const before = statSync(built('a.js')).mtimeMs;
    const run = ensure();
    assert.deepEqual(run, { status: 0, output: '' });
    assert.equal(statSync(built('a.js')).mtimeMs, before);
  });

  it('rebuilds after a source changed', function () {
    writeFileSync(source('b.ts'), "export const b: string = 'B';\n");
    buildAged();
    const run = ensure();
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, /\(errors\/b\.ts changed\)/);
    assert.match(readFileSync(built('b.js'), 'utf8'), /'B'/);
    assert.deepEqual(ensure(), { status: 0, output: '' });
  });

  it('rebuilds after a tsconfig changed', function () {
    buildAged();
    const now = new Date();
    utimesSync(join(project, 'tsconfig.json'), now, now);
    assert.match(ensure().output, /\(tsconfig\.json changed\)/);
  });

  it('removes the output of a source that is gone', function () {
    writeFileSync(source('a.ts'), "export const a: string = 'a';\n");
    rmSync(source('b.ts'));
    const run = ensure();
    assert.equal(run.status, 0, run.output);
    assert.match(run.output, /\(errors\/b\.ts is gone\)/);
    assert.equal(existsSync(built('b.js')), false);
    assert.equal(existsSync(built('a.js')), true);
  });

  it('fails on a type error, keeps the previous output, and tries again next time', function () {
    writeFileSync(source('a.ts'), 'export const a: string = 1;\n');
    buildAged();
    const previous = readFileSync(built('a.js'), 'utf8');
    const failed = ensure();
    assert.notEqual(failed.status, 0);
    assert.match(failed.output, /TS2322/);
    assert.equal(readFileSync(built('a.js'), 'utf8'), previous);
    const again = ensure();
    assert.notEqual(again.status, 0);
    assert.match(again.output, /building dist\//);
  });
});
