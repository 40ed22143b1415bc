import assert from 'node:assert/strict';
import { ActionBuckets, createSocketRateLimiter } from '../../../middleware/socket-rate-limiter.ts';

function buckets(rate = 10, burst = 20, closeAfterMs = 5000) {
  let now = 1_000_000;
  const limiter = new ActionBuckets<object>({ rate, burst, closeAfterMs, now: () => now });
  return { limiter, advance: (ms: number) => (now += ms) };
}

/** How many of `count` takes at the current time are allowed. */
function allowed(limiter: ActionBuckets<object>, key: object, count: number): number {
  let n = 0;
  for (let i = 0; i < count; i++) if (limiter.take(key).allowed) n++;
  return n;
}

describe('middleware/socket-rate-limiter ActionBuckets', function () {
  it('allows a burst, then refills at the rate', function () {
    const { limiter, advance } = buckets(10, 20);
    const key = {};
    assert.equal(allowed(limiter, key, 25), 20);
    advance(500);
    assert.equal(allowed(limiter, key, 10), 5);
    advance(10_000);
    // Never more than the burst, however long the pause.
    assert.equal(allowed(limiter, key, 30), 20);
  });

  it('keeps one bucket per key', function () {
    const { limiter } = buckets(10, 20);
    const a = {};
    const b = {};
    assert.equal(allowed(limiter, a, 25), 20);
    assert.equal(allowed(limiter, b, 25), 20);
  });

  it('tells when to retry, in whole seconds', function () {
    const { limiter } = buckets(0.5, 1);
    const key = {};
    limiter.take(key);
    assert.deepEqual(limiter.take(key), { allowed: false, retryAfter: 2, flooding: false });
    const fast = buckets(200, 400).limiter;
    allowed(fast, key, 400);
    assert.deepEqual(fast.take(key), { allowed: false, retryAfter: 1, flooding: false });
  });

  it('calls a key flooding once it has been refused without a one-second pause for 5 s', function () {
    const { limiter, advance } = buckets(10, 20);
    const key = {};
    allowed(limiter, key, 21);
    for (let t = 100; t < 5000; t += 100) {
      advance(100);
      // One token refilled per 100 ms; the second take is refused.
      assert.equal(limiter.take(key).allowed, true);
      const verdict = limiter.take(key);
      assert.equal(verdict.allowed, false);
      assert.equal(verdict.allowed === false && verdict.flooding, false);
    }
    advance(100);
    limiter.take(key);
    const verdict = limiter.take(key);
    assert.equal(verdict.allowed === false && verdict.flooding, true);
  });

  it('starts a new spell after a second without refusals', function () {
    const { limiter, advance } = buckets(1, 1);
    const key = {};
    for (let i = 0; i < 20; i++) {
      allowed(limiter, key, 3);
      const verdict = limiter.take(key);
      assert.equal(verdict.allowed === false && verdict.flooding, false);
      advance(1000);
    }
  });

  it('keeps a spell going through a hold: refused right after the pause is still the same spell', function () {
    const { limiter, advance } = buckets(10, 20);
    const key = {};
    allowed(limiter, key, 21);
    for (let second = 1; second <= 5; second++) {
      limiter.hold(key, 1000);
      advance(1000);
      // Ten tokens refilled; the eleventh take is refused at once.
      assert.equal(allowed(limiter, key, 11), 10);
    }
    const verdict = limiter.take(key);
    assert.equal(verdict.allowed === false && verdict.flooding, true);
  });

  it('forgets a key', function () {
    const { limiter } = buckets(10, 20);
    const key = {};
    allowed(limiter, key, 20);
    limiter.forget(key);
    assert.equal(allowed(limiter, key, 20), 20);
  });
});

describe('middleware/socket-rate-limiter createSocketRateLimiter', function () {
  it('validates its options', function () {
    for (const bad of [{ rate: 0 }, { rate: -1 }, { rate: Number.NaN }, { rate: 10, burst: 0.5 }]) {
      assert.throws(() => createSocketRateLimiter(bad), TypeError);
    }
    assert.throws(() => createSocketRateLimiter({ rate: 10, closeAfterMs: 0 }), TypeError);
    assert.throws(() => createSocketRateLimiter({ rate: 10, pauseMs: -1 }), TypeError);
    assert.equal(typeof createSocketRateLimiter({ rate: 10, pauseMs: 0 }), 'function');
    assert.equal(typeof createSocketRateLimiter({ rate: 200 }), 'function');
  });
});
