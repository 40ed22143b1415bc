import assert from 'node:assert/strict';
import { createConnectionLimiter } from '../../../middleware/connection-limiter.ts';

describe('middleware/connection-limiter createConnectionLimiter', function () {
  it('validates max', function () {
    for (const max of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => createConnectionLimiter({ max, clientAddress: () => 'x' }), TypeError);
    }
    assert.equal(createConnectionLimiter({ max: 500, clientAddress: () => 'x' }).open('x'), 0);
  });
});
