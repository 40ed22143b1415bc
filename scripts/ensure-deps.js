// Runs before `npm start` and `npm test` (the prestart/pretest scripts), and before the tests and
// benches spawn `bin/warden.js`: on a fresh clone it installs the locked dependencies first, then
// compiles the sources into dist/ when the build is missing or stale (and the browser client into
// client/dist/), so that the README's set-up stays two commands. Plain JavaScript with no dependencies: it runs before anything is installed.
//
// Stale means: a source file, a source folder (a file added, renamed or removed) or a tsconfig is
// newer than dist/.build-stamp, or the set of source files differs from the one the stamp lists.
// Checking that takes a few milliseconds; `tsc` itself needs seconds even when nothing changed.
// A source file that is gone has its output removed too (tsc would leave it in dist/).
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
  console.log('warden: first run, installing dependencies (npm ci)...');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['ci', '--no-audit', '--no-fund'], { stdio: 'inherit', cwd: root });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const BUILD_CONFIG = 'tsconfig.build.json';
const dist = join(root, 'dist');
const stampPath = join(dist, '.build-stamp');

/** Every path under `dir` (folders too, their mtime changes when an entry is added or removed). */
function walk(dir, into) {
  into.push(dir);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, into);
    else if (entry.isFile() && entry.name.endsWith('.ts')) into.push(path);
  }
  return into;
}

function inputs() {
  const { include } = JSON.parse(readFileSync(join(root, BUILD_CONFIG), 'utf8'));
  const paths = [join(root, 'tsconfig.json'), join(root, BUILD_CONFIG)];
  for (const entry of include) {
    const path = join(root, entry);
    if (!existsSync(path)) continue;
    // An entry is a folder, or one file (the protocol module shared with the browser client).
    if (statSync(path).isFile()) paths.push(path);
    else walk(path, paths);
  }
  return paths;
}

function readStamp() {
  try {
    return { mtimeMs: statSync(stampPath).mtimeMs, files: JSON.parse(readFileSync(stampPath, 'utf8')).files };
  } catch {
    return null;
  }
}

const startedAt = new Date();
const paths = inputs();
const files = paths.filter((path) => path.endsWith('.ts')).map((path) => relative(root, path));
const stamp = readStamp();

/** Why dist/ needs a build, or null when it is up to date. */
function staleBecause() {
  if (stamp === null) return 'no build yet';
  const gone = stamp.files.find((file) => !files.includes(file));
  if (gone !== undefined) return `${gone} is gone`;
  const added = files.find((file) => !stamp.files.includes(file));
  if (added !== undefined) return `${added} is new`;
  const newer = paths.find((path) => statSync(path).mtimeMs > stamp.mtimeMs);
  return newer === undefined ? null : `${relative(root, newer) || '.'} changed`;
}

const reason = staleBecause();
if (reason !== null) {
  console.log(`warden: building dist/ (${reason}): tsc -p ${BUILD_CONFIG}`);
  const removed = stamp === null ? [] : stamp.files.filter((file) => !files.includes(file));
  for (const file of removed) rmSync(join(dist, file.replace(/\.ts$/, '.js')), { force: true });
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) {
    console.error('warden: cannot build dist/: typescript is not installed (npm ci installs it)');
    process.exit(1);
  }
  const result = spawnSync(process.execPath, [tsc, '-p', BUILD_CONFIG], { stdio: 'inherit', cwd: root });
  if (result.status !== 0) {
    console.error('warden: the build failed (see above); dist/ is left as it was');
    process.exit(result.status ?? 1);
  }
  mkdirSync(dirname(stampPath), { recursive: true });
  writeFileSync(stampPath, JSON.stringify({ files }) + '\n');
  // Dated when the build began: a source saved while tsc ran is newer, so the next run rebuilds.
  utimesSync(stampPath, startedAt, startedAt);
}

/** Newest modification time (ms) of the files under `dir`. */
function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

// The browser client (client/dist/, not in git) is built when it is missing or older than its sources.
const client = join(root, 'client');
const built = join(client, 'dist', 'warden-client.js');
const hasClient = existsSync(join(client, 'scripts', 'build.js'));
const clientSources = !hasClient
  ? 0
  : Math.max(
      newest(join(client, 'src')),
      statSync(join(client, 'scripts', 'build.js')).mtimeMs,
      statSync(join(client, 'package.json')).mtimeMs,
    );
if (hasClient && (!existsSync(built) || statSync(built).mtimeMs < clientSources)) {
  console.log('warden: building the browser client (client/dist)...');
  const result = spawnSync(process.execPath, [join(client, 'scripts', 'build.js')], {
    stdio: 'inherit',
    cwd: root,
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
