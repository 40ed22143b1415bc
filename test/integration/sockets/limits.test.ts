import assert from 'node:assert/strict';
import { connectClient, socketLogin, type TestClient } from '../../helpers/clients.ts';
import { startTestWarden, type TestWarden } from '../../helpers/warden.ts';
import { countErrors, RawSocket, type Answer } from '../hostile/wire.ts';

function refusedWith(answer: Answer, name: string): void {
  assert.equal(answer.error?.name, name, JSON.stringify(answer));
}

/** A clock that stands still unless the test moves it: token buckets refill only when told. */
function handClock() {
  let offset = 0;
  const base = Date.now();
  return { now: () => base + offset, advance: (ms: number) => (offset += ms) };
}

/** Sends `count` RPC packets in one batch frame and resolves with every answer. */
function batch(socket: RawSocket, count: number, event: string, data?: unknown): Promise<Answer[]> {
  const packets = Array.from({ length: count }, () => ({ event, data, cid: socket.cid() }));
  const answers = Promise.all(packets.map((packet) => socket.answer(packet.cid)));
  socket.send(JSON.stringify(packets));
  return answers;
}

/** Resolves once the worker has seen `count` more sockets close (connection aborts included). */
function closures(warden: TestWarden, count: number): Promise<void> {
  // The consumer exists from now on: a closure right after this call is not missed.
  const consumer = warden.worker.agServer.listener('closure').createConsumer();
  return (async () => {
    for (let seen = 0; seen < count; seen++) await consumer.next();
    consumer.return();
  })();
}

/** Resolves once the worker holds no socket at all, connecting or connected. */
async function allClosed(warden: TestWarden): Promise<void> {
  const server = warden.worker.agServer;
  const consumer = server.listener('closure').createConsumer();
  while (server.clientsCount + server.pendingClientsCount > 0) await consumer.next();
  consumer.return();
}

