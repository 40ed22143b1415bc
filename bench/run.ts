/**
 * `npm run bench`: runs every benchmark and writes bench/results/bench-<date>.{json,md} (and
 * latest.{json,md}). Options: --only renewal|revocation|login-flood|storm|socket-flood|oidc|stacks,
 * --sockets N, --waves N, --rounds N, --cli-rounds N, --workers N, --brokers N, --storm-sockets N,
 * --storm-rounds N, --flood-sockets N, --flood-seconds N, --oidc-connects N, --oidc-rounds N;
 * for the side-by-side stacks: --quick (one short round), --stack-rounds N, --stacks ID,ID,...,
 * --warden-env KEY=VALUE,... (passed to Warden's stacks only), --cpu-prof DIR (a V8 CPU profile of
 * every server process of every stack, written as it exits).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runInterruptActions } from './lib/cleanup.ts';
import { loadAverage, machineInfo, openFileLimit } from './lib/machine.ts';
import { renderMarkdown, type BenchReport } from './report.ts';
import { RENEWAL_DEFAULTS, runRenewalStall } from './renewal/stall.ts';
import { REVOCATION_DEFAULTS, runRevocationPropagation } from './revocation/propagation.ts';
import { LOGIN_FLOOD_DEFAULTS, runLoginFlood } from './login-flood/flood.ts';
import { STORM_DEFAULTS, runReconnectStorm } from './reconnect-storm/storm.ts';
import { runSocketFlood, SOCKET_FLOOD_DEFAULTS } from './socket-flood/flood.ts';
import { OIDC_DEFAULTS, runOidcBench } from './oidc/oidc.ts';
import { runStacksBench, STACKS_DEFAULTS, STACKS_QUICK } from './stacks/side-by-side.ts';
import { STACK_IDS, type StackId } from './stacks/stacks.ts';
import { renderBenchmarks } from './stacks/benchmarks-md.ts';

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const ROOT = fileURLToPath(new URL('../', import.meta.url));
/** File descriptors the process needs beyond one per socket (store, listeners, IPC, libuv). */
const FD_MARGIN = 1_000;

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    sockets: { type: 'string' },
    waves: { type: 'string' },
    rounds: { type: 'string' },
    'cli-rounds': { type: 'string' },
    workers: { type: 'string' },
    brokers: { type: 'string' },
    'storm-sockets': { type: 'string' },
    'storm-rounds': { type: 'string' },
    'flood-sockets': { type: 'string' },
    'flood-seconds': { type: 'string' },
    'oidc-connects': { type: 'string' },
    'oidc-rounds': { type: 'string' },
    quick: { type: 'boolean' },
    'stack-rounds': { type: 'string' },
    stacks: { type: 'string' },
    'warden-env': { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});

function count(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
}

const SCENARIOS = [
  'renewal',
  'revocation',
  'login-flood',
  'storm',
  'socket-flood',
  'oidc',
  'stacks',
] as const;
const only = values.only;
if (only !== undefined && !(SCENARIOS as readonly string[]).includes(only)) {
  throw new Error(`--only must be one of ${SCENARIOS.join(', ')}`);
}
const runs = (scenario: (typeof SCENARIOS)[number]) => only === undefined || only === scenario;
const renewalOptions = {
  ...RENEWAL_DEFAULTS,
  sockets: count('sockets', values.sockets, RENEWAL_DEFAULTS.sockets),
  waves: count('waves', values.waves, RENEWAL_DEFAULTS.waves),
};
const revocationOptions = {
  ...REVOCATION_DEFAULTS,
  rounds: count('rounds', values.rounds, REVOCATION_DEFAULTS.rounds),
  cliRounds: count('cli-rounds', values['cli-rounds'], REVOCATION_DEFAULTS.cliRounds),
  workers: count('workers', values.workers, REVOCATION_DEFAULTS.workers),
  brokers: count('brokers', values.brokers, REVOCATION_DEFAULTS.brokers),
};
const floodOptions = {
  ...SOCKET_FLOOD_DEFAULTS,
  sockets: count('flood-sockets', values['flood-sockets'], SOCKET_FLOOD_DEFAULTS.sockets),
  floodMs: count('flood-seconds', values['flood-seconds'], SOCKET_FLOOD_DEFAULTS.floodMs / 1000) * 1000,
};
const oidcOptions = {
  ...OIDC_DEFAULTS,
  connects: count('oidc-connects', values['oidc-connects'], OIDC_DEFAULTS.connects),
  rounds: count('oidc-rounds', values['oidc-rounds'], OIDC_DEFAULTS.rounds),
};

