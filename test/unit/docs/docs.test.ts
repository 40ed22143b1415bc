import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../../../config/index.ts';
import { ERRORS } from '../../../errors/catalogue.ts';
import { CloseCodes } from '../../../errors/close-codes.ts';
import { createHttpApp, type HttpAppDeps } from '../../../http/app.ts';
import { silentLogger } from '../../../log/logger.ts';
import { main, USAGE } from '../../../server/cli.ts';
import { parseUserCommand, USER_USAGE } from '../../../admin/user-commands.ts';
import { parseRoleCommand, ROLE_USAGE } from '../../../admin/role-commands.ts';
import { UsageError } from '../../../admin/validation.ts';
import { createProcedures, type ProcedureDeps } from '../../../sockets/procedures.ts';
import { AUTH_ENDED_EVENT } from '../../../sockets/auth-lifecycle.ts';

/**
 * Keeps docs/ current with the code: every list below is derived from the modules themselves, so
 * a variable, route, error, close code, procedure or command added without its line in docs/
 * fails here.
 */

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const doc = (name: string) => readFileSync(join(root, 'docs', name), 'utf8');

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A Markdown table row whose first cell is exactly `` `first` ``, and whose next cells start as given. */
function hasRow(markdown: string, cells: readonly string[]): boolean {
  const pattern = cells.map((cell) => ` ${cell} `).join('\\|');
  return new RegExp(`^\\|${pattern}\\|`, 'm').test(markdown);
}

const code = (text: string) => escape(`\`${text}\``);

/**
 * The environment variables the configuration reads: loadConfig runs on an environment that
 * records every key it is asked for, in production (so that no key file is generated), and each
 * secret it asks for in vain is supplied for the next round.
 */
function configVariables(): string[] {
  const given: Record<string, string> = { NODE_ENV: 'production' };
  const read = new Set<string>();
  const env = new Proxy(given, {
    get(target, key) {
      if (typeof key === 'string') read.add(key);
      return Reflect.get(target, key);
    },
  });
  for (let round = 0; round < 10; round++) {
    try {
      loadConfig(env);
      return [...read].sort();
    } catch (error) {
      if (!(error instanceof ConfigError) || Object.hasOwn(given, error.variable)) throw error;
      given[error.variable] = `${error.variable.toLowerCase()}-`.padEnd(48, 'k');
    }
  }
  throw new Error('loadConfig kept asking for more variables');
}

interface RouterLayer {
  readonly route?: { readonly path: unknown; readonly methods: Record<string, boolean> };
  readonly handle: unknown;
  readonly rawPath?: unknown;
}

/** `METHOD /path` of every route registered on an Express app (or router), mount paths included. */
function routesOf(stack: readonly RouterLayer[], prefix = ''): string[] {
  const routes: string[] = [];
  for (const layer of stack) {
    if (layer.route !== undefined) {
      assert.equal(typeof layer.route.path, 'string', 'a route path that is not a string');
      for (const method of Object.keys(layer.route.methods))
        routes.push(`${method.toUpperCase()} ${prefix}${String(layer.route.path)}`);
      continue;
    }
    const inner = (layer.handle as { stack?: unknown }).stack;
    if (!Array.isArray(inner)) continue;
    assert.equal(typeof layer.rawPath, 'string', 'a router mounted on a path that is not a string');
    const mount = layer.rawPath === '/' ? '' : String(layer.rawPath);
    routes.push(...routesOf(inner as RouterLayer[], prefix + mount));
  }
  return routes;
}

/** Every route of the HTTP app as a worker builds it, with OpenID Connect on (its routes included). */
function httpRoutes(): string[] {
  const unused = {} as never;
  const deps: HttpAppDeps = {
    store: unused,
    acceptor: unused,
    revoke: async () => {},
    log: silentLogger,
    clientAddress: () => '127.0.0.1',
    originGuard: () => {},
    allowedOrigins: null,
    brokerReady: () => true,
    accepting: () => true,
    oidc: { verifier: unused, replays: unused, sessionMaxAge: 60, now: Date.now },
  };
  const app = createHttpApp(deps) as unknown as { router: { stack: RouterLayer[] } };
  return routesOf(app.router.stack);
}

