import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AGClientSocket } from 'socketcluster-client';
import { parseConfig } from '../../../config/index.ts';
import type { Logger } from '../../../log/logger.ts';
import { startWorker, type WardenWorker } from '../../../worker/create-worker.ts';
import { rejection } from '../../helpers/clients.ts';
import { connect, userinfo } from '../../helpers/gateway.ts';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { startNginx, type RunningNginx } from '../../helpers/nginx.ts';
import { testEnv, testSecrets } from '../../helpers/warden.ts';

/**
 * Warden behind a gateway that authenticated the user (APISIX's openid-connect with
 * `set_userinfo_header`), played by Debian's nginx adding the identity header and the shared
 * secret on the upgrade. nginx reaches Warden from 127.0.0.1 (the trusted gateway); clients
 * that reach Warden themselves do so from 127.0.0.2 and up.
 */
const SECRET = randomBytes(24).toString('hex');

interface Warning {
  readonly message: string;
  readonly fields: Record<string, unknown> | undefined;
}

function capturingLogger(warnings: Warning[]): Logger {
  return { debug() {}, info() {}, error() {}, warn: (message, fields) => warnings.push({ message, fields }) };
}

describe('gateway identity behind a real proxy (nginx)', function () {
  this.timeout(60_000);
  const warnings: Warning[] = [];
  const proxies: RunningNginx[] = [];
  const sockets: AGClientSocket[] = [];
  let worker: WardenWorker;
  let drop: () => Promise<void>;
  const alice = { sub: 'kc-alice', preferred_username: 'alice', realm_access: { roles: ['chat'] } };

  async function start(overrides: Record<string, string>): Promise<WardenWorker> {
    const db = await createTestDatabase();
    drop = db.drop;
    const config = parseConfig(
      testEnv(db.url, {
        GATEWAY_IDENTITY_HEADER: 'X-Userinfo',
        GATEWAY_TRUSTED_PROXIES: '127.0.0.1',
        GATEWAY_SECRET_HEADER: 'X-Gateway-Secret',
        GATEWAY_SECRET: SECRET,
        ...overrides,
      }),
      testSecrets(),
    );
    const started = await startWorker({ config, log: capturingLogger(warnings) });
    await started.store.createRole({
      name: 'chat',
      publish: ['chat.*'],
      subscribe: ['chat.*'],
      invoke: ['whoami'],
    });
    return started;
  }

  async function proxy(headers: Record<string, string>): Promise<RunningNginx> {
    const nginx = await startNginx(worker.port, { headers });
    proxies.push(nginx);
    return nginx;
  }

  async function connected(port: number, from: string, headers?: Record<string, string>) {
    const outcome = await connect(port, from, headers);
    assert.ok(outcome.connected, `refused with ${outcome.connected ? '' : outcome.code}`);
    sockets.push(outcome.socket);
    return outcome;
  }

  afterEach(function () {
    for (const socket of sockets.splice(0)) socket.disconnect();
  });

  describe('GATEWAY_UNAUTH_ACTION=deny (the default)', function () {
    before(async function () {
      worker = await start({});
    });
    after(async function () {
      for (const nginx of proxies.splice(0)) await nginx.stop();
      await worker?.close();
      await drop?.();
    });

    it("authenticates the upgrade with the role's patterns, with no token for the client", async function () {
      const nginx = await proxy({ 'X-Userinfo': userinfo(alice), 'X-Gateway-Secret': SECRET });
      const { socket, status } = await connected(nginx.port, '127.0.0.2');
      assert.equal(status.isAuthenticated, true);
      assert.equal(socket.signedAuthToken, null, 'nothing was signed for the client');
      const me = (await socket.invoke('whoami', {})) as Record<string, unknown>;
      assert.equal(me.username, 'alice');
      assert.equal(me.sub, 'kc-alice');
      assert.deepEqual(me.publish, ['chat.*']);
      await socket.invokePublish('chat.lobby', 'hello');
      const refused = await rejection(socket.invokePublish('admin.lobby', 'hello'));
      assert.equal(refused.name, 'PublishError');
      assert.equal(refused.reason, 'not-allowed');
      // A session of its own, capped by SESSION_MAX_AGE, never renewed.
      const claims = worker.registry.claims(Object.values(worker.agServer.clients)[0] as never);
      assert.equal(claims?.direct, true);
      assert.equal(claims?.idp, 'gateway');
      assert.equal((claims?.exp ?? 0) - (claims?.auth_time ?? 0), worker.config.sessionMaxAge);
    });

    it('gives a user without the role no patterns', async function () {
      const nobody = { sub: 'kc-bob', preferred_username: 'bob', realm_access: { roles: ['other'] } };
      const nginx = await proxy({ 'X-Userinfo': userinfo(nobody), 'X-Gateway-Secret': SECRET });
      const { socket, status } = await connected(nginx.port, '127.0.0.2');
      assert.equal(status.isAuthenticated, true);
      const refused = await rejection(socket.invokePublish('chat.lobby', 'hello'));
      assert.equal(refused.reason, 'not-allowed');
    });

    it('ignores a forged header sent directly from an untrusted address, logs and counts it', async function () {
      warnings.length = 0;
      const headers = { 'X-Userinfo': userinfo(alice), 'X-Gateway-Secret': SECRET };
      const { socket, status } = await connected(worker.port, '127.0.0.3', headers);
      assert.equal(status.isAuthenticated, false);
      const refused = await rejection(socket.invokePublish('chat.lobby', 'forged'));
      assert.equal(refused.reason, 'unauthenticated');
      // A second forgery within the minute is counted, not logged again.
      const again = await connected(worker.port, '127.0.0.3', headers);
      assert.equal(again.status.isAuthenticated, false);
      const logged = warnings.filter((w) => w.message.startsWith('gateway identity header ignored'));
      assert.equal(logged.length, 1);
      assert.equal(logged[0]?.fields?.peer, '127.0.0.3');
      assert.equal(JSON.stringify(logged).includes(SECRET), false, 'the secret is never logged');
    });

    it('gains nothing through the gateway without the secret, or with a wrong one', async function () {
      for (const secret of [undefined, 'x'.repeat(SECRET.length)]) {
        const nginx = await proxy({
          'X-Userinfo': userinfo(alice),
          ...(secret === undefined ? {} : { 'X-Gateway-Secret': secret }),
        });
        const { status } = await connected(nginx.port, '127.0.0.2');
        assert.equal(status.isAuthenticated, false, `secret ${secret === undefined ? 'missing' : 'wrong'}`);
      }
    });

    it("refuses the gateway's upgrade without identity, with a code the client does not retry", async function () {
      const nginx = await proxy({ 'X-Gateway-Secret': SECRET });
      const outcome = await connect(nginx.port, '127.0.0.2');
      assert.equal(outcome.connected, false);
      if (outcome.connected) return;
      assert.equal(outcome.code, 4510);
      assert.equal(outcome.error?.name, 'GatewayIdentityError');
      assert.equal(outcome.error?.reason, 'no-identity');
    });

    it('refuses an identity header it cannot read', async function () {
      const nginx = await proxy({
        'X-Userinfo': userinfo({ preferred_username: 'nosub' }),
        'X-Gateway-Secret': SECRET,
      });
      const outcome = await connect(nginx.port, '127.0.0.2');
      assert.equal(outcome.connected, false);
      if (outcome.connected) return;
      assert.equal(outcome.code, 4510);
      assert.equal(outcome.error?.reason, 'invalid-identity');
    });
  });

  describe('GATEWAY_UNAUTH_ACTION=pass', function () {
    before(async function () {
      worker = await start({ GATEWAY_UNAUTH_ACTION: 'pass' });
    });
    after(async function () {
      for (const nginx of proxies.splice(0)) await nginx.stop();
      await worker?.close();
      await drop?.();
    });

    it("admits the gateway's upgrade without identity unauthenticated, and one with identity authenticated", async function () {
      const anonymous = await connected((await proxy({ 'X-Gateway-Secret': SECRET })).port, '127.0.0.2');
      assert.equal(anonymous.status.isAuthenticated, false);
      const refused = await rejection(anonymous.socket.invokePublish('chat.lobby', 'hello'));
      assert.equal(refused.reason, 'unauthenticated');
      const nginx = await proxy({ 'X-Userinfo': userinfo(alice), 'X-Gateway-Secret': SECRET });
      const { socket, status } = await connected(nginx.port, '127.0.0.2');
      assert.equal(status.isAuthenticated, true);
      await socket.invokePublish('chat.lobby', 'hello');
    });
  });
});
