import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connectClient, rejection, socketLogin, type TestClient } from '../../helpers/clients.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { freePorts, runWarden, type RunningProcess } from '../../helpers/processes.ts';
import { createStoredUser, testEnv, testSecrets } from '../../helpers/warden.ts';

/**
 * Logs, audit trail and metrics of a real `warden start` cluster (2 workers behind node:cluster,
 * a broker, the state server): a scripted session of known secrets, then
 * - the supervisor's /metrics (the sum of both workers) moved by exactly what the session did;
 * - every line the cluster and the admin CLI printed is checked for every secret used;
 * - the audit trail has one line per event, with the fields an operator needs;
 * - every metric the Grafana dashboard queries exists in the scrape.
 */

const DASHBOARD = fileURLToPath(new URL('../../../kubernetes/grafana-dashboard.json', import.meta.url));

type Labels = Record<string, string>;

interface Scrape {
  readonly text: string;
  /** The value of the series `name{labels}` (exactly those labels), or 0 when absent. */
  value(name: string, labels?: Labels): number;
  /** Names declared with `# TYPE`. */
  readonly names: ReadonlySet<string>;
}

function parseLabels(text: string | undefined): Labels {
  const labels: Labels = {};
  if (text === undefined || text === '') return labels;
  for (const match of text.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
    labels[match[1] as string] = match[2] as string;
  return labels;
}

function sameLabels(a: Labels, b: Labels): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

async function scrape(port: number): Promise<Scrape> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await response.text();
  const series: Array<{ name: string; labels: Labels; value: number }> = [];
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type !== null) names.add(type[1] as string);
    const sample = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (sample !== null)
      series.push({ name: sample[1] as string, labels: parseLabels(sample[2]), value: Number(sample[3]) });
  }
  return {
    text,
    names,
    value: (name, labels = {}) =>
      series.find((each) => each.name === name && sameLabels(each.labels, labels))?.value ?? 0,
  };
}

