import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGServer } from 'socketcluster-server';
import { RevocationList } from '../../../auth/revocations.ts';
import { ClusterControl } from '../../../cluster/cluster-control.ts';
import { ControlBus } from '../../../cluster/control-bus.ts';
import { CONTROL_CHANNEL } from '../../../cluster/control-messages.ts';
import { silentLogger } from '../../../log/logger.ts';
import { openStore } from '../../../store/index.ts';
import type { Store } from '../../../store/types.ts';
import { Revocations } from '../../../auth/revocations.ts';

/** ClusterControl over a real SQLite store and a real AGServer exchange (no network needed). */
describe('cluster/cluster-control ClusterControl', function () {
  let dir: string;
  let store: Store;
  let agServer: AGServer;
  let control: ClusterControl;
  let revocations: RevocationList;
  const broadcasts: unknown[] = [];

  beforeEach(async function () {
    dir = mkdtempSync(join(tmpdir(), 'warden-control-'));
    store = openStore(`sqlite:${join(dir, 'warden.db')}`);
    await store.migrate();
    agServer = new AGServer({ httpServer: createServer() });
    const bus = new ControlBus({ exchange: agServer.exchange, origin: 'this-worker', log: silentLogger });
    revocations = new RevocationList();
    control = new ClusterControl({
      store,
      revocations,
      bus,
      log: silentLogger,
      onRevoked: () => {},
      onUserChanged: () => {},
    });
    broadcasts.length = 0;
    const channel = agServer.exchange.subscribe(CONTROL_CHANNEL);
    void (async () => {
      for await (const message of channel) broadcasts.push(message);
    })();
  });
  afterEach(async function () {
    await control.stop();
    agServer.exchange.unsubscribe(CONTROL_CHANNEL);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const expiresAt = Math.floor(Date.now() / 1000) + 3600;

  it('writes a wave of renewal replacements in batches, without a broadcast per renewal', async function () {
    const replaced = Array.from({ length: 450 }, (_, i) => ({
      subject: `jti-${i}`,
      ...Revocations.replaced({ jti: `jti-${i}`, exp: expiresAt }, 1000 + i),
    }));
    await Promise.all(replaced.map((revocation) => control.revoke(revocation)));
    // Applied on this worker at once, before anything is written.
    assert.equal(revocations.replacedAt('jti-0'), 1000);
    await control.flushPending();
    assert.equal(control.pendingCount, 0);
    const stored = await store.eventsAfter(0, 1000);
    assert.deepEqual(
      stored.map((event) => event.subject),
      replaced.map((revocation) => revocation.subject),
    );
    // A logout afterwards is broadcast; once it has arrived, it is the only broadcast there was.
    const arrived = agServer.exchange.channel(CONTROL_CHANNEL).once();
    await control.revoke(Revocations.ofToken({ jti: 'logged-out', exp: expiresAt }));
    await arrived;
    assert.deepEqual(
      broadcasts.map((message) => (message as { revocation: { subject: string } }).revocation.subject),
      ['logged-out'],
    );
  });

  it('has a logout written by the time revoke() resolves', async function () {
    await control.revoke(Revocations.ofToken({ jti: 'logged-out', exp: expiresAt }));
    assert.deepEqual(
      (await store.eventsAfter(0, 10)).map((event) => event.subject),
      ['logged-out'],
    );
  });
});
