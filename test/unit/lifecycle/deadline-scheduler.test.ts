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
});
