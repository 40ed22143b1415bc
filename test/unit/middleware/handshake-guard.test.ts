import assert from 'node:assert/strict';
import { handshakesIn } from '../../../middleware/handshake-guard.ts';

const handshake = { event: '#handshake', data: { authToken: null }, cid: 1 };

describe('middleware/handshake-guard handshakesIn', function () {
  const cases: Array<[string, unknown, number]> = [
    ['a handshake packet', JSON.stringify(handshake), 1],
    ['a batch of two', JSON.stringify([handshake, { ...handshake, cid: 2 }]), 2],
    ['a batch with one among publishes', JSON.stringify([{ event: '#publish' }, handshake]), 1],
    [
      'a handshake spelled with \\u escapes',
      JSON.stringify(handshake).replace('#hand', '\\u0023\\u0068and'),
      1,
    ],
    ['a binary frame', Buffer.from(JSON.stringify(handshake)), 1],
    ['a publish', JSON.stringify({ event: '#publish', data: { channel: 'a', data: 1 } }), 0],
    [
      'a publish whose data mentions #handshake',
      JSON.stringify({ event: '#publish', data: { event: '#handshake' } }),
      0,
    ],
    ['the word in a string', JSON.stringify('#handshake'), 0],
    ['a ping', '', 0],
    ['not JSON', '{"event":"#handshake"', 0],
    ['an event that only contains the word', JSON.stringify({ event: '#handshakes', cid: 1 }), 0],
    ['a number', 42, 0],
  ];
  for (const [what, frame, expected] of cases) {
    it(`finds ${expected} in ${what}`, function () {
      assert.equal(handshakesIn(frame), expected);
    });
  }
});
