import assert from 'node:assert/strict';
import { hostileSuite, type HostileCase } from './harness.ts';
import { countErrors, type Answer, type RawSocket } from './wire.ts';

const HANDSHAKE = JSON.stringify({ event: '#handshake', data: { authToken: null }, cid: 1 });

async function closesWith(socket: RawSocket, code: number): Promise<void> {
  assert.equal((await socket.closed).code, code);
}

function refusedWith(answer: Answer, name: string, reason?: string): void {
  assert.equal(answer.error?.name, name, JSON.stringify(answer));
  if (reason !== undefined) assert.equal(answer.error?.reason, reason);
}

/** Sends a frame holding one RPC packet built by `packet(cid)` and resolves with its answer. */
function sendRpc(socket: RawSocket, packet: (cid: number) => string): Promise<Answer> {
  const cid = socket.cid();
  const answer = socket.answer(cid);
  socket.send(packet(cid));
  return answer;
}

/** Sends `count` RPC packets in one batch frame; resolves with every answer. */
function batch(socket: RawSocket, count: number, event: string, data?: unknown): Promise<Answer[]> {
  const packets = Array.from({ length: count }, () => ({ event, data, cid: socket.cid() }));
  const answers = Promise.all(packets.map((packet) => socket.answer(packet.cid)));
  socket.send(JSON.stringify(packets));
  return answers;
}

const nested = (depth: number, open = '[', close = ']', leaf = '') =>
  `${open.repeat(depth)}${leaf}${close.repeat(depth)}`;