/** The command lines in a usage text: the first words of each indented line, and `| other <arg>` alternatives. */
function usageCommands(usage: string): string[] {
  const commands: string[] = [];
  for (const line of usage.split('\n')) {
    const match = /^ {2}(\S+(?: [a-z][a-z-]*| \.\.\.)?)(?: {2,}| <| \(|$)/.exec(line);
    if (match?.[1] === undefined) continue;
    commands.push(match[1]);
    for (const alternative of line.matchAll(/\| ([a-z][a-z-]*) </g)) commands.push(alternative[1] as string);
  }
  return commands;
}

/** Every `warden ...` command: the top level, with `user ...` and `role ...` expanded. */
function cliCommands(): string[] {
  const commands: string[] = [];
  for (const command of usageCommands(USAGE)) {
    if (command === 'user ...') commands.push(...usageCommands(USER_USAGE).map((c) => `user ${c}`));
    else if (command === 'role ...') commands.push(...usageCommands(ROLE_USAGE).map((c) => `role ${c}`));
    else commands.push(command);
  }
  return commands;
}

const flagsIn = (usage: string) => [...new Set([...usage.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]))];

/** Runs `warden ...args` in-process with its stderr captured; returns the exit code and stderr. */
async function runCli(args: string[]): Promise<{ code: number; stderr: string }> {
  const write = process.stderr.write;
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await main(args), stderr };
  } finally {
    process.stderr.write = write;
  }
}

/** Every file of the repository that is not a dependency, build output or local data. */
function productFiles(dir = root): string[] {
  const files: string[] = [];
  for (const name of readdirSync(dir)) {
    if (['node_modules', '.git', 'dist', 'data'].includes(name)) continue;
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) files.push(...productFiles(path));
    else if (stat.isFile() && stat.size < 5 * 1024 * 1024) files.push(path);
  }
  return files;
}

