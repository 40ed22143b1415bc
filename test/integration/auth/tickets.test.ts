import assert from 'node:assert/strict';
import jwt from 'jsonwebtoken';
import { parseConfig } from '../../../config/index.ts';
import { silentLogger } from '../../../log/logger.ts';
import { startWorker, type WardenWorker } from '../../../worker/create-worker.ts';
import { connectClient, rejection, type TestClient } from '../../helpers/clients.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { startTestWarden, testEnv, testSecrets, type TestWarden } from '../../helpers/warden.ts';

interface Claims {
  sid: string;
  jti: string;
  username: string;
}

const claimsOf = (token: string) => jwt.decode(token) as Claims;

/**
 * The token the client stored: a ticket's arrives just after the connect (#setAuthToken), and
 * the client's auth engine keeps it even when it arrives before the client finished its own
 * handshake processing (which then resets `socket.signedAuthToken`).
 */
async function tokenOf(client: TestClient): Promise<string> {
  while (client.auth.token === null) await client.socket.listener('authenticate').once();
  return client.auth.token;
}

async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

describe('tickets and auth codes', function () {
  this.timeout(60_000);
  let warden: TestWarden;
  let clock = Date.now();
  const clients: TestClient[] = [];

  before(async function () {
    warden = await startTestWarden({ TICKET_TTL: '30' }, { now: () => clock });
  });
  afterEach(function () {
    for (const client of clients.splice(0)) client.socket.disconnect();
  });
  after(async function () {
    await warden?.close();
  });

  async function login(): Promise<{ token: string; username: string; password: string }> {
    const { user, password } = await warden.createUser({ subscribe: ['chat.*'] });
    const { body } = await post(`${warden.url}/auth/login`, { username: user.username, password });
    return { token: body.token as string, username: user.username, password };
  }

  async function ticketFor(token: string): Promise<string> {
    const { status, body } = await post(
      `${warden.url}/auth/ticket`,
      {},
      { authorization: `Bearer ${token}` },
    );
    assert.equal(status, 201, JSON.stringify(body));
    assert.equal(typeof body.ticket, 'string');
    assert.equal(body.expiresAt, Math.floor(clock / 1000) + 30);
    return body.ticket as string;
  }

  async function connect(query?: Record<string, string>) {
    const client = await connectClient(warden.port, query === undefined ? {} : { query });
    clients.push(client);
    return client;
  }

  it('authenticates a handshake with a ticket in the URL, in the session of the token it was made from', async function () {
    const { token } = await login();
    const client = await connect({ ticket: await ticketFor(token) });
    assert.equal(client.status.isAuthenticated, true);
    const received = await tokenOf(client);
    assert.notEqual(received, token);
    assert.equal(claimsOf(received).sid, claimsOf(token).sid);
    assert.equal(client.socket.authState, 'authenticated');
  });

  it('refuses a used ticket with reason ticket-used, and revokes the session it belongs to', async function () {
    const { token } = await login();
    const ticket = await ticketFor(token);
    const first = await connect({ ticket });
    assert.equal(first.status.isAuthenticated, true);
    const ended = first.socket.receiver('warden:authEnded').once() as Promise<{ name: string }>;

    const replay = await connect({ ticket });
    assert.equal(replay.status.isAuthenticated, false);
    assert.equal(replay.status.authError?.name, 'LoginError');
    assert.equal(replay.status.authError?.reason, 'ticket-used');
    // The session the ticket belonged to ends everywhere: the socket it authenticated...
    assert.equal((await ended).name, 'AuthTokenRevokedError');
    // ...and the token it was made from.
    const again = await post(`${warden.url}/auth/ticket`, {}, { authorization: `Bearer ${token}` });
    assert.equal(again.status, 401);
    assert.equal((again.body.error as { name: string }).name, 'AuthTokenRevokedError');
  });

  it('refuses an expired ticket (injected clock) with reason ticket-expired', async function () {
    const { token } = await login();
    const ticket = await ticketFor(token);
    clock += 30_000;
    try {
      const client = await connect({ ticket });
      assert.equal(client.status.isAuthenticated, false);
      assert.equal(client.status.authError?.reason, 'ticket-expired');
    } finally {
      clock -= 30_000;
    }
  });

  it('refuses an unknown ticket, and anything not shaped like one, with reason ticket-unknown', async function () {
    for (const ticket of ['A'.repeat(43), 'not a ticket', '']) {
      const client = await connect({ ticket });
      assert.equal(client.status.isAuthenticated, false);
      assert.equal(client.status.authError?.name, 'LoginError');
      assert.equal(client.status.authError?.reason, 'ticket-unknown');
    }
  });

  it("redeems a ticket with invoke('login', {ticket}), refusing a second use the same way", async function () {
    const { token } = await login();
    const ticket = await ticketFor(token);
    const client = await connect();
    const stored = client.socket.listener('authenticate').once();
    await client.socket.invoke('login', { ticket });
    await stored;
    assert.equal(claimsOf(client.socket.signedAuthToken as string).sid, claimsOf(token).sid);

    const other = await connect();
    const error = await rejection(other.socket.invoke('login', { ticket }));
    assert.equal(error.name, 'LoginError');
    assert.equal(error.reason, 'ticket-used');
  });

  it('answers a login with "response": "code" with a code that starts a new session once redeemed', async function () {
    const { user, password } = await warden.createUser();
    const { status, body } = await post(`${warden.url}/auth/login`, {
      username: user.username,
      password,
      response: 'code',
    });
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.token, undefined);
    assert.equal(typeof body.code, 'string');
    assert.equal(body.expiresAt, Math.floor(clock / 1000) + 30);
    const client = await connect({ ticket: body.code as string });
    assert.equal(client.status.isAuthenticated, true);
    assert.equal(claimsOf(await tokenOf(client)).username, user.username);
    const replay = await connect({ ticket: body.code as string });
    assert.equal(replay.status.authError?.reason, 'ticket-used');
  });

  it('refuses a ticket whose user was disabled after it was made', async function () {
    const { user, password } = await warden.createUser();
    const { body } = await post(`${warden.url}/auth/login`, { username: user.username, password });
    const ticket = await ticketFor(body.token as string);
    await warden.worker.store.updateUser(user.username, { disabled: true });
    const client = await connect({ ticket });
    assert.equal(client.status.isAuthenticated, false);
    assert.equal(client.status.authError?.name, 'AuthTokenRevokedError');
  });

  it('answers 401 for a ticket request without a token, and 400 for an unknown "response"', async function () {
    const none = await post(`${warden.url}/auth/ticket`, {});
    assert.equal(none.status, 401);
    assert.equal((none.body.error as { name: string }).name, 'AuthTokenMissingError');
    const bad = await post(`${warden.url}/auth/login`, { username: 'a', password: 'b', response: 'cookie' });
    assert.equal(bad.status, 400);
  });
});

