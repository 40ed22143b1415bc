import assert from 'node:assert/strict';
import { channelProblem } from '../../../auth/permissions.ts';

describe('auth/permissions channelProblem', function () {
  it('refuses the names of Object.prototype properties, which SocketCluster uses as plain-object keys', function () {
    for (const name of Object.getOwnPropertyNames(Object.prototype)) {
      assert.match(channelProblem(name) ?? '', /reserved/, name);
    }
  });

  it('accepts names that merely contain them', function () {
    for (const name of ['chat.__proto__', 'constructor.x', 'toStrings', 'a.hasOwnProperty.b']) {
      assert.equal(channelProblem(name), null, name);
    }
  });
});