/** GitHub's anchor of a Markdown heading. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

describe('docs', function () {
  it('lists every environment variable the configuration reads, one table row each', function () {
    const variables = configVariables();
    // The walk must find the variables, or the check below proves nothing.
    for (const known of ['PORT', 'AUTH_KEY', 'AUTH_KEY_FILE', 'SCC_AUTH_KEY_FILE', 'OIDC_ISSUER'])
      assert.ok(variables.includes(known), `the configuration was not seen reading ${known}`);
    const markdown = doc('configuration.md');
    const missing = variables.filter((name) => !hasRow(markdown, [code(name)]));
    assert.deepEqual(missing, [], 'variables without a row in docs/configuration.md');
  });

  it('lists every route registered in http/, one table row each', function () {
    const routes = httpRoutes();
    for (const known of ['POST /auth/login', 'GET /healthz', 'POST /auth/oidc/backchannel-logout'])
      assert.ok(routes.includes(known), `the walk over the app did not find ${known}`);
    const markdown = doc('http.md');
    const missing = routes.filter((route) => !hasRow(markdown, [code(route)]));
    assert.deepEqual(missing, [], 'routes without a row in docs/http.md');
  });

  it('lists every catalogue entry with its code and HTTP status, and every close code', function () {
    const markdown = doc('errors.md');
    const missing = Object.entries(ERRORS)
      .filter(([name, entry]) => !hasRow(markdown, [code(name), code(entry.code), String(entry.status)]))
      .map(([name]) => name);
    assert.deepEqual(missing, [], 'catalogue entries without a matching row in docs/errors.md');
    const closeCodes = Object.entries(CloseCodes)
      .filter(([constant, value]) => !hasRow(markdown, [code(String(value)), code(constant)]))
      .map(([constant]) => constant);
    assert.deepEqual(closeCodes, [], 'close codes without a row in docs/errors.md');
  });

  it('lists every socket procedure and the auth-ended event in docs/websocket.md', function () {
    const procedures = [...createProcedures({} as ProcedureDeps).keys()];
    assert.ok(procedures.includes('login'));
    const markdown = doc('websocket.md');
    const missing = [...procedures, AUTH_ENDED_EVENT].filter((name) => !hasRow(markdown, [code(name)]));
    assert.deepEqual(missing, [], 'procedures or events without a row in docs/websocket.md');
  });

  it('lists every CLI command and flag of the usage texts in docs/cli.md', function () {
    const commands = cliCommands();
    for (const known of ['start', 'auth-key reset', 'user add', 'user enable', 'role remove', '--version'])
      assert.ok(commands.includes(known), `the usage texts did not yield ${known}`);
    const markdown = doc('cli.md');
    const missing = commands.filter(
      (command) => !new RegExp(`^\\| \`warden ${escape(command)}(?: [^\`|]*)?\` \\|`, 'm').test(markdown),
    );
    assert.deepEqual(missing, [], 'commands without a row in docs/cli.md');
    const flags = [...flagsIn(USER_USAGE), ...flagsIn(ROLE_USAGE)];
    assert.ok(flags.includes('--password-stdin') && flags.includes('--no-tenant'));
    const undocumented = flags.filter(
      (flag) => !new RegExp(`^\\| \`${escape(flag)}(?: [A-Z]+)?\` \\|`, 'm').test(markdown),
    );
    assert.deepEqual(undocumented, [], 'flags without a row in docs/cli.md');
  });

  it('finds every command of the usage texts known to the dispatcher (the usage is not stale)', async function () {
    const unknownOption = '--no-such-option-for-the-docs-test';
    for (const command of cliCommands()) {
      const [group, sub] = command.split(' ');
      if (command === '--help') continue;
      if (group === 'user' || group === 'role') {
        const parse = group === 'user' ? parseUserCommand : parseRoleCommand;
        const args = [sub as string, unknownOption];
        await assert.rejects(
          async () => parse(args, { passwordMinLength: 10, readStdin: async () => '' }),
          (error: unknown) => error instanceof UsageError && /unknown option/.test(error.message),
          `warden ${command} is not dispatched`,
        );
        continue;
      }
      const { code: exit, stderr } = await runCli([...command.split(' '), unknownOption]);
      assert.equal(exit, 2, `warden ${command}: ${stderr}`);
      assert.match(stderr, /unknown option/, `warden ${command} is not dispatched: ${stderr}`);
    }
  });

  it('has working relative links and anchors between the docs and the README', function () {
    const files = [
      join(root, 'README.md'),
      ...readdirSync(join(root, 'docs')).map((n) => join(root, 'docs', n)),
    ];
    const anchors = new Map<string, Set<string>>();
    const anchorsOf = (path: string) => {
      let set = anchors.get(path);
      if (set === undefined) {
        const headings = [...readFileSync(path, 'utf8').matchAll(/^#{1,6} (.+)$/gm)];
        set = new Set(headings.map((h) => anchorOf(h[1] as string)));
        anchors.set(path, set);
      }
      return set;
    };
    const broken: string[] = [];
    for (const file of files.filter((f) => f.endsWith('.md'))) {
      const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (target === undefined || /^[a-z]+:/.test(target)) continue;
        const [path, anchor] = target.split('#');
        const resolved = path === '' || path === undefined ? file : resolve(dirname(file), path);
        let ok: boolean;
        try {
          ok = statSync(resolved).isFile() || statSync(resolved).isDirectory();
        } catch {
          ok = false;
        }
        if (ok && anchor !== undefined && resolved.endsWith('.md')) ok = anchorsOf(resolved).has(anchor);
        if (!ok) broken.push(`${relative(root, file)}: ${target}`);
      }
    }
    assert.deepEqual(broken, [], 'broken links');
  });

  it('has tables whose rows have as many cells as their header (a stray | splits a row)', function () {
    const cellsOf = (row: string) => row.replace(/\\\|/g, '').split('|').length;
    const broken: string[] = [];
    for (const name of readdirSync(join(root, 'docs')).filter((n) => n.endsWith('.md'))) {
      const lines = doc(name).split('\n');
      for (let i = 0; i + 1 < lines.length; i++) {
        if (!(lines[i] as string).startsWith('|') || !/^\|(?:\s*:?-+:?\s*\|)+$/.test(lines[i + 1] as string))
          continue;
        const cells = cellsOf(lines[i] as string);
        for (let j = i + 2; j < lines.length && (lines[j] as string).startsWith('|'); j++)
          if (cellsOf(lines[j] as string) !== cells) broken.push(`docs/${name}:${j + 1}`);
      }
    }
    assert.deepEqual(broken, [], 'table rows with the wrong number of cells');
  });

  it('never refers the reader to a document outside the repository', function () {
    // Built from parts so that this file does not name them itself.
    const outside = ['shared' + '/', 'CONTRACT' + '.md'];
    const offending: string[] = [];
    for (const file of productFiles()) {
      const content = readFileSync(file);
      if (content.includes(0)) continue; // binary
      const text = content.toString('utf8');
      for (const word of outside) if (text.includes(word)) offending.push(`${relative(root, file)}: ${word}`);
    }
    assert.deepEqual(offending, [], 'files that mention a document outside the repository');
  });
});