/** --warden-env KEY=VALUE,KEY=VALUE: environment for Warden's stacks (a value may not hold a comma). */
function wardenEnv(raw: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of (raw ?? '').split(',').filter(Boolean)) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(pair.trim());
    if (match === null) throw new Error(`--warden-env: "${pair}" is not KEY=VALUE`);
    env[match[1] as string] = match[2] as string;
  }
  return env;
}

function stackList(raw: string | undefined): readonly StackId[] {
  if (raw === undefined) return STACK_IDS;
  const ids = raw.split(',').map((id) => id.trim());
  for (const id of ids) {
    if (!(STACK_IDS as readonly string[]).includes(id))
      throw new Error(`--stacks: ${id} is not one of ${STACK_IDS.join(', ')}`);
  }
  return ids as StackId[];
}

const stackBase = values.quick === true ? STACKS_QUICK : STACKS_DEFAULTS;
const stacksOptions = {
  ...stackBase,
  rounds: count('stack-rounds', values['stack-rounds'], stackBase.rounds),
  stacks: stackList(values.stacks),
  wardenEnv: wardenEnv(values['warden-env']),
  cpuProfileDir: values['cpu-prof'] === undefined ? null : resolve(values['cpu-prof']),
};

const stormOptions = {
  ...STORM_DEFAULTS,
  sockets: count('storm-sockets', values['storm-sockets'], STORM_DEFAULTS.sockets),
  rounds: count('storm-rounds', values['storm-rounds'], STORM_DEFAULTS.rounds),
};

/**
 * The worker (here) and the client process (forked, inheriting the limit) each hold one
 * descriptor per socket. Node raises its soft RLIMIT_NOFILE to the hard limit at start-up, so
 * the hard limit is what counts; raising that needs root (`ulimit -Hn`), which is left to the user.
 */
