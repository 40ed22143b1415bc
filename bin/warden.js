#!/usr/bin/env node
// Entry point of the `warden` command: runs the compiled build in dist/ (no TypeScript loader at
// run time). `npm run build` makes it; `npm start` and `npm test` make it when it is missing or stale.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/server/cli.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(
    'warden: no build in dist/ (run `npm run build`, or `npm start` to build and start)\n',
  );
  process.exit(1);
}
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
// A role that failed to start may leave handles open (a pool, a timer): exit rather than linger.
if (code !== 0) process.exit(code);
