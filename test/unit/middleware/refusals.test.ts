import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { WardenError } from '../../../errors/catalogue.ts';
import { setAuditLogger } from '../../../log/audit.ts';
import type { Logger } from '../../../log/logger.ts';
import { metrics } from '../../../metrics/metrics.ts';
import type { MiddlewareAction } from '../../../middleware/action.ts';
import { createRefusalRecorder } from '../../../middleware/refusals.ts';
import type { WardenSocket } from '../../../sockets/socket-facade.ts';

async function count(
  metric: { get(): Promise<{ values: Array<{ labels: object; value: number }> }> },
  labels: object,
) {
  const { values } = await metric.get();
  return values.find((each) => JSON.stringify(each.labels) === JSON.stringify(labels))?.value ?? 0;
}

function action(fields: Partial<MiddlewareAction>): MiddlewareAction {
  return { type: 'publishIn', allow() {}, block() {}, ...fields } as MiddlewareAction;
}

describe('middleware/refusals', function () {
  const lines: Array<Record<string, unknown>> = [];
  let restore: () => void;
  const push = (_message: string, fields?: Record<string, unknown>) => void lines.push(fields ?? {});
  const log: Logger = { debug: push, info: push, warn: push, error: push };
  const socket = { authToken: { username: 'ann', sub: 'u1', jti: 'j' } } as unknown as WardenSocket;
  const record = createRefusalRecorder({
    clientAddress: () => '203.0.113.9',
    socketAddress: () => '198.51.100.7',
  });

  beforeEach(function () {
    lines.length = 0;
    restore = setAuditLogger(log);
  });
  afterEach(function () {
    restore();
  });

  it('checks its options when the factory is called', function () {
    assert.throws(() => createRefusalRecorder({} as never), TypeError);
  });

  it('counts and audits a denied publish with op, channel, reason and who', async function () {
    const before = await count(metrics.denials, { op: 'publish', reason: 'not-allowed' });
    const error = new WardenError('PublishError', 'no', { details: { reason: 'not-allowed' } });
    record(action({ type: 'publishIn', channel: 'news', socket }), error);
    assert.equal(await count(metrics.denials, { op: 'publish', reason: 'not-allowed' }), before + 1);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.event, 'denied');
    assert.equal(lines[0]?.channel, 'news');
    assert.equal(lines[0]?.address, '198.51.100.7');
  });

  it('counts a socket rate limit as a denial and a rate-limit hit, audited as rate_limited only', async function () {
    const labels = { limit: 'socket-rate' };
    const before = await count(metrics.rateLimitHits, labels);
    const error = new WardenError('RateLimitError', 'slow down', {
      details: { reason: 'socket-rate', retryAfter: 1 },
    });
    record(action({ type: 'subscribe', channel: 'a', socket }), error);
    assert.equal(await count(metrics.rateLimitHits, labels), before + 1);
    assert.deepEqual(
      lines.map((line) => line.event),
      ['rate_limited'],
    );
  });

  it('counts a refused handshake and audits a foreign Origin', async function () {
    const labels = { result: 'refused', reason: 'OriginError' };
    const before = await count(metrics.handshakes, labels);
    const request = { headers: { origin: 'https://evil.example' } } as unknown as IncomingMessage;
    record(action({ type: 'handshakeSC', request }), new WardenError('OriginError', 'no'));
    assert.equal(await count(metrics.handshakes, labels), before + 1);
    assert.deepEqual(lines, [
      { audit: true, event: 'origin_refused', origin: 'https://evil.example', address: '203.0.113.9' },
    ]);
  });
});