const cases: HostileCase[] = [
  // Before the handshake: SocketCluster's strict handshake closes with 4009, malformed 4008.
  {
    name: 'a #publish before the handshake is closed with 4009',
    run: async (h) => {
      const socket = await h.rawOpen();
      socket.send(JSON.stringify({ event: '#publish', data: { channel: 'a', data: 1 } }));
      await closesWith(socket, 4009);
    },
  },
  {
    name: 'a ping before the handshake is closed with 4009',
    run: async (h) => {
      const socket = await h.rawOpen();
      socket.send('');
      await closesWith(socket, 4009);
    },
  },
  {
    name: 'text that is not JSON before the handshake is closed with 4009',
    run: async (h) => {
      const socket = await h.rawOpen();
      socket.send('hello {');
      await closesWith(socket, 4009);
    },
  },
  {
    name: 'binary garbage before the handshake is closed with 4009',
    run: async (h) => {
      const socket = await h.rawOpen();
      socket.send(Buffer.from([0xff, 0x00, 0x13, 0x37]));
      await closesWith(socket, 4009);
    },
  },
  {
    name: 'a #handshake without a cid is closed with 4008',
    run: async (h) => {
      const socket = await h.rawOpen();
      socket.send(JSON.stringify({ event: '#handshake', data: { authToken: null } }));
      await closesWith(socket, 4008);
    },
  },
  {
    name: 'a frame over WS_MAX_PAYLOAD is closed with 1009',
    run: async (h) => {
      const socket = await h.raw();
      socket.send(JSON.stringify({ event: '#publish', data: { channel: 'a', data: 'x'.repeat(70_000) } }));
      await closesWith(socket, 1009);
    },
  },

  // A repeated handshake, however it is spelled: PROTOCOL_VIOLATION (4140).
  {
    name: 'a second #handshake in a later frame is closed with 4140',
    run: async (h) => {
      const socket = await h.raw();
      socket.send(HANDSHAKE.replace('"cid":1', '"cid":2'));
      await closesWith(socket, 4140);
    },
  },
  {
    name: 'two #handshake packets in one batch frame are closed with 4140',
    run: async (h) => {
      const socket = await h.rawOpen();
      socket.send(`[${HANDSHAKE},${HANDSHAKE.replace('"cid":1', '"cid":2')}]`);
      await closesWith(socket, 4140);
    },
  },
  {
    name: 'a second #handshake sent before the first is answered is closed with 4140',
    run: async (h) => {
      const socket = await h.rawOpen();
      socket.send(HANDSHAKE);
      socket.send(HANDSHAKE.replace('"cid":1', '"cid":2'));
      await closesWith(socket, 4140);
    },
  },
  {
    name: 'a second #handshake spelled with \\u escapes is closed with 4140',
    run: async (h) => {
      const socket = await h.raw();
      socket.send(
        HANDSHAKE.replace('#handshake', '\\u0023\\u0068\\u0061ndshake').replace('"cid":1', '"cid":2'),
      );
      await closesWith(socket, 4140);
    },
  },
  {
    name: 'a second #handshake in a binary frame is closed with 4140',
    run: async (h) => {
      const socket = await h.raw();
      socket.send(Buffer.from(HANDSHAKE.replace('"cid":1', '"cid":2')));
      await closesWith(socket, 4140);
    },
  },
  {
    name: 'a second #handshake followed by 200 frames of 60 KB is closed with 4140 and nothing piles up',
    run: async (h) => {
      const socket = await h.raw();
      socket.send(HANDSHAKE.replace('"cid":1', '"cid":2'));
      const frame = JSON.stringify({ event: '#publish', data: { channel: 'a', data: 'x'.repeat(60_000) } });
      for (let i = 0; i < 200 && socket.open; i++) socket.send(frame);
      await closesWith(socket, 4140);
      // Before the fix the socket stayed open, unanswered, buffering every frame.
      assert.equal(h.warden.worker.agServer.clients[socket.id ?? ''], undefined);
    },
  },

  // Batch frames: every packet counts against SOCKET_RATE_LIMIT (200/s, burst 400).
  {
    name: 'a batch of 600 invokes gets 400 InvokeError and 200 RateLimitError',
    run: async (h) => {
      const socket = await h.raw();
      assert.deepEqual(countErrors(await batch(socket, 600, 'whoami')), {
        InvokeError: 400,
        RateLimitError: 200,
      });
    },
  },
  {
    name: 'a batch of 600 #subscribe gets 400 SubscribeError and 200 RateLimitError',
    run: async (h) => {
      const socket = await h.raw();
      const answers = await batch(socket, 600, '#subscribe', { channel: 'news' });
      assert.deepEqual(countErrors(answers), { SubscribeError: 400, RateLimitError: 200 });
    },
  },
  {
    name: 'a batch of 1,000 transmits (no answers) leaves the next invoke a RateLimitError',
    run: async (h) => {
      const socket = await h.raw();
      socket.send(JSON.stringify(Array.from({ length: 1000 }, () => ({ event: 'note', data: 1 }))));
      refusedWith(await socket.call('whoami'), 'RateLimitError', 'socket-rate');
    },
  },
  {
    name: 'an empty batch frame is ignored and the next invoke is answered (InvokeError)',
    run: async (h) => {
      const socket = await h.raw();
      socket.send('[]');
      refusedWith(await socket.call('whoami'), 'InvokeError', 'unauthenticated');
    },
  },

  // Malformed packets after the handshake: SocketCluster's own InvalidActionError / BrokerError.
  {
    name: 'a #publish without a channel gets InvalidActionError',
    run: async (h) => refusedWith(await (await h.raw()).call('#publish', { data: 1 }), 'InvalidActionError'),
  },
  {
    name: 'a #subscribe to a numeric channel gets InvalidActionError',
    run: async (h) =>
      refusedWith(await (await h.raw()).call('#subscribe', { channel: 5 }), 'InvalidActionError'),
  },
  {
    name: 'a #subscribe with null data gets InvalidActionError',
    run: async (h) => refusedWith(await (await h.raw()).call('#subscribe', null), 'InvalidActionError'),
  },
  {
    name: 'an #unsubscribe from a channel never subscribed gets BrokerError',
    run: async (h) => refusedWith(await (await h.raw()).call('#unsubscribe', 'news'), 'BrokerError'),
  },
  {
    name: 'an #authenticate with a number gets AuthTokenInvalidError',
    run: async (h) => refusedWith(await (await h.raw()).call('#authenticate', 42), 'AuthTokenInvalidError'),
  },
  {
    name: 'an #authenticate with an object gets AuthTokenInvalidError',
    run: async (h) =>
      refusedWith(await (await h.raw()).call('#authenticate', { alg: 'none' }), 'AuthTokenInvalidError'),
  },
  {
    name: 'an invoke named "" gets InvokeError (invalid-name)',
    run: async (h) => refusedWith(await (await h.raw()).call('', 1), 'InvokeError', 'invalid-name'),
  },
  {
    name: 'an invoke named with 300 bytes gets InvokeError (invalid-name)',
    run: async (h) =>
      refusedWith(await (await h.raw()).call('p'.repeat(300), 1), 'InvokeError', 'invalid-name'),
  },
  {
    name: 'an invoke named "#disconnect" gets InvokeError (unauthenticated)',
    run: async (h) =>
      refusedWith(await (await h.raw()).call('#disconnect', 1), 'InvokeError', 'unauthenticated'),
  },
  {
    name: 'an authenticated invoke of an unknown procedure gets InvokeError (unknown-procedure)',
    run: async (h) => {
      const { token } = await h.token({ invoke: ['>'] });
      refusedWith(await (await h.raw(token)).call('dropTables', 1), 'InvokeError', 'unknown-procedure');
    },
  },
  {
    name: 'a negative cid is answered under the same rid (InvokeError)',
    run: async (h) => {
      const socket = await h.raw();
      const answer = socket.answer(-7);
      socket.send(JSON.stringify({ event: 'whoami', cid: -7 }));
      refusedWith(await answer, 'InvokeError');
    },
  },
  {
    name: 'a string cid makes a transmit: no answer, and the next invoke gets InvokeError',
    run: async (h) => {
      const socket = await h.raw();
      socket.send(JSON.stringify({ event: 'whoami', cid: '1' }));
      refusedWith(await socket.call('whoami'), 'InvokeError');
    },
  },
  {
    name: 'JSON that is not a packet (null, 5, "x", an answer to nothing) is ignored; the next invoke gets InvokeError',
    run: async (h) => {
      const socket = await h.raw();
      for (const frame of ['null', '5', '"#handshake"', '{"rid":999,"data":1}', '{"event":7}'])
        socket.send(frame);
      refusedWith(await socket.call('whoami'), 'InvokeError');
    },
  },

  // Deep nesting and prototype keys.
  {
    name: 'publish data nested 20,000 deep to a channel outside the claims gets PublishError',
    run: async (h) => {
      const { token } = await h.token({ publish: ['chat.*'] });
      const socket = await h.raw(token);
      const answer = await sendRpc(
        socket,
        (cid) => `{"event":"#publish","data":{"channel":"news","data":${nested(20_000)}},"cid":${cid}}`,
      );
      refusedWith(answer, 'PublishError', 'not-allowed');
    },
  },
  {
    name: 'an allowed publish nested 8,000 deep is accepted (SC cannot re-encode it and drops it) and the socket keeps working',
    run: async (h) => {
      const { token } = await h.token({ publish: ['chat.*'], invoke: ['whoami'] });
      const socket = await h.raw(token);
      const answer = await sendRpc(
        socket,
        (cid) =>
          `{"event":"#publish","data":{"channel":"chat.deep","data":${nested(8_000, '{"a":', '}', '1')}},"cid":${cid}}`,
      );
      assert.equal(answer.error, undefined);
      assert.equal((await socket.call('whoami')).error, undefined);
    },
  },
  {
    name: 'login credentials nested 20,000 deep get BadRequestError',
    run: async (h) => {
      const socket = await h.raw();
      const answer = await sendRpc(
        socket,
        (cid) => `{"event":"login","data":{"username":${nested(20_000)},"password":"x"},"cid":${cid}}`,
      );
      refusedWith(answer, 'BadRequestError');
    },
  },
  {
    name: 'a handshake token nested 20,000 deep leaves the socket unauthenticated (AuthTokenInvalidError)',
    run: async (h) => {
      const socket = await h.rawOpen();
      const answer = await sendRpc(
        socket,
        (cid) => `{"event":"#handshake","data":{"authToken":${nested(20_000)}},"cid":${cid}}`,
      );
      const status = answer.data as { isAuthenticated: boolean; authError?: { name: string } };
      assert.equal(status.isAuthenticated, false);
      assert.equal(status.authError?.name, 'AuthTokenInvalidError');
    },
  },
  {
    name: 'a __proto__ authToken in the handshake data authenticates nothing',
    run: async (h) => {
      const { token } = await h.token({ publish: ['>'] });
      const socket = await h.rawOpen();
      const answer = await sendRpc(
        socket,
        (cid) => `{"event":"#handshake","data":{"__proto__":{"authToken":"${token}"}},"cid":${cid}}`,
      );
      assert.equal((answer.data as { isAuthenticated: boolean }).isAuthenticated, false);
      refusedWith(
        await socket.call('#publish', { channel: 'news', data: 1 }),
        'PublishError',
        'unauthenticated',
      );
    },
  },
  {
    name: 'a channel given only through __proto__ in a #publish gets InvalidActionError',
    run: async (h) => {
      const socket = await h.raw();
      const answer = await sendRpc(
        socket,
        (cid) => `{"event":"#publish","data":{"__proto__":{"channel":"news"},"data":1},"cid":${cid}}`,
      );
      refusedWith(answer, 'InvalidActionError');
    },
  },
  {
    name: 'invokes named __proto__ and constructor get InvokeError',
    run: async (h) => {
      const socket = await h.raw();
      refusedWith(await socket.call('__proto__', 1), 'InvokeError');
      refusedWith(
        await socket.call('constructor', { constructor: { prototype: { admin: true } } }),
        'InvokeError',
      );
      assert.equal(({} as Record<string, unknown>).admin, undefined);
    },
  },
  {
    name: 'a #removeAuthToken from an unauthenticated socket changes nothing; the next invoke gets InvokeError',
    run: async (h) => {
      const socket = await h.raw();
      socket.send(JSON.stringify({ event: '#removeAuthToken' }));
      refusedWith(await socket.call('whoami'), 'InvokeError', 'unauthenticated');
    },
  },
];

hostileSuite('raw SocketCluster frames', { WS_MAX_PAYLOAD: String(64 * 1024) }, cases);
