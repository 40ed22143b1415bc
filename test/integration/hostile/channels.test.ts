import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { hostileSuite, type Hostile, type HostileCase } from './harness.ts';

/** Who tries the name: `narrow` holds chat.* and user.{username}.>, `broad` holds > (everything). */
type Who = 'narrow' | 'broad';

/** A channel name and what Warden must answer: a refusal `reason`, or null when it is allowed. */
interface NameCase {
  readonly what: string;
  readonly who: Who;
  readonly channel: (username: string) => string;
  readonly reason: 'invalid-channel' | 'not-allowed' | null;
}

const NARROW = ['chat.*', 'user.{username}.>'];

/** Replaces the first Latin "a" of a username with a Cyrillic "а" (U+0430). */
const cyrillicA = (name: string) => name.replace('a', '\u0430');

const names: NameCase[] = [
  { what: 'a * wildcard in a segment', who: 'narrow', channel: () => 'chat.*', reason: 'invalid-channel' },
  {
    what: 'a > wildcard as the last segment',
    who: 'narrow',
    channel: () => 'chat.>',
    reason: 'invalid-channel',
  },
  { what: 'a bare *', who: 'broad', channel: () => '*', reason: 'invalid-channel' },
  { what: 'a bare >', who: 'broad', channel: () => '>', reason: 'invalid-channel' },
  { what: 'an empty middle segment', who: 'narrow', channel: () => 'chat..lobby', reason: 'invalid-channel' },
  { what: 'an empty first segment', who: 'narrow', channel: () => '.chat', reason: 'invalid-channel' },
  { what: 'an empty last segment', who: 'narrow', channel: () => 'chat.', reason: 'invalid-channel' },
  { what: 'the empty name', who: 'broad', channel: () => '', reason: 'invalid-channel' },
  { what: '257 ASCII bytes', who: 'broad', channel: () => 'a'.repeat(257), reason: 'invalid-channel' },
  {
    what: '129 two-byte characters (258 bytes)',
    who: 'broad',
    channel: () => 'é'.repeat(129),
    reason: 'invalid-channel',
  },
  { what: '128 two-byte characters (256 bytes)', who: 'broad', channel: () => 'é'.repeat(128), reason: null },
  {
    what: 'the reserved #warden.control',
    who: 'broad',
    channel: () => '#warden.control',
    reason: 'invalid-channel',
  },
  { what: 'the reserved #publish', who: 'broad', channel: () => '#publish', reason: 'invalid-channel' },
  { what: 'a NUL byte', who: 'narrow', channel: () => 'chat.lob\u0000by', reason: 'invalid-channel' },
  { what: 'an ANSI escape', who: 'narrow', channel: () => 'chat.\u001b[31mred', reason: 'invalid-channel' },
  { what: 'a DEL', who: 'narrow', channel: () => 'chat.\u007f', reason: 'invalid-channel' },
  { what: 'a C1 control (NEL)', who: 'narrow', channel: () => 'chat.\u0085', reason: 'invalid-channel' },
  {
    what: 'fullwidth Latin letters',
    who: 'narrow',
    channel: () => '\uff43\uff48\uff41\uff54.lobby',
    reason: 'not-allowed',
  },
  { what: 'a Cyrillic "с" for "c"', who: 'narrow', channel: () => '\u0441hat.lobby', reason: 'not-allowed' },
  {
    what: 'a fullwidth full stop for "."',
    who: 'narrow',
    channel: () => 'chat\uff0elobby',
    reason: 'not-allowed',
  },
  {
    what: 'a one-dot leader for "."',
    who: 'narrow',
    channel: () => 'chat\u2024lobby',
    reason: 'not-allowed',
  },
  {
    what: "the user's name with a Cyrillic а",
    who: 'narrow',
    channel: (username) => `user.${cyrillicA(username)}.inbox`,
    reason: 'not-allowed',
  },
  {
    what: "the user's name in upper case",
    who: 'narrow',
    channel: (username) => `user.${username.toUpperCase()}.inbox`,
    reason: 'not-allowed',
  },
  {
    what: "the user's own channel",
    who: 'narrow',
    channel: (username) => `user.${username}.inbox`,
    reason: null,
  },
  { what: '__proto__', who: 'broad', channel: () => '__proto__', reason: 'invalid-channel' },
  { what: 'constructor', who: 'broad', channel: () => 'constructor', reason: 'invalid-channel' },
  { what: 'toString', who: 'broad', channel: () => 'toString', reason: 'invalid-channel' },
  { what: 'hasOwnProperty', who: 'broad', channel: () => 'hasOwnProperty', reason: 'invalid-channel' },
];

/** A raw socket authenticated as a fresh user of that kind (raw: the client library trips over some names). */
async function socketOf(h: Hostile, who: Who) {
  const patterns = who === 'broad' ? ['>'] : NARROW;
  const { token, user } = await h.token({
    username: `alice${randomBytes(4).toString('hex')}`,
    publish: patterns,
    subscribe: patterns,
  });
  return { socket: await h.raw(token), username: user.username };
}

const cases: HostileCase[] = [];
for (const name of names) {
  for (const action of ['publish', 'subscribe'] as const) {
    const error = action === 'publish' ? 'PublishError' : 'SubscribeError';
    cases.push({
      name: `${action} to ${name.what} ${name.reason === null ? 'is allowed' : `gets ${error} (${name.reason})`}`,
      run: async (h) => {
        const { socket, username } = await socketOf(h, name.who);
        const channel = name.channel(username);
        const answer =
          action === 'publish'
            ? await socket.call('#publish', { channel, data: 'hello' })
            : await socket.call('#subscribe', { channel });
        if (name.reason === null) {
          assert.equal(answer.error, undefined, JSON.stringify(answer));
        } else {
          assert.equal(answer.error?.name, error, JSON.stringify(answer));
          assert.equal(answer.error?.reason, name.reason);
        }
        // Nothing was put on Object.prototype (a "__proto__" subscription once did exactly that).
        assert.equal(Object.getOwnPropertyNames(Object.prototype).includes(socket.id ?? ''), false);
      },
    });
  }
}

cases.push(
  {
    name: 'a channel given as an array gets InvalidActionError',
    run: async (h) => {
      const { socket } = await socketOf(h, 'broad');
      const answer = await socket.call('#publish', { channel: ['chat', 'lobby'], data: 1 });
      assert.equal(answer.error?.name, 'InvalidActionError');
    },
  },
  {
    name: 'a subscribe beyond MAX_CHANNELS_PER_SOCKET gets SubscribeError (channel-limit)',
    run: async (h) => {
      const { socket } = await socketOf(h, 'broad');
      for (let i = 0; i < 5; i++)
        assert.equal((await socket.call('#subscribe', { channel: `c${i}` })).error, undefined);
      const answer = await socket.call('#subscribe', { channel: 'c5' });
      assert.equal(answer.error?.name, 'SubscribeError');
      assert.equal(answer.error?.reason, 'channel-limit');
    },
  },
  {
    name: 'an unauthenticated publish to a lookalike of the control channel gets PublishError (unauthenticated)',
    run: async (h) => {
      const socket = await h.raw();
      const answer = await socket.call('#publish', { channel: '\u0441ontrol.ping', data: 'spoof' });
      assert.equal(answer.error?.name, 'PublishError');
      assert.equal(answer.error?.reason, 'unauthenticated');
    },
  },
);

hostileSuite('channel names', { MAX_CHANNELS_PER_SOCKET: '5' }, cases);
