import assert from 'node:assert/strict';
import { UnauthenticatedTimeout } from '../../../sockets/unauthenticated-timeout.ts';

describe('sockets/UnauthenticatedTimeout', function () {
  it('validates the timeout; null turns it off', function () {
    for (const timeout of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new UnauthenticatedTimeout({ timeout }), TypeError);
    }
    const off = new UnauthenticatedTimeout({ timeout: null });
    assert.equal(off.pending, 0);
    off.runDue();
    off.stop();
  });
});
