import assert from 'node:assert/strict';
import type { AGClientSocket } from 'socketcluster-client';
import type { AGServerSocket } from 'socketcluster-server';
import { connectClient } from '../../helpers/clients.ts';
import { startTestWarden, type TestWarden } from '../../helpers/warden.ts';

/** Consumers of a server socket's procedure streams (SC's public stats API). */
function procedureConsumers(socket: AGServerSocket): number {
  const stats = socket as unknown as { getAllProceduresConsumerStatsList(): unknown[] };
  return stats.getAllProceduresConsumerStatsList().length;
}

describe('WebSocket procedures: served on demand', function () {
  let warden: TestWarden;
  const sockets: AGClientSocket[] = [];
  let token: string;

  before(async function () {
    warden = await startTestWarden();
    const { user } = await warden.createUser({ invoke: ['whoami'] });
    token = warden.worker.tokens.sign(warden.worker.tokens.claimsFor(user));
  });
  afterEach(function () {
    for (const socket of sockets.splice(0)) socket.disconnect();
  });
  after(async function () {
    await warden.close();
  });

  async function connected(): Promise<{ client: AGClientSocket; server: AGServerSocket }> {
    const { socket } = await connectClient(warden.port, { token });
    sockets.push(socket);
    const server = Object.values(warden.worker.agServer.clients).find((s) => s.id === socket.id);
    assert.ok(server, 'the server knows the socket');
    return { client: socket, server: server as AGServerSocket };
  }

  it('holds no procedure loop on an idle authenticated socket', async function () {
    const { server } = await connected();
    assert.equal(server.authState, 'authenticated');
    assert.equal(procedureConsumers(server), 0);
  });

  it('answers a procedure, then lets its loop go', async function () {
    const { client, server } = await connected();
    const claims = (await client.invoke('whoami', {})) as { sub: string };
    assert.equal(typeof claims.sub, 'string');
    assert.equal(procedureConsumers(server), 0);
  });

  it('answers every one of many requests sent at once, in one frame and in many', async function () {
    const { client, server } = await connected();
    // socketcluster-client batches what is sent in one tick into one frame when batching is on;
    // without it each is its own frame: both orders of "allowed" and "received" occur.
    const answers = await Promise.all(Array.from({ length: 50 }, () => client.invoke('whoami', {})));
    assert.equal(answers.length, 50);
    for (let round = 0; round < 20; round++) {
      await Promise.all([client.invoke('whoami', {}), client.invoke('whoami', {})]);
    }
    assert.equal(procedureConsumers(server), 0);
  });

  it('still logs out and logs in on a socket that has invoked nothing before', async function () {
    const { client } = await connected();
    await client.invoke('logout', {});
    assert.equal(client.authState, 'unauthenticated');
  });
});
