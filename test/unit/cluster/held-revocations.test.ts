import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGServer } from 'socketcluster-server';
import { RevocationList } from '../../../auth/revocations.ts';
import { ClusterControl } from '../../../cluster/cluster-control.ts';
import { ControlBus } from '../../../cluster/control-bus.ts';
import { parseControlMessage } from '../../../cluster/control-messages.ts';
import { silentLogger } from '../../../log/logger.ts';
import { openStore } from '../../../store/index.ts';
import type { Store } from '../../../store/types.ts';
import { Revocations, toRecord } from '../../../auth/revocations.ts';

/**
 * Two ClusterControls ("workers" a and b) on one real AGServer exchange, each with its own SQLite
 * store: a's store is closed (down), b's answers. A revocation a cannot write is held by b.
 */
describe('cluster/cluster-control: revocations the store did not take', function () {
  let dir: string;
  let agServer: AGServer;
  const stores: Store[] = [];
  const controls: ClusterControl[] = [];

  function worker(name: string, store: Store) {
    const bus = new ControlBus({ exchange: agServer.exchange, origin: name, log: silentLogger });
    const revocations = new RevocationList();
    const control = new ClusterControl({
      store,
      revocations,
      bus,
      log: silentLogger,
      onRevoked: () => {},
      onUserChanged: () => {},
    });
    bus.start((message) => control.handleMessage(message));
    controls.push(control);
    return { control, revocations };
  }

  beforeEach(async function () {
    dir = mkdtempSync(join(tmpdir(), 'warden-held-'));
    agServer = new AGServer({ httpServer: createServer() });
    for (const name of ['a', 'b']) {
      const store = openStore(`sqlite:${join(dir, `${name}.db`)}`);
      await store.migrate();
      stores.push(store);
    }
  });
  afterEach(async function () {
    for (const control of controls.splice(0)) await control.stop();
    for (const store of stores.splice(0)) await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const expiresAt = Math.floor(Date.now() / 1000) + 3600;
  const logout = Revocations.ofToken({ jti: 'logged-out-jti', exp: expiresAt });
  const logoutRecord = toRecord(logout);

  it('is held by the other worker, which confirms before revoke() resolves and writes it when its store answers', async function () {
    const [storeA, storeB] = stores as [Store, Store];
    const a = worker('a', storeA);
    const b = worker('b', storeB);
    await storeA.close();

    await a.control.revoke(logout);
    // Confirmed by b before the call resolved: b already holds it, unwritten.
    assert.equal(b.control.pendingCount, 1);
    assert.equal(a.control.pendingCount, 1);
    assert.equal(b.revocations.size, 1);

    await b.control.flushPending();
    assert.equal(b.control.pendingCount, 0);
    assert.deepEqual(
      (await storeB.activeRevocations(0)).map((event) => [event.kind, event.subject]),
      [['token', logoutRecord.subject]],
    );
  });

  it('is not held by others once it is written', async function () {
    const [storeA, storeB] = stores as [Store, Store];
    const a = worker('a', storeA);
    const b = worker('b', storeB);
    await a.control.revoke(logout);
    assert.equal(a.control.pendingCount, 0);
    assert.equal(b.control.pendingCount, 0);
  });

  it('drops a held revocation that it reads in the store log (someone else wrote it)', async function () {
    const [storeA, storeB] = stores as [Store, Store];
    const a = worker('a', storeA);
    const b = worker('b', storeB);
    await storeA.close();
    await a.control.revoke(logout);
    assert.equal(b.control.pendingCount, 1);
    b.control.handleEvent({ id: 1, createdAt: 0, ...logoutRecord });
    assert.equal(b.control.pendingCount, 0);
  });

  it('reads a revoke message of an older worker (no `durable`) as not yet written', function () {
    const message = parseControlMessage({ type: 'revoke', origin: 'old', revocation: logout });
    assert.equal(message?.type === 'revoke' && message.durable, false);
  });
});
