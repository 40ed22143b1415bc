import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { AGServer } from 'socketcluster-server';
import { RevocationList } from '../../../auth/revocations.ts';
import { ClusterControl } from '../../../cluster/cluster-control.ts';
import { ControlBus } from '../../../cluster/control-bus.ts';
import { parseControlMessage } from '../../../cluster/control-messages.ts';
import { silentLogger } from '../../../log/logger.ts';
import { openStore } from '../../../store/index.ts';
import type { Store } from '../../../store/types.ts';

/** A role change, from the store's log or the control bus, reaches onRoleChanged and nothing else. */
describe('cluster/cluster-control: role-changed', function () {
  let store: Store;
  let agServer: AGServer;
  let control: ClusterControl;
  let revocations: RevocationList;
  const changed: string[] = [];
  const usersChanged: string[] = [];
  const nowSeconds = Math.floor(Date.now() / 1000);

  beforeEach(async function () {
    store = openStore('sqlite::memory:');
    await store.migrate();
    agServer = new AGServer({ httpServer: createServer() });
    revocations = new RevocationList();
    changed.length = 0;
    usersChanged.length = 0;
    control = new ClusterControl({
      store,
      revocations,
      bus: new ControlBus({ exchange: agServer.exchange, origin: 'this-worker', log: silentLogger }),
      log: silentLogger,
      onRevoked: () => assert.fail('a role change is not a revocation'),
      onUserChanged: (userId) => usersChanged.push(userId),
      onRoleChanged: (role) => changed.push(role),
    });
  });
  afterEach(async function () {
    await control.stop();
    await store.close();
  });

  it('calls onRoleChanged for a role-changed event of the log still in force, and ignores an expired one', async function () {
    const live = await store.appendEvent({
      kind: 'role-changed',
      subject: 'chat',
      value: 0,
      expiresAt: nowSeconds + 60,
    });
    const old = await store.appendEvent({
      kind: 'role-changed',
      subject: 'old',
      value: 0,
      expiresAt: nowSeconds - 1,
    });
    control.handleEvent(live);
    control.handleEvent(old);
    assert.deepEqual(changed, ['chat']);
    assert.deepEqual(usersChanged, []);
    assert.equal(control.pendingCount, 0, 'nothing to write back');
  });

  it('calls onRoleChanged for a role-changed message on the bus, and refuses a malformed one', function () {
    const message = parseControlMessage({ type: 'role-changed', origin: 'other-worker', role: 'chat' });
    assert.ok(message !== null);
    control.handleMessage(message);
    assert.deepEqual(changed, ['chat']);
    assert.equal(parseControlMessage({ type: 'role-changed', origin: 'other-worker', role: '' }), null);
    assert.equal(parseControlMessage({ type: 'role-changed', origin: 'other-worker' }), null);
  });
});