describe('a ticket raced across two workers sharing MariaDB', function () {
  this.timeout(60_000);
  const workers: WardenWorker[] = [];
  const clients: TestClient[] = [];
  let drop: () => Promise<void>;

  before(async function () {
    const db = await createTestDatabase();
    drop = db.drop;
    const secrets = testSecrets();
    for (let i = 0; i < 2; i++)
      workers.push(await startWorker({ config: parseConfig(testEnv(db.url), secrets), log: silentLogger }));
  });
  after(async function () {
    for (const client of clients) client.socket.disconnect();
    for (const worker of workers) await worker.close();
    await drop?.();
  });

  it('lets exactly one of two simultaneous redemptions, one on each worker, succeed; the other gets ticket-used', async function () {
    const [a, b] = workers as [WardenWorker, WardenWorker];
    const { TEST_HASH_COST } = await import('../../helpers/warden.ts');
    const { PasswordHasher } = await import('../../../auth/passwords.ts');
    const hasher = new PasswordHasher({ cost: TEST_HASH_COST });
    await a.store.createUser({
      username: 'racer',
      passwordHash: await hasher.hash('racer-password'),
      tenant: null,
      roles: [],
      publish: [],
      subscribe: [],
      invoke: [],
    });
    const { body } = await post(`${a.url}/auth/login`, { username: 'racer', password: 'racer-password' });
    for (let round = 0; round < 10; round++) {
      const ticket = await post(
        `${b.url}/auth/ticket`,
        {},
        { authorization: `Bearer ${body.token as string}` },
      );
      assert.equal(ticket.status, 201);
      // Sockets are connected first, so the redemptions (one invoke each) start together.
      const racers = await Promise.all([a, b].map((worker) => connectClient(worker.port)));
      clients.push(...racers);
      const outcomes = await Promise.allSettled(
        racers.map((racer) => racer.socket.invoke('login', { ticket: ticket.body.ticket })),
      );
      const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
      const reasons = outcomes
        .filter((outcome) => outcome.status === 'rejected')
        .map((outcome) => {
          const error = outcome.reason as { name: string; reason?: string; message: string };
          return error.reason ?? `${error.name}: ${error.message}`;
        });
      assert.equal(won.length, 1, `round ${round}: ${JSON.stringify(reasons)}`);
      assert.deepEqual(reasons, ['ticket-used']);
      for (const racer of racers) racer.socket.disconnect();
      // A replay revoked the session: log in again for the next round.
      const again = await post(`${a.url}/auth/login`, { username: 'racer', password: 'racer-password' });
      body.token = again.body.token;
    }
  });
});
