import assert from 'node:assert/strict';
import { childLogger, createLogger, type Logger } from '../../../log/logger.ts';
import { messageOf, renderLine } from '../../../log/pretty.ts';
import { isSecretName, sanitizeFields, scrubText, serializeError } from '../../../log/redact.ts';
import { WardenError } from '../../../errors/catalogue.ts';

/** A JWT-shaped string, as Warden's tokens are. */
const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1MSIsInVzZXJuYW1lIjoiYWxpY2UifQ.c2lnbmF0dXJlLXBhcnQtb2YtaXQ';

function capture(options: { level?: 'debug' | 'info' | 'warn' | 'error'; format?: 'json' | 'pretty' } = {}): {
  log: Logger;
  lines: string[];
} {
  const lines: string[] = [];
  const log = createLogger({ role: 'worker', ...options, write: (line) => lines.push(line) });
  return { log, lines };
}

describe('log/logger', function () {
  it('writes one JSON object per line with level, time, role, pid, module and msg', function () {
    const { log, lines } = capture();
    childLogger(log, { module: 'store' }).info('listening', { port: 8000 });
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0] as string) as Record<string, unknown>;
    assert.equal(line.level, 'info');
    assert.equal(line.role, 'worker');
    assert.equal(line.pid, process.pid);
    assert.equal(line.module, 'store');
    assert.equal(line.msg, 'listening');
    assert.equal(line.port, 8000);
    assert.match(String(line.time), /^\d{4}-\d\d-\d\dT/);
  });

  it('drops lines below LOG_LEVEL', function () {
    const { log, lines } = capture({ level: 'warn' });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { msg: string }).msg),
      ['w', 'e'],
    );
  });

  it('logs an error with its stack and its cause chain (why the store is unavailable)', function () {
    const { log, lines } = capture();
    const driver = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:3306'), { code: 'ECONNREFUSED' });
    const error = new WardenError('StoreUnavailableError', 'the user store is unavailable', {
      cause: driver,
    });
    log.warn('renewal postponed', { error });
    const { error: logged } = JSON.parse(lines[0] as string) as { error: Record<string, unknown> };
    assert.equal(logged.type, 'StoreUnavailableError');
    assert.equal(logged.message, 'the user store is unavailable');
    assert.equal(logged.code, 'STORE_UNAVAILABLE');
    assert.match(String(logged.stack), /StoreUnavailableError: the user store is unavailable\n\s+at /);
    const cause = logged.cause as Record<string, unknown>;
    assert.equal(cause.message, 'connect ECONNREFUSED 127.0.0.1:3306');
    assert.equal(cause.code, 'ECONNREFUSED');
    assert.match(String(cause.stack), /\n\s+at /);
  });

  it('never writes a secret: secret-named fields, JWTs in any string, nested or in errors', function () {
    const { log, lines } = capture();
    log.info(`presented ${JWT}`, {
      password: 'hunter2-hunter2',
      token: JWT,
      nested: {
        accessToken: 'opaque-access',
        logout_token: 'opaque-logout',
        headers: { cookie: 'warden_session=s3cr3t' },
      },
      authorization: `Bearer ${JWT}`,
      ticket: 'tkt-123456',
      authKey: 'k'.repeat(40),
      list: [`x ${JWT} y`],
      error: new Error(`bad token ${JWT}`, { cause: new Error(`inner ${JWT}`) }),
      // Not secrets: kept.
      tokenKind: 'password',
      hasToken: true,
      tokensValidFrom: 12,
    });
    const text = lines.join('\n');
    for (const secret of [
      'hunter2-hunter2',
      JWT,
      'opaque-access',
      'opaque-logout',
      's3cr3t',
      'tkt-123456',
      'k'.repeat(40),
    ])
      assert.equal(text.includes(secret), false, `${secret} was logged: ${text}`);
    const line = JSON.parse(lines[0] as string) as Record<string, unknown>;
    assert.equal(line.msg, 'presented [redacted]');
    assert.equal(line.tokenKind, 'password');
    assert.equal(line.hasToken, true);
    assert.equal(line.tokensValidFrom, 12);
  });

  it('renames a field that clashes with a line key instead of duplicating it', function () {
    const { log, lines } = capture();
    log.warn('worker exited; restarting', { pid: 4242, msg: 'x', level: 3 });
    const line = JSON.parse(lines[0] as string) as Record<string, unknown>;
    assert.equal(line.pid, process.pid);
    assert.equal(line.pid_, 4242);
    assert.equal(line.msg, 'worker exited; restarting');
    assert.equal(line.level, 'warn');
  });

  it('renders LOG_FORMAT=pretty lines for a human, causes on their own lines', function () {
    const { log, lines } = capture({ format: 'pretty' });
    log.warn('the user store is unavailable', {
      error: new Error('outer', { cause: new Error('connect ECONNREFUSED') }),
      n: 1,
    });
    assert.match(
      lines[0] as string,
      new RegExp(
        `^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} WARN  \\[worker ${process.pid}\\] the user store is unavailable error=Error: outer n=1\\n {4}caused by: Error: connect ECONNREFUSED$`,
      ),
    );
    assert.equal(renderLine('not json'), null);
    // A forged line in a field stays inside its line.
    log.info('audit login_failed', { username: 'x\n12:00:00.000 INFO  [worker 1] audit login' });
    assert.equal((lines[1] as string).split('\n').length, 1);
    assert.match(lines[1] as string, /username="x\\n12:00/);
    assert.equal(
      messageOf('{"level":"info","msg":"broker joined","uri":"ws://a:1"}'),
      'broker joined uri=ws://a:1',
    );
  });

  it('gives a test fake a child logger that adds the bindings', function () {
    const seen: Array<Record<string, unknown> | undefined> = [];
    const fake: Logger = { debug() {}, info: (_m, f) => seen.push(f), warn() {}, error() {} };
    childLogger(fake, { module: 'x' }).info('m', { a: 1 });
    assert.deepEqual(seen, [{ module: 'x', a: 1 }]);
  });
});

describe('log/redact', function () {
  it('tells secret field names from harmless ones', function () {
    for (const name of [
      'password',
      'newPassword',
      'token',
      'accessToken',
      'logout_token',
      'set-cookie',
      'cookie',
      'authorization',
      'ticket',
      'authKey',
      'key',
      'secret',
      'code',
      'invite',
    ])
      assert.equal(isSecretName(name), true, name);
    for (const name of [
      'tokenKind',
      'tokensValidFrom',
      'monkey',
      'username',
      'reason',
      'kind',
      'address',
      'session',
    ])
      assert.equal(isSecretName(name), false, name);
  });

  it('cuts JWT-shaped parts out of text and leaves other text alone', function () {
    assert.equal(scrubText(`a ${JWT} b`), 'a [redacted] b');
    assert.equal(scrubText('eyJ alone is fine'), 'eyJ alone is fine');
  });

  it('serialises only name, message, code, reason, stack and cause of an error', function () {
    const error = Object.assign(new Error('query failed'), {
      sql: 'SELECT password_hash FROM users',
      code: 'ER_X',
    });
    const serialized = serializeError(error);
    assert.deepEqual(Object.keys(serialized).sort(), ['code', 'message', 'stack', 'type']);
  });

  it('keeps numbers and booleans under secret names (they hold no secret)', function () {
    assert.deepEqual(sanitizeFields({ code: 0, token: false, password: 'x' }, new Set()), {
      code: 0,
      token: false,
      password: '[redacted]',
    });
  });
});