function ensureFileLimit(needed: number): void {
  const limit = openFileLimit();
  if (limit === null || limit.soft >= needed) return;
  throw new Error(
    `the renewal bench needs ${needed} open files per process; the limit is ${limit.soft} (hard ${limit.hard}). ` +
      `Raise it (ulimit -n ${needed}; as root if above the hard limit) or pass --sockets ${Math.max(1, limit.soft - FD_MARGIN)}.`,
  );
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

const message = (error: unknown) => (error instanceof Error ? (error.stack ?? error.message) : String(error));
const log = (section: string) => (line: string) => console.log(`[bench ${section}] ${line}`);

async function main(): Promise<number> {
  if (runs('renewal')) ensureFileLimit(renewalOptions.sockets + FD_MARGIN);
  const started = Date.now();
  const machine = machineInfo();
  let failed = false;

  let renewal: BenchReport['renewal'] = null;
  if (runs('renewal')) {
    try {
      renewal = await runRenewalStall(renewalOptions, log('renewal'));
    } catch (error) {
      failed = true;
      renewal = { error: message(error) };
      log('renewal')(`failed: ${message(error)}`);
    }
  }

  let revocation: BenchReport['revocation'] = null;
  if (runs('revocation')) {
    try {
      revocation = await runRevocationPropagation(revocationOptions, log('revocation'));
    } catch (error) {
      failed = true;
      revocation = { error: message(error) };
      log('revocation')(`failed: ${message(error)}`);
    }
  }

  let loginFlood: BenchReport['loginFlood'] = null;
  if (runs('login-flood')) {
    try {
      loginFlood = await runLoginFlood(LOGIN_FLOOD_DEFAULTS, log('login-flood'));
    } catch (error) {
      failed = true;
      loginFlood = { error: message(error) };
      log('login-flood')(`failed: ${message(error)}`);
    }
  }

  let storm: BenchReport['storm'] = null;
  if (runs('storm')) {
    try {
      storm = await runReconnectStorm(stormOptions, log('storm'));
    } catch (error) {
      failed = true;
      storm = { error: message(error) };
      log('storm')(`failed: ${message(error)}`);
    }
  }

  let socketFlood: BenchReport['socketFlood'] = null;
  if (runs('socket-flood')) {
    try {
      socketFlood = await runSocketFlood(floodOptions, log('socket-flood'));
    } catch (error) {
      failed = true;
      socketFlood = { error: message(error) };
      log('socket-flood')(`failed: ${message(error)}`);
    }
  }

  let oidc: BenchReport['oidc'] = null;
  if (runs('oidc')) {
    try {
      oidc = await runOidcBench(oidcOptions, log('oidc'));
    } catch (error) {
      failed = true;
      oidc = { error: message(error) };
      log('oidc')(`failed: ${message(error)}`);
    }
  }

  let stacks: BenchReport['stacks'] = null;
  if (runs('stacks')) {
    try {
      stacks = await runStacksBench(stacksOptions, log('stacks'));
    } catch (error) {
      failed = true;
      stacks = { error: message(error) };
      log('stacks')(`failed: ${message(error)}`);
    }
  }

  const report: BenchReport = {
    machine,
    gitCommit: gitCommit(),
    runSeconds: Math.round((Date.now() - started) / 100) / 10,
    loadAverageAtEnd: loadAverage(),
    renewal,
    revocation,
    loginFlood,
    storm,
    socketFlood,
    oidc,
    stacks,
  };
  const markdown = renderMarkdown(report);
  const json = JSON.stringify(report, null, 2) + '\n';
  const stamp = machine.date.replace(/[:.]/g, '-');
  await mkdir(RESULTS, { recursive: true });
  await writeFile(`${RESULTS}bench-${stamp}.json`, json);
  await writeFile(`${RESULTS}bench-${stamp}.md`, markdown);
  await writeFile(`${RESULTS}latest.json`, json);
  await writeFile(`${RESULTS}latest.md`, markdown);
  console.log('\n' + markdown);
  console.log(`written: bench/results/bench-${stamp}.{json,md} and bench/results/latest.{json,md}`);
  // BENCHMARKS.md follows full runs only: every stack, at least 3 rounds, not --quick.
  if (
    stacks !== null &&
    !('error' in stacks) &&
    values.quick !== true &&
    stacks.options.rounds >= 3 &&
    STACK_IDS.every((id) => stacks.options.stacks.includes(id))
  ) {
    const previous = await readFile(`${ROOT}BENCHMARKS.md`, 'utf8').catch(() => null);
    await writeFile(
      `${ROOT}BENCHMARKS.md`,
      renderBenchmarks(stacks, machine, report.gitCommit, report.loadAverageAtEnd, previous),
    );
    console.log('written: BENCHMARKS.md');
  }
  return failed ? 1 : 0;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`[bench] ${signal}: stopping the processes the bench started`);
    runInterruptActions();
    process.exit(130);
  });
}
process.once('uncaughtException', (error) => {
  console.error(`[bench] uncaught: ${message(error)}`);
  runInterruptActions();
  process.exit(1);
});

// Exit explicitly: a worker's or client library's stray handle must not keep the bench alive.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(message(error));
    process.exit(1);
  },
);