describe('Per-socket and per-address limits', function () {
  describe('SOCKET_RATE_LIMIT', function () {
    let warden: TestWarden;
    const clock = handClock();
    const raws: RawSocket[] = [];
    before(async function () {
      warden = await startTestWarden({ SOCKET_RATE_LIMIT: '200' }, { now: clock.now });
    });
    afterEach(function () {
      for (const raw of raws.splice(0)) raw.close();
    });
    after(async function () {
      await warden.close();
    });

    async function raw(token: string | null = null): Promise<RawSocket> {
      const socket = await RawSocket.connect(warden.port, token);
      raws.push(socket);
      return socket;
    }

    it('counts every packet of a batch frame: a burst of 400, then RateLimitError with retryAfter', async function () {
      const socket = await raw();
      const answers = await batch(socket, 600, 'whoami');
      // Unauthenticated: the allowed ones reach the invoke authorizer and are refused there.
      assert.deepEqual(countErrors(answers), { InvokeError: 400, RateLimitError: 200 });
      const limited = answers.filter((answer) => answer.error?.name === 'RateLimitError');
      assert.deepEqual(limited[0]?.error, {
        name: 'RateLimitError',
        code: 'RATE_LIMITED',
        message: 'more than 200 actions per second on this socket',
        retryAfter: 1,
        reason: 'socket-rate',
      });
      assert.ok(answers.slice(0, 400).every((answer) => answer.error?.name === 'InvokeError'));
      assert.equal(socket.open, true);
    });

    it('counts publish, subscribe and transmit packets alike', async function () {
      const socket = await raw();
      const frame = [
        ...Array.from({ length: 150 }, () => ({ event: '#publish', data: { channel: 'a', data: 1 } })),
        ...Array.from({ length: 150 }, () => ({ event: 'note', data: 1 })),
        ...Array.from({ length: 100 }, () => ({ event: '#subscribe', data: { channel: 'a' } })),
      ];
      socket.send(JSON.stringify(frame));
      const [publish, subscribe] = await Promise.all([
        socket.call('#publish', { channel: 'a', data: 1 }),
        socket.call('#subscribe', { channel: 'a' }),
      ]);
      assert.equal(publish.error?.name, 'RateLimitError');
      assert.equal(subscribe.error?.name, 'RateLimitError');
    });

    it('counts login and #authenticate: a flood of them is a flood', async function () {
      const { user } = await warden.createUser();
      const socket = await raw();
      await batch(socket, 400, 'whoami');
      const login = await socket.call('login', { username: user.username, password: 'irrelevant' });
      assert.equal(login.error?.name, 'RateLimitError');
      const authenticate = await socket.call('#authenticate', warden.worker.tokens.issue(user).token);
      assert.equal((authenticate.data as { authError?: { name: string } }).authError?.name, 'RateLimitError');
      assert.equal((authenticate.data as { isAuthenticated: boolean }).isAuthenticated, false);
    });

    it('refills at the rate: 200 more actions one second later', async function () {
      const socket = await raw();
      assert.deepEqual(countErrors(await batch(socket, 401, 'whoami')), {
        InvokeError: 400,
        RateLimitError: 1,
      });
      clock.advance(1000);
      assert.deepEqual(countErrors(await batch(socket, 201, 'whoami')), {
        InvokeError: 200,
        RateLimitError: 1,
      });
    });

    it('stops reading a socket that went over the limit, and reads it again a second later', async function () {
      const socket = await raw();
      assert.deepEqual(countErrors(await batch(socket, 401, 'whoami')), {
        InvokeError: 400,
        RateLimitError: 1,
      });
      assert.equal(warden.worker.agServer.clients[socket.id ?? '']?.socket.isPaused, true);
      // Sent while the socket is not read: answered once the pause (real time) is over.
      clock.advance(1000);
      refusedWith(await socket.call('whoami'), 'InvokeError');
      assert.equal(warden.worker.agServer.clients[socket.id ?? '']?.socket.isPaused, false);
    });

    it('closes a socket that stays over the limit for 5 s with 4129', async function () {
      const socket = await raw();
      assert.deepEqual(countErrors(await batch(socket, 440, 'whoami')), {
        InvokeError: 400,
        RateLimitError: 40,
      });
      // Each second refills 200 tokens; 240 actions a second keep it over the limit throughout.
      for (let second = 1; second < 5; second++) {
        clock.advance(1000);
        const answers = await batch(socket, 240, 'whoami');
        assert.deepEqual(countErrors(answers), { InvokeError: 200, RateLimitError: 40 });
      }
      assert.equal(socket.open, true);
      clock.advance(1000);
      const answers = batch(socket, 240, 'whoami').catch(() => null);
      assert.equal((await socket.closed).code, 4129);
      await answers;
    });

    it('leaves open a socket that is over the limit only now and then', async function () {
      const socket = await raw();
      for (let burst = 0; burst < 4; burst++) {
        assert.deepEqual(countErrors(await batch(socket, 401, 'whoami')), {
          InvokeError: 400,
          RateLimitError: 1,
        });
        // The pause, then more than a second of quiet: the next burst starts a new spell.
        clock.advance(2500);
      }
      assert.equal(socket.open, true);
    });

    it('leaves open a socket that slows down to the rate after a refusal', async function () {
      const socket = await raw();
      assert.deepEqual(countErrors(await batch(socket, 401, 'whoami')), {
        InvokeError: 400,
        RateLimitError: 1,
      });
      for (let second = 0; second < 8; second++) {
        clock.advance(1000);
        assert.deepEqual(countErrors(await batch(socket, 200, 'whoami')), { InvokeError: 200 });
      }
      assert.equal(socket.open, true);
    });

    it('keeps the limit per socket: a flooding socket costs another nothing', async function () {
      const flooder = await raw();
      await batch(flooder, 500, 'whoami');
      const other = await connectClient(warden.port);
      await assert.rejects(other.socket.invoke('whoami', {}), { name: 'InvokeError' });
      other.socket.disconnect();
    });
  });

  describe('MAX_CONNECTIONS_PER_ADDRESS', function () {
    let warden: TestWarden;
    const raws: RawSocket[] = [];
    const clients: TestClient[] = [];
    before(async function () {
      warden = await startTestWarden({ MAX_CONNECTIONS_PER_ADDRESS: '3', TRUST_PROXY: '127.0.0.1' });
    });
    afterEach(async function () {
      for (const raw of raws.splice(0)) raw.close();
      for (const client of clients.splice(0)) client.socket.disconnect();
      // Every test starts with no connection counted.
      await allClosed(warden);
    });
    after(async function () {
      await warden.close();
    });

    async function rawFrom(address?: string): Promise<RawSocket> {
      const socket = await RawSocket.open(warden.port, {
        ...(address === undefined ? {} : { headers: { 'x-forwarded-for': address } }),
      });
      raws.push(socket);
      return socket;
    }

    it('refuses the handshake beyond the limit with RateLimitError and close 4130', async function () {
      for (let i = 0; i < 3; i++) clients.push(await connectClient(warden.port));
      const fourth = await rawFrom();
      const answer = await fourth.call('#handshake', { authToken: null });
      assert.equal(answer.error?.name, 'RateLimitError');
      assert.equal(answer.error?.reason, 'too-many-connections');
      assert.equal((await fourth.closed).code, 4130);
      await assert.rejects(connectClient(warden.port), { code: 4130 });
    });

    it('frees the slot when a socket closes', async function () {
      for (let i = 0; i < 3; i++) clients.push(await connectClient(warden.port));
      const gone = closures(warden, 1);
      clients.shift()?.socket.disconnect();
      await gone;
      clients.push(await connectClient(warden.port));
    });

    it('counts upgrades that never send #handshake, and frees them when they close', async function () {
      const idle = [await rawFrom(), await rawFrom(), await rawFrom()];
      await assert.rejects(connectClient(warden.port), { code: 4130 });
      const gone = closures(warden, 3);
      for (const socket of idle) socket.close();
      await gone;
      clients.push(await connectClient(warden.port));
    });

    it('frees the slots of sockets that close during the handshake', async function () {
      const gone = closures(warden, 5);
      for (let i = 0; i < 5; i++) {
        const socket = await RawSocket.open(warden.port);
        socket.send(JSON.stringify({ event: '#handshake', data: { authToken: null }, cid: 1 }));
        socket.close();
      }
      await gone;
      for (let i = 0; i < 3; i++) clients.push(await connectClient(warden.port));
    });

    it('keys on the client address a trusted proxy reports (TRUST_PROXY)', async function () {
      for (let i = 0; i < 3; i++) {
        const socket = await rawFrom('203.0.113.7');
        assert.equal((await socket.call('#handshake', { authToken: null })).error, undefined);
      }
      const fourth = await rawFrom('203.0.113.7');
      assert.equal((await fourth.call('#handshake', { authToken: null })).error?.name, 'RateLimitError');
      const other = await rawFrom('198.51.100.9');
      assert.equal((await other.call('#handshake', { authToken: null })).error, undefined);
      // The proxy's own connections (no X-Forwarded-For) are another address again.
      clients.push(await connectClient(warden.port));
    });
  });

  describe('UNAUTHENTICATED_TIMEOUT', function () {
    let warden: TestWarden;
    const clock = handClock();
    const clients: TestClient[] = [];
    before(async function () {
      warden = await startTestWarden({ UNAUTHENTICATED_TIMEOUT: '30' }, { now: clock.now });
    });
    afterEach(function () {
      for (const client of clients.splice(0)) client.socket.disconnect();
    });
    after(async function () {
      await warden.close();
    });

    async function connect(options: { token?: string } = {}) {
      const client = await connectClient(warden.port, options);
      clients.push(client);
      return client;
    }
    const serverSocket = (client: TestClient) => warden.worker.agServer.clients[client.socket.id ?? ''];
    /** Moves the clock and runs the deadlines that are due, as the worker's timer would. */
    const elapse = (seconds: number) => {
      clock.advance(seconds * 1000);
      warden.worker.unauthenticated.runDue();
    };

    it('closes a socket still unauthenticated 30 s after connecting with 4131', async function () {
      const client = await connect();
      const closed = client.socket.listener('close').once();
      elapse(29);
      assert.equal(serverSocket(client)?.state, 'open');
      elapse(2);
      assert.equal((await closed).code, 4131);
    });

    it('leaves a socket alone once it logs in, and restarts the clock when it logs out', async function () {
      const { user, password } = await warden.createUser();
      const client = await connect();
      const closed = client.socket.listener('close').once();
      elapse(10);
      await socketLogin(client, user.username, password);
      elapse(60);
      assert.equal(serverSocket(client)?.state, 'open');
      await client.socket.invoke('logout', {});
      elapse(29);
      assert.equal(serverSocket(client)?.state, 'open');
      elapse(2);
      assert.equal((await closed).code, 4131);
    });

    it('never schedules a socket authenticated in the handshake', async function () {
      const { user } = await warden.createUser();
      const before = warden.worker.unauthenticated.pending;
      const client = await connect({ token: warden.worker.tokens.issue(user).token });
      assert.equal(client.status.isAuthenticated, true);
      elapse(120);
      assert.equal(serverSocket(client)?.state, 'open');
      assert.equal(warden.worker.unauthenticated.pending, before);
    });
  });
});
