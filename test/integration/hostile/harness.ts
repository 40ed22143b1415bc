import assert from 'node:assert/strict';
import type { AGClientSocket } from 'socketcluster-client';
import { connectClient, socketLogin, type ConnectStatus, type TestClient } from '../../helpers/clients.ts';
import { startTestWarden, type TestWarden } from '../../helpers/warden.ts';
import type { User } from '../../../store/types.ts';
import { RawSocket } from './wire.ts';

/** One hostile input and what it must produce; `run` asserts the named error or close code. */
export interface HostileCase {
  readonly name: string;
  readonly run: (h: Hostile) => Promise<void>;
}

/** What a case may use: the worker, its clock, and sockets that are closed after the case. */
export interface Hostile {
  readonly warden: TestWarden;
  /** Moves the worker's clock (it stands still otherwise: rate-limit counts are exact). */
  advance(ms: number): void;
  /** A raw WebSocket with the SocketCluster handshake done (with `token` when given). */
  raw(token?: string | null): Promise<RawSocket>;
  /** A raw WebSocket before any SocketCluster frame. */
  rawOpen(options?: Parameters<typeof RawSocket.open>[1]): Promise<RawSocket>;
  /** A socketcluster-client connection. */
  client(options?: { token?: string }): Promise<TestClient & { status: ConnectStatus }>;
  /** A user of its own with these claims, logged in on a socketcluster-client connection. */
  loggedIn(
    spec?: Parameters<TestWarden['createUser']>[0],
  ): Promise<{ client: TestClient; user: User; token: string }>;
  /** A signed token of a fresh user with these claims. */
  token(spec?: Parameters<TestWarden['createUser']>[0]): Promise<{ token: string; user: User }>;
}

/**
 * Runs a table of hostile cases against one worker. A control client (authenticated,
 * subscribed to `control.ping`) must receive a publish after every case: whatever a case
 * did, the server still serves everyone else.
 *
 * @example
 *   hostileSuite('raw frames', {}, [{ name: '...', run: async (h) => { ... } }]);
 */
export function hostileSuite(
  title: string,
  env: Record<string, string>,
  cases: readonly HostileCase[],
): void {
  describe(`Hostile input: ${title}`, function () {
    let warden: TestWarden;
    let offset = 0;
    const base = Date.now();
    let control: {
      channel: ReturnType<AGClientSocket['subscribe']>;
      publisher: TestClient;
      sockets: TestClient[];
    };
    let pings = 0;
    const raws: RawSocket[] = [];
    const clients: TestClient[] = [];

    before(async function () {
      warden = await startTestWarden(env, { now: () => base + offset });
      const { user, password } = await warden.createUser({
        subscribe: ['control.>'],
        publish: ['control.>'],
      });
      const listener = await connectClient(warden.port);
      const publisher = await connectClient(warden.port);
      await socketLogin(listener, user.username, password);
      await socketLogin(publisher, user.username, password);
      const channel = listener.socket.subscribe('control.ping');
      await channel.listener('subscribe').once();
      control = { channel, publisher, sockets: [listener, publisher] };
    });
    afterEach(async function () {
      for (const raw of raws.splice(0)) raw.close();
      for (const client of clients.splice(0)) client.socket.disconnect();
    });
    after(async function () {
      for (const client of control.sockets) client.socket.disconnect();
      await warden.close();
    });

    const h: Hostile = {
      get warden() {
        return warden;
      },
      advance: (ms) => {
        offset += ms;
      },
      async raw(token = null) {
        const socket = await RawSocket.connect(warden.port, token);
        raws.push(socket);
        return socket;
      },
      async rawOpen(options) {
        const socket = await RawSocket.open(warden.port, options);
        raws.push(socket);
        return socket;
      },
      async client(options = {}) {
        const client = await connectClient(warden.port, options);
        clients.push(client);
        return client;
      },
      async loggedIn(spec) {
        const { user, password } = await warden.createUser(spec);
        const client = await h.client();
        const token = await socketLogin(client, user.username, password);
        return { client, user, token };
      },
      async token(spec) {
        const { user } = await warden.createUser(spec);
        return { token: warden.worker.tokens.issue(user).token, user };
      },
    };

    for (const hostile of cases) {
      it(hostile.name, async function () {
        await hostile.run(h);
        const ping = ++pings;
        const received = control.channel.once(10_000);
        await control.publisher.socket.invokePublish('control.ping', ping);
        assert.equal(await received, ping, 'the control client received the publish');
      });
    }
  });
}