describe('operations: logs, audit trail and /metrics of a 2-worker cluster', function () {
  this.timeout(180_000);
  let db: { url: string; drop(): Promise<void> };
  let warden: RunningProcess;
  let port: number;
  let metricsPort: number;
  let env: Record<string, string>;
  const secrets = testSecrets();
  const username = 'ops-user';
  const password = 'ops-password-4f9a2c';
  const victim = 'ops-victim';
  const victimPassword = 'victim-password-77e1';
  const wrongPassword = 'wrong-password-0b3d';
  const newPassword = 'changed-password-9c5e';
  const tokens: string[] = [];
  const clients: TestClient[] = [];
  const cliOutput: string[] = [];

  before(async function () {
    db = await createTestDatabase();
    await createStoredUser(db.url, { username, password, publish: ['chat.*'], subscribe: ['chat.*'] });
    await createStoredUser(db.url, { username: victim, password: victimPassword });
    const [appPort, metrics, statePort, brokerPort] = await freePorts(4);
    port = appPort as number;
    metricsPort = metrics as number;
    env = {
      ...testEnv(db.url, { PORT: String(port), HOST: '127.0.0.1' }),
      WORKERS: '2',
      METRICS_PORT: String(metricsPort),
      SCC_STATE_SERVER_PORT: String(statePort),
      SCC_BROKER_SERVER_PORT: String(brokerPort),
      AUTH_KEY: secrets.authKey,
      SCC_AUTH_KEY: secrets.sccAuthKey,
      // As much as Warden ever prints: every line is checked for secrets.
      LOG_LEVEL: 'debug',
      // Two failures per (username, address); the third attempt is refused.
      LOGIN_FAILURE_LIMIT: '2',
    };
    warden = runWarden(['start'], env);
    await warden.waitFor(/Warden is ready/, 90_000);
  });

  after(async function () {
    for (const client of clients.splice(0)) client.socket.disconnect();
    await warden?.stop('SIGTERM');
    await db?.drop();
  });

  async function connect(options: { token?: string; origin?: string } = {}) {
    const client = await connectClient(port, options);
    clients.push(client);
    return client;
  }

  async function httpLogin(name: string, secret: string): Promise<{ status: number; token?: string }> {
    const response = await fetch(`http://127.0.0.1:${port}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: name, password: secret }),
    });
    const body = (await response.json()) as { token?: string };
    if (body.token !== undefined) tokens.push(body.token);
    return { status: response.status, ...(body.token === undefined ? {} : { token: body.token }) };
  }

  /** Awaits a condition on the scrape (a revocation reaching the other worker is asynchronous). */
  async function scrapeWhen(condition: (s: Scrape) => boolean, what: string): Promise<Scrape> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const current = await scrape(metricsPort);
      if (condition(current)) return current;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the scrape never showed ${what}`);
  }

  function auditLines(): Array<Record<string, unknown>> {
    return [...warden.output().split('\n'), ...cliOutput.join('\n').split('\n')]
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line.audit === true);
  }

  it('counts a scripted session exactly, summed over both workers, and audits each event', async function () {
    const before = await scrape(metricsPort);
    const delta = (after: Scrape, name: string, labels: Labels = {}) =>
      after.value(name, labels) - before.value(name, labels);

    // Logins over HTTP: a user that does not exist, two wrong passwords, then the limit.
    assert.equal((await httpLogin('ops-nobody', wrongPassword)).status, 401);
    assert.equal((await httpLogin(victim, wrongPassword)).status, 401);
    assert.equal((await httpLogin(victim, wrongPassword)).status, 401);
    assert.equal((await httpLogin(victim, victimPassword)).status, 429);
    const { token } = await httpLogin(username, password);
    assert.ok(token !== undefined);

    // A socket with that token; a refused publish; a subscription.
    const a = await connect({ token });
    assert.equal(a.status.isAuthenticated, true);
    const publish = await rejection(a.socket.invokePublish('news', { text: 'no' }));
    assert.equal(publish.name, 'PublishError');
    await a.socket.subscribe('chat.room').listener('subscribe').once();
    const live = await scrape(metricsPort);
    assert.equal(live.value('warden_connections', { state: 'authenticated' }), 1);
    assert.equal(live.value('warden_subscriptions'), 1);
    assert.equal(live.value('warden_broker_connected'), 2, 'both workers connected to the broker');

    // A socket that logs in itself, is refused an RPC, and logs out.
    const b = await connect();
    assert.equal(b.status.isAuthenticated, false);
    tokens.push(await socketLogin(b, username, password));
    const invoke = await rejection(b.socket.invoke('whoami', {}));
    assert.equal(invoke.name, 'InvokeError');
    await b.socket.invoke('logout', {});

    // A bad token, a foreign Origin, and the HTTP logout of the first token.
    const c = await connect({ token: `${token.slice(0, -4)}AAAA` });
    assert.equal(c.status.authError?.name, 'AuthTokenInvalidError');
    await rejection(connect({ origin: 'http://evil.example' }));
    const deauthenticated = a.socket.listener('deauthenticate').once();
    const logout = await fetch(`http://127.0.0.1:${port}/auth/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(logout.status, 204);
    await deauthenticated;

    const after = await scrapeWhen(
      (s) => delta(s, 'warden_revocation_propagation_seconds_count') >= 2,
      'both revocations on the other worker',
    );
    const expected: Array<[string, Labels, number]> = [
      ['warden_logins_total', { kind: 'password', result: 'failure' }, 3],
      ['warden_logins_total', { kind: 'password', result: 'rate_limited' }, 1],
      ['warden_logins_total', { kind: 'password', result: 'success' }, 2],
      ['warden_login_duration_seconds_count', { kind: 'password' }, 6],
      ['warden_rate_limit_hits_total', { limit: 'login-pair' }, 1],
      ['warden_denials_total', { op: 'publish', reason: 'not-allowed' }, 1],
      ['warden_denials_total', { op: 'invoke', reason: 'not-allowed' }, 1],
      ['warden_handshakes_total', { result: 'authenticated', reason: 'none' }, 1],
      ['warden_handshakes_total', { result: 'unauthenticated', reason: 'none' }, 1],
      ['warden_handshakes_total', { result: 'unauthenticated', reason: 'AuthTokenInvalidError' }, 1],
      ['warden_handshakes_total', { result: 'refused', reason: 'OriginError' }, 1],
      ['warden_revocations_total', { kind: 'token' }, 2],
      ['warden_revocation_propagation_seconds_count', {}, 2],
      ['warden_renewals_total', {}, 0],
    ];
    const moved = expected.map(([name, labels]) => [name, labels, delta(after, name, labels)]);
    assert.deepEqual(moved, expected);
    // Now: three sockets open (a and b logged out, c never in), none authenticated, a kicked out.
    assert.equal(after.value('warden_connections', { state: 'authenticated' }), 0);
    assert.equal(after.value('warden_connections', { state: 'anonymous' }), 3);
    assert.equal(after.value('warden_subscriptions'), 0);
    assert.ok(
      after.value('warden_store_duration_seconds_count', { operation: 'findUserByUsername', result: 'ok' }) >=
        5,
    );
    assert.match(after.text, /^warden_process_cpu_seconds_total \d/m);
    assert.match(after.text, /^warden_nodejs_eventloop_lag_p99_seconds \d/m);

    // The audit trail, one line per event.
    await warden.waitFor(/"event":"revocation".*"by":"http"/, 10_000);
    const audit = auditLines();
    const failed = audit.filter((line) => line.event === 'login_failed');
    assert.deepEqual(
      failed.map((line) => [line.username, line.reason, line.kind, line.address]),
      [
        ['ops-nobody', 'unknown-user', 'password', '127.0.0.1'],
        [victim, 'wrong-password', 'password', '127.0.0.1'],
        [victim, 'wrong-password', 'password', '127.0.0.1'],
      ],
    );
    const limited = audit.filter((line) => line.event === 'rate_limited');
    assert.deepEqual(
      limited.map((line) => [line.username, line.limit]),
      [[victim, 'login-pair']],
    );
    assert.equal(audit.filter((line) => line.event === 'login' && line.username === username).length, 2);
    const denied = audit.filter((line) => line.event === 'denied');
    assert.deepEqual(
      denied.map((line) => [line.op, line.reason, line.channel, line.procedure, line.username]),
      [
        ['publish', 'not-allowed', 'news', null, username],
        ['invoke', 'not-allowed', null, 'whoami', username],
      ],
    );
    assert.deepEqual(
      audit.filter((line) => line.event === 'logout').map((line) => line.by),
      ['socket', 'http'],
    );
    assert.deepEqual(
      audit.filter((line) => line.event === 'revocation').map((line) => [line.kind, line.by]),
      [
        ['token', 'socket'],
        ['token', 'http'],
      ],
    );
    const origin = audit.filter((line) => line.event === 'origin_refused');
    assert.deepEqual(
      origin.map((line) => line.origin),
      ['http://evil.example'],
    );
  });

  it('audits the admin CLI: a permission change and a revocation, by cli', async function () {
    for (const args of [
      ['user', 'set', username, '--password', newPassword, '--publish', 'chat.>'],
      ['user', 'revoke', username],
    ]) {
      const cli = runWarden(args, env);
      const { code } = await cli.exited();
      cliOutput.push(cli.output());
      assert.equal(code, 0, cli.output());
    }
    const audit = auditLines().filter((line) => line.by === 'cli');
    assert.deepEqual(
      audit.map((line) => [line.event, line.username, line.role]),
      [
        ['permissions_changed', username, 'cli'],
        ['revocation', username, 'cli'],
      ],
    );
    assert.deepEqual(audit[0]?.changed, ['publish', 'password']);
  });

  it('never prints a password, token or key: every line of the cluster and the CLI', function () {
    const printed = [warden.output(), ...cliOutput].join('\n');
    assert.ok(printed.split('\n').length > 30, 'the cluster printed its logs');
    const used = {
      password,
      victimPassword,
      wrongPassword,
      newPassword,
      AUTH_KEY: secrets.authKey,
      SCC_AUTH_KEY: secrets.sccAuthKey,
      ...Object.fromEntries(tokens.map((token, i) => [`token ${i}`, token])),
      // A token's signature alone is enough to leak it.
      ...Object.fromEntries(tokens.map((token, i) => [`signature ${i}`, token.split('.')[2] as string])),
    };
    assert.ok(tokens.length >= 2);
    for (const [what, secret] of Object.entries(used))
      assert.equal(printed.includes(secret), false, `${what} was printed`);
  });

  it('queries in the Grafana dashboard only metrics that a real scrape has', async function () {
    const dashboard = readFileSync(DASHBOARD, 'utf8');
    const queried = new Set([...dashboard.matchAll(/\bwarden_[a-z0-9_]+/g)].map((match) => match[0]));
    assert.ok(queried.size >= 15, `the dashboard queries ${queried.size} metrics`);
    const { names } = await scrape(metricsPort);
    const base = (name: string) => name.replace(/_(bucket|sum|count)$/, '');
    const missing = [...queried].filter((name) => !names.has(name) && !names.has(base(name)));
    assert.deepEqual(missing, []);
  });
});
