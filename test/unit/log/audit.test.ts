import assert from 'node:assert/strict';
import { AuditTrail } from '../../../log/audit.ts';
import type { Logger } from '../../../log/logger.ts';

function recorder(): { log: Logger; lines: Array<{ message: string; fields: Record<string, unknown> }> } {
  const lines: Array<{ message: string; fields: Record<string, unknown> }> = [];
  const push = (message: string, fields?: Record<string, unknown>) =>
    lines.push({ message, fields: fields ?? {} });
  return { log: { debug: push, info: push, warn: push, error: push }, lines };
}

describe('log/audit', function () {
  it('writes one line per event with audit: true and event', function () {
    const { log, lines } = recorder();
    new AuditTrail(log).record('login', { username: 'alice', kind: 'password', address: '10.0.0.1' });
    assert.deepEqual(lines, [
      {
        message: 'audit login',
        fields: { audit: true, event: 'login', username: 'alice', kind: 'password', address: '10.0.0.1' },
      },
    ]);
  });

  it('limits a flood of denials per second and says how many lines it dropped', function () {
    const { log, lines } = recorder();
    let now = 1_000_000;
    const trail = new AuditTrail(log, { linesPerSecond: 3, now: () => now });
    for (let i = 0; i < 10; i++) trail.record('denied', { op: 'publish', channel: `c${i}` });
    assert.equal(lines.length, 3);
    // Other events keep their own budget, and the never-limited ones are never dropped.
    for (let i = 0; i < 5; i++) trail.record('revocation', { kind: 'user' });
    assert.equal(lines.filter((l) => l.fields.event === 'revocation').length, 5);
    now += 1000;
    trail.record('denied', { op: 'publish', channel: 'next' });
    const summary = lines.find((l) => l.fields.suppressed !== undefined);
    assert.deepEqual(summary?.fields, { audit: true, event: 'denied', suppressed: 7 });
    assert.equal(lines.at(-1)?.fields.channel, 'next');
  });

  it('reports the dropped lines when the second ends even if no event follows', async function () {
    const { log, lines } = recorder();
    const trail = new AuditTrail(log, { linesPerSecond: 1 });
    trail.record('rate_limited', { limit: 'socket-rate' });
    trail.record('rate_limited', { limit: 'socket-rate' });
    trail.record('rate_limited', { limit: 'socket-rate' });
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (lines.some((l) => l.fields.suppressed === 2)) {
          clearInterval(check);
          resolve();
        }
      }, 50);
    });
  });
});
