// Runs before `npm start` and `npm test` (the prestart/pretest scripts): on a fresh clone it
// installs the locked dependencies first, so that the README's set-up stays two commands; then it
// builds the browser client (client/dist/, not in git) when it is missing or older than its sources.
// Plain JavaScript with no dependencies: it runs before anything is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function run(command, args) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
  console.log('warden: first run, installing dependencies (npm ci)...');
  run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['ci', '--no-audit', '--no-fund']);
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

const client = join(root, 'client');
const built = join(client, 'dist', 'warden-client.js');
const sources = Math.max(
  newest(join(client, 'src')),
  statSync(join(client, 'scripts', 'build.js')).mtimeMs,
  statSync(join(client, 'package.json')).mtimeMs,
);
if (!existsSync(built) || statSync(built).mtimeMs < sources) {
  console.log('warden: building the browser client (client/dist)...');
  run(process.execPath, [join(client, 'scripts', 'build.js')]);
}
