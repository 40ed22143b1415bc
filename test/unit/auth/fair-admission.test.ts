import assert from 'node:assert/strict';
import { FairAdmission } from '../../../auth/fair-admission.ts';

/** A task that runs until the test ends it, recording the order tasks start in. */
function gate(started: string[], name: string) {
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    task: async () => {
      started.push(name);
      await done;
      return name;
    },
    finish: () => finish(),
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('fair admission', function () {
  it('runs at most `concurrency` tasks and starts the next when one ends', async function () {
    const admission = new FairAdmission({ concurrency: 2, perKey: 10, maxQueue: 10 });
    const started: string[] = [];
    const gates = ['a1', 'a2', 'a3'].map((name) => gate(started, name));
    const runs = gates.map((g, i) => admission.run(`k${i}`, g.task));
    await tick();
    assert.deepEqual(started, ['a1', 'a2']);
    gates[0]?.finish();
    assert.equal(await runs[0], 'a1');
    await tick();
    assert.deepEqual(started, ['a1', 'a2', 'a3']);
    gates[1]?.finish();
    gates[2]?.finish();
    await Promise.all(runs);
    assert.equal(admission.pending, 0);
  });

  it('serves a newcomer before the backlog of a flooding key', async function () {
    const admission = new FairAdmission({ concurrency: 1, perKey: 50, maxQueue: 100 });
    const started: string[] = [];
    const flood = Array.from({ length: 20 }, (_, i) => gate(started, `flood${i}`));
    const runs = flood.map((g) => admission.run('10.0.0.1', g.task));
    await tick();
    const newcomer = gate(started, 'newcomer');
    const run = admission.run('203.0.113.7', newcomer.task);
    flood[0]?.finish();
    await tick();
    await tick();
    assert.deepEqual(started, ['flood0', 'newcomer']);
    newcomer.finish();
    await run;
    for (const g of flood) g.finish();
    await Promise.all(runs);
  });

  it('serves keys with fewer tasks outstanding first, and equal ones by start tag', async function () {
    const admission = new FairAdmission({ concurrency: 1, perKey: 50, maxQueue: 100 });
    const started: string[] = [];
    const blocker = gate(started, 'blocker');
    const first = admission.run('x', blocker.task);
    const a = [0, 1, 2].map((i) => gate(started, `a${i}`));
    const b = [0, 1, 2].map((i) => gate(started, `b${i}`));
    const runs = [...a.map((g) => admission.run('a', g.task)), ...b.map((g) => admission.run('b', g.task))];
    for (const g of [blocker, ...a, ...b]) g.finish();
    await Promise.all([first, ...runs]);
    // a0 and b0 tie (three each, start tag 0); once a0 has run, a has fewer outstanding than b, and
    // so on: a key never waits for more than another key's admitted tasks (at most perKey).
    assert.deepEqual(started, ['blocker', 'a0', 'a1', 'a2', 'b0', 'b1', 'b2']);
  });

  it('puts keys with a worse standing last, whatever their arrival', async function () {
    const admission = new FairAdmission({ concurrency: 1, perKey: 50, maxQueue: 100 });
    const started: string[] = [];
    const blocker = gate(started, 'blocker');
    const first = admission.run('x', blocker.task);
    const bad = gate(started, 'bad');
    const good = gate(started, 'good');
    const runs = [admission.run('bad', bad.task, { priority: 9 }), admission.run('good', good.task)];
    for (const g of [blocker, bad, good]) g.finish();
    await Promise.all([first, ...runs]);
    assert.deepEqual(started, ['blocker', 'good', 'bad']);
  });

  it('refuses a key over its own cap with RateLimitError, and nobody else', async function () {
    const admission = new FairAdmission({ concurrency: 1, perKey: 2, maxQueue: 100 });
    const started: string[] = [];
    const gates = [0, 1].map((i) => gate(started, `k${i}`));
    const runs = gates.map((g) => admission.run('k', g.task));
    await assert.rejects(
      admission.run('k', async () => 'third'),
      (error: Error & { retryAfter?: number }) => error.name === 'RateLimitError' && error.retryAfter === 1,
    );
    const other = gate(started, 'other');
    const otherRun = admission.run('other', other.task);
    for (const g of [...gates, other]) g.finish();
    await Promise.all([...runs, otherRun]);
    assert.deepEqual(started, ['k0', 'other', 'k1']);
  });

  it('when the queue is full, drops the newest task of the worst key rather than a newcomer', async function () {
    const admission = new FairAdmission({ concurrency: 1, perKey: 50, maxQueue: 3 });
    const started: string[] = [];
    const blocker = gate(started, 'blocker');
    const first = admission.run('x', blocker.task);
    const flood = [0, 1, 2].map((i) => gate(started, `f${i}`));
    const floodRuns = flood.map((g) => admission.run('f', g.task).catch((error: Error) => error.name));
    const newcomer = gate(started, 'newcomer');
    const newcomerRun = admission.run('n', newcomer.task);
    for (const g of [blocker, ...flood, newcomer]) g.finish();
    const outcomes = await Promise.all(floodRuns);
    await Promise.all([first, newcomerRun]);
    assert.deepEqual(outcomes, ['f0', 'f1', 'RateLimitError']);
    assert.deepEqual(started, ['blocker', 'newcomer', 'f0', 'f1']);
  });

  it('ranks a flood behind a newcomer even when the flood arrived with a clean record', async function () {
    const admission = new FairAdmission({ concurrency: 1, perKey: 8, maxQueue: 100 });
    const started: string[] = [];
    const blocker = gate(started, 'blocker');
    const first = admission.run('x', blocker.task);
    // Eight flooders' first requests, all with priority 1 (no failures counted yet), four each.
    const flood = Array.from({ length: 8 }, (_, i) => gate(started, `f${i}`));
    const floodRuns = flood.map((g, i) => admission.run(`flooder${i % 2}`, g.task, { priority: 1 }));
    const newcomer = gate(started, 'newcomer');
    const newcomerRun = admission.run('newcomer', newcomer.task, { priority: 1 });
    blocker.finish();
    await first;
    await tick();
    assert.deepEqual(started, ['blocker', 'newcomer']);
    for (const g of [newcomer, ...flood]) g.finish();
    await Promise.all([newcomerRun, ...floodRuns]);
  });

  it('validates its options', function () {
    assert.throws(() => new FairAdmission({ concurrency: 0, perKey: 1, maxQueue: 1 }), TypeError);
    assert.throws(() => new FairAdmission({ concurrency: 1, perKey: 1.5, maxQueue: 1 }), TypeError);
  });
});
