import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import socketClusterClient, { type AGClientSocket } from 'socketcluster-client';
import { startStateServer, type StateServer } from '../../../cluster/state-server.ts';
import { silentLogger } from '../../../log/logger.ts';

/**
 * Warden's state server speaks SCC 10's protocol to components that present SCC_AUTH_KEY: here
 * driven by plain socketcluster-clients playing broker and worker, the way scc-broker 10 and
 * scc-broker-client 10 do (the real ones are in supervisor.test.ts and the topology test).
 */
describe('cluster/state-server: the SCC state protocol', function () {
  const authKey = randomBytes(32).toString('hex');
  let state: StateServer;
  const sockets: AGClientSocket[] = [];

  before(async function () {
    state = await startStateServer({
      port: 0,
      host: '127.0.0.1',
      authKey,
      log: silentLogger,
      startupDelay: 0,
      scaleOutDelay: 0,
      scaleBackDelay: 0,
    });
  });
  afterEach(function () {
    for (const socket of sockets.splice(0)) socket.disconnect();
  });
  after(async function () {
    await state.close();
  });

  function component(query: Record<string, string>): AGClientSocket {
    const socket = socketClusterClient.create({
      hostname: '127.0.0.1',
      port: state.port,
      query,
      autoReconnect: false,
    });
    sockets.push(socket);
    return socket;
  }

  const broker = (port: number, key = authKey, version = '10.0.1') =>
    component({ authKey: key, instanceType: 'scc-broker', instancePort: String(port), version });
  const worker = (port: number) =>
    component({ authKey, instanceType: 'scc-worker', instancePort: String(port), version: '10.0.0' });

  /** The named error with which the handshake of `socket` was refused. */
  async function refusal(socket: AGClientSocket): Promise<{ name: string; message: string }> {
    const { error } = (await socket.listener('error').once()) as { error: { name: string; message: string } };
    return error;
  }

  it('answers a plain HTTP request with an empty 404: nothing about the cluster without the key', async function () {
    const member = broker(9301);
    await member.invoke('sccBrokerJoinCluster', { instanceId: 'b0', instanceIp: '127.0.0.1' });
    for (const path of ['/', '/socketcluster/', '/?authKey=wrong']) {
      const response = await fetch(`http://127.0.0.1:${state.port}${path}`);
      assert.equal(response.status, 404, path);
      assert.equal(await response.text(), '', path);
    }
  });

  it('refuses a component without the right SCC_AUTH_KEY', async function () {
    const error = await refusal(broker(9001, 'not-the-key'));
    assert.equal(error.name, 'BadClusterAuthError');
  });

  it('refuses a component of another major version (scc 9)', async function () {
    const error = await refusal(broker(9001, authKey, '9.3.0'));
    assert.equal(error.name, 'CompatibilityError');
  });

  it('tells a joining worker the brokers, and every worker each scale-out and scale-back, with newer times', async function () {
    const first = broker(9101);
    await first.invoke('sccBrokerJoinCluster', { instanceId: 'b1', instanceIp: '127.0.0.1' });
    const w = worker(9201);
    const joined = (await w.invoke('sccWorkerJoinCluster', {
      instanceId: 'w1',
      instanceIp: '127.0.0.1',
    })) as {
      sccBrokerURIs: string[];
      sccWorkerURIs: string[];
      time: number;
    };
    assert.deepEqual(joined.sccBrokerURIs, ['ws://127.0.0.1:9101']);
    assert.deepEqual(joined.sccWorkerURIs, ['ws://127.0.0.1:9201']);

    const grew = w.procedure('sccBrokerJoinCluster').once();
    const second = broker(9102);
    await second.invoke('sccBrokerJoinCluster', { instanceId: 'b2', instanceIp: '127.0.0.1' });
    const growth = (await grew) as { data: { sccBrokerURIs: string[]; time: number }; end(): void };
    growth.end();
    assert.deepEqual(growth.data.sccBrokerURIs, ['ws://127.0.0.1:9101', 'ws://127.0.0.1:9102']);
    assert.ok(growth.data.time > joined.time);

    const shrank = w.procedure('sccBrokerLeaveCluster').once();
    first.disconnect();
    const shrink = (await shrank) as { data: { sccBrokerURIs: string[]; time: number }; end(): void };
    shrink.end();
    assert.deepEqual(shrink.data.sccBrokerURIs, ['ws://127.0.0.1:9102']);
    assert.ok(shrink.data.time > growth.data.time);
    assert.deepEqual(state.brokerURIs(), ['ws://127.0.0.1:9102']);
  });
});
