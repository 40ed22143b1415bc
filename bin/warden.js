#!/usr/bin/env node
// Entry point of the `warden` command: loads the TypeScript sources through tsx's loader.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../server/cli.ts');
const code = await main(process.argv.slice(2));
// A role that failed to start may leave handles open (a pool, a timer): exit rather than linger.
if (code !== 0) process.exit(code);
