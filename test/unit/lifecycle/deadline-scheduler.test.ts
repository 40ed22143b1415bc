import assert from 'node:assert/strict';
import { DeadlineScheduler } from '../../../lifecycle/deadline-scheduler.ts';

/** A scheduler on a hand-moved clock whose timer is recorded, not run. */
function harness() {
  let now = 1_000_000;
  const fired: string[] = [];
  const timers: Array<{ fn: () => void; at: number }> = [];
  const scheduler = new DeadlineScheduler<string>({
    onDue: (key) => fired.push(key),
    now: () => now,
    setTimer: (fn, ms) => {
      const timer = { fn, at: now + ms };
      timers.push(timer);
      return timer;
    },
    clearTimer: (handle) => {
      timers.splice(timers.indexOf(handle as (typeof timers)[number]), 1);
    },
  });
  const advance = (ms: number) => {
    now += ms;
    for (const timer of timers.filter((t) => t.at <= now)) {
      timers.splice(timers.indexOf(timer), 1);
      timer.fn();
    }
  };
  return { scheduler, fired, timers, advance };
}

/**
 * A scheduler whose every due item costs `costMs` of an injected monotonic clock, and whose rests
 * are recorded (with their length) instead of waited for.
 */
function pacedHarness(options: { costMs: number; sliceSize: number; restRatio?: number }) {
  let clock = 0;
  const fired: number[] = [];
  const rests: Array<{ fn: () => void; ms: number }> = [];
  const scheduler = new DeadlineScheduler<number>({
    onDue: (k) => {
      fired.push(k);
      clock += options.costMs;
    },
    now: () => 5_000,
    sliceSize: options.sliceSize,
    ...(options.restRatio === undefined ? {} : { restRatio: options.restRatio }),
    monotonic: () => clock,
    setRest: (fn, ms) => rests.push({ fn, ms }),
    setTimer: () => null,
    clearTimer: () => {},
  });
  const due = (count: number) => {
    for (let i = 0; i < count; i++) scheduler.schedule(i, 4_000);
    scheduler.runDue();
  };
  return { scheduler, fired, rests, due };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('lifecycle/DeadlineScheduler', function () {
  it('fires each key once at its second, with one armed timer', function () {
    const { scheduler, fired, timers, advance } = harness();
    scheduler.schedule('a', 1_000_000 + 2_000);
    scheduler.schedule('b', 1_000_000 + 5_000);
    scheduler.schedule('c', 1_000_000 + 2_500);
    assert.equal(timers.length, 1);
    advance(2_000);
    assert.deepEqual(fired, ['a']);
    advance(1_000);
    assert.deepEqual(fired, ['a', 'c']);
    advance(10_000);
    assert.deepEqual(fired, ['a', 'c', 'b']);
    assert.equal(scheduler.size, 0);
  });

  it('cancels and reschedules', function () {
    const { scheduler, fired, advance } = harness();
    scheduler.schedule('a', 1_001_000);
    scheduler.schedule('b', 1_001_000);
    scheduler.cancel('a');
    scheduler.schedule('b', 1_010_000);
    advance(5_000);
    assert.deepEqual(fired, []);
    advance(5_000);
    assert.deepEqual(fired, ['b']);
  });

  it('hands large due batches over in slices across event-loop turns', async function () {
    const fired: number[] = [];
    const scheduler = new DeadlineScheduler<number>({
      onDue: (k) => fired.push(k),
      now: () => 5_000,
      sliceSize: 100,
      restRatio: 0,
      setTimer: () => null,
      clearTimer: () => {},
    });
    for (let i = 0; i < 1000; i++) scheduler.schedule(i, 4_000);
    scheduler.runDue();
    assert.equal(fired.length, 100);
    // Each slice runs on its own setImmediate turn: nine more turns finish the batch.
    for (let turn = 0; turn < 9; turn++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(fired.length, 1000);
  });

  it('rests between slices as long as each slice kept the loop busy', async function () {
    const { fired, rests, due } = pacedHarness({ costMs: 3, sliceSize: 5, restRatio: 1 });
    due(12);
    assert.equal(fired.length, 5);
    await nextTurn();
    // The slice took 15 ms: the next waits 15 ms, not one turn.
    assert.equal(fired.length, 5);
    assert.deepEqual(
      rests.map((r) => r.ms),
      [15],
    );
    rests.shift()?.fn();
    assert.equal(fired.length, 10);
    await nextTurn();
    rests.shift()?.fn();
    assert.equal(fired.length, 12);
    assert.equal(rests.length, 0);
  });

  it('caps a rest at 20 ms and stops resting once stopped', async function () {
    const { scheduler, fired, rests, due } = pacedHarness({ costMs: 100, sliceSize: 1 });
    due(3);
    await nextTurn();
    assert.deepEqual(
      rests.map((r) => r.ms),
      [20],
    );
    scheduler.stop();
    rests.shift()?.fn();
    assert.deepEqual(fired, [0]);
  });

  it('does not fire a key cancelled or moved while the backlog drains, and takes a newly due one', async function () {
    let now = 5_000;
    const fired: number[] = [];
    const rests: Array<() => void> = [];
    const scheduler = new DeadlineScheduler<number>({
      onDue: (k) => fired.push(k),
      now: () => now,
      sliceSize: 2,
      // Every slice "takes" 5 ms, so each is followed by a rest.
      monotonic: (() => {
        let clock = 0;
        return () => (clock += 5);
      })(),
      setRest: (fn) => rests.push(fn),
      setTimer: () => null,
      clearTimer: () => {},
    });
    for (let i = 0; i < 6; i++) scheduler.schedule(i, 4_000);
    scheduler.runDue();
    assert.deepEqual(fired, [0, 1]);
    scheduler.cancel(2);
    scheduler.schedule(3, 60_000);
    now = 7_000;
    scheduler.schedule(9, 6_000);
    scheduler.runDue();
    // Still resting: runDue only adds what came due.
    assert.deepEqual(fired, [0, 1]);
    while (rests.length > 0 || fired.length < 5) {
      await new Promise((resolve) => setImmediate(resolve));
      rests.shift()?.();
    }
    assert.deepEqual(fired, [0, 1, 4, 5, 9]);
    assert.equal(scheduler.has(3), true);
    assert.equal(scheduler.size, 1);
  });
});
