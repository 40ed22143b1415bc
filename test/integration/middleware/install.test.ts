import assert from 'node:assert/strict';
import type { AGClientSocket } from 'socketcluster-client';
import type { AGServerSocket } from 'socketcluster-server';
import { connectClient } from '../../helpers/clients.ts';
import { startTestWarden, type TestWarden } from '../../helpers/warden.ts';

/** The per-socket INBOUND middleware stream SocketCluster creates, with its public consumer count. */
function inboundConsumers(socket: AGServerSocket): number {
  const stream = (socket as unknown as { middlewareInboundStream: { getConsumerCount(): number } })
    .middlewareInboundStream;
  return stream.getConsumerCount();
}

describe('middleware/install: INBOUND actions decided as they arrive', function () {
  let warden: TestWarden;
  let token: string;
  const sockets: AGClientSocket[] = [];

  before(async function () {
    warden = await startTestWarden();
    const { user } = await warden.createUser({ publish: ['chat.*'], subscribe: ['chat.*'] });
    token = warden.worker.tokens.sign(warden.worker.tokens.claimsFor(user));
  });
  after(async function () {
    for (const socket of sockets.splice(0)) socket.disconnect();
    await warden.close();
  });

  it('holds no consumer loop per socket, and still allows, refuses and orders every action', async function () {
    const { socket: client } = await connectClient(warden.port, { token });
    sockets.push(client);
    const server = Object.values(warden.worker.agServer.clients).find((s) => s.id === client.id);
    assert.ok(server, 'the server knows the socket');
    assert.equal(server.authState, 'authenticated');
    assert.equal(inboundConsumers(server as AGServerSocket), 0);

    const channel = client.subscribe('chat.lobby');
    await channel.listener('subscribe').once();
    const received: number[] = [];
    void (async () => {
      for await (const data of channel) received.push(data as number);
    })();
    const refused = client.invokePublish('news', 0).then(
      () => null,
      (error: Error) => error.name,
    );
    await Promise.all([1, 2, 3, 4, 5].map((n) => client.invokePublish('chat.lobby', n)));
    assert.equal(await refused, 'PublishError');
    await assert.rejects(client.invoke('no-such-procedure', {}), { name: 'InvokeError' });
    while (received.length < 5) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(received, [1, 2, 3, 4, 5]);
    assert.equal(inboundConsumers(server as AGServerSocket), 0);
    assert.equal(client.state, 'open');
  });
});
