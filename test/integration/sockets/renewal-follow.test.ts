import assert from 'node:assert/strict';
import jwt from 'jsonwebtoken';
import type { TokenClaims } from '../../../auth/tokens.ts';
import { connectClient, socketLogin, type TestClient } from '../../helpers/clients.ts';
import { startTestWarden, type TestWarden } from '../../helpers/warden.ts';

const claimsOf = (token: string) => jwt.decode(token) as TokenClaims;

/**
 * Two sockets holding one token (two tabs of one browser, which share its storage): one renewal
 * per token, which the other socket's client adopts, rather than one renewal per socket. With an
 * injected clock: `runDue()` is what the worker's timer does when the time comes.
 */
describe('renewal of a token that several sockets hold', function () {
  let clock = Math.floor(Date.now() / 1000) * 1000;
  let warden: TestWarden;
  const clients: TestClient[] = [];
  before(async function () {
    warden = await startTestWarden(
      { TOKEN_TTL: '3600', TOKEN_RENEW_INTERVAL: '1800', TOKEN_REUSE_GRACE: '10' },
      { now: () => clock },
    );
  });
  afterEach(function () {
    for (const client of clients.splice(0)) client.socket.disconnect();
  });
  after(async function () {
    await warden?.close();
  });

  /** Two sockets on one token; `tokens(i)` lists the tokens socket i received after that. */
  async function twoHolders() {
    const { user, password } = await warden.createUser();
    const first = await connectClient(warden.port);
    clients.push(first);
    const token = await socketLogin(first, user.username, password);
    const second = await connectClient(warden.port, { token });
    clients.push(second);
    assert.equal(second.status.isAuthenticated, true);
    const pair = [first, second] as const;
    const received: string[][] = [[], []];
    pair.forEach((client, i) => {
      void (async () => {
        for await (const { signedAuthToken } of client.socket.listener('authenticate'))
          (received[i] as string[]).push(signedAuthToken as string);
      })();
    });
    return { pair, received, token };
  }

  /** Round trips on both sockets: whatever the server sent them before has arrived. */
  const settle = (pair: readonly TestClient[]) =>
    Promise.all(pair.map((client) => client.socket.invoke('whoami', {}).catch(() => undefined)));

  it('renews one socket and lets the other follow with the new token: one renewal per token', async function () {
    const { pair, received, token } = await twoHolders();
    clock += 1800 * 1000;
    const renewed = Promise.race(pair.map((client) => client.socket.listener('authenticate').once()));
    warden.worker.lifecycle.runDue();
    await renewed;
    await settle(pair);
    const counts = received.map((tokens) => tokens.length).sort();
    assert.deepEqual(counts, [0, 1], 'exactly one of the two sockets was renewed');
    const fresh = received.flat()[0] as string;
    assert.notEqual(claimsOf(fresh).jti, claimsOf(token).jti);

    // The other tab's client adopts it (what warden-client does), and no second renewal follows.
    const follower = pair[received[0]?.length === 0 ? 0 : 1] as TestClient;
    const status = await follower.socket.authenticate(fresh);
    assert.equal(status.isAuthenticated, true);
    clock += 5_000;
    warden.worker.lifecycle.runDue();
    await settle(pair);
    assert.deepEqual(
      received.map((tokens) => tokens.length).sort(),
      [1, 1],
      'the follower holds the one new token; nobody was renewed again',
    );
  });

  it('renews the other socket itself when its client does not follow', async function () {
    const { pair, received } = await twoHolders();
    clock += 1800 * 1000;
    const renewed = Promise.race(pair.map((client) => client.socket.listener('authenticate').once()));
    warden.worker.lifecycle.runDue();
    await renewed;
    await settle(pair);
    const waiting = pair[received[0]?.length === 0 ? 0 : 1] as TestClient;
    const own = waiting.socket.listener('authenticate').once();
    clock += 2_500;
    warden.worker.lifecycle.runDue();
    await own;
    await settle(pair);
    assert.deepEqual(
      received.map((tokens) => tokens.length),
      [1, 1],
    );
    assert.notEqual(claimsOf(received[0]?.[0] as string).jti, claimsOf(received[1]?.[0] as string).jti);
  });
});
