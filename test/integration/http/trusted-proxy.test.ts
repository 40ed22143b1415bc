import assert from 'node:assert/strict';
import { request } from 'node:http';
import socketClusterClient from 'socketcluster-client';
import { MemoryAuthEngine, rejection } from '../../helpers/clients.ts';
import { startNginx, type RunningNginx } from '../../helpers/nginx.ts';
import { startTestWarden, type TestWarden } from '../../helpers/warden.ts';

/**
 * Warden behind a real reverse proxy: Debian's nginx configured as ingress-nginx configures
 * itself. Clients reach nginx from different loopback addresses (127.0.0.2, 127.0.0.3, ...), as
 * users reach an ingress from different addresses; nginx reaches Warden from 127.0.0.1.
 */
function loginVia(
  url: string,
  from: string,
  username: string,
  password: string,
  spoofed?: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ username, password });
    const req = request(
      `${url}/auth/login`,
      {
        method: 'POST',
        localAddress: from,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...(spoofed === undefined ? {} : { 'x-forwarded-for': spoofed }),
        },
      },
      (response) => {
        response.resume();
        response.once('end', () => resolve(response.statusCode ?? 0));
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

/** A socketcluster-client that connects to nginx from the loopback address `from`. */
async function socketVia(port: number, from: string) {
  const socket = socketClusterClient.create({
    hostname: '127.0.0.1',
    port,
    authEngine: new MemoryAuthEngine() as never,
    autoReconnect: false,
    wsOptions: { localAddress: from } as never,
  });
  await socket.listener('connect').once();
  return socket;
}

describe('behind a trusted reverse proxy (nginx)', function () {
  this.timeout(60_000);
  let warden: TestWarden;
  let nginx: RunningNginx;

  describe('with TRUST_PROXY naming the proxy', function () {
    before(async function () {
      warden = await startTestWarden({
        TRUST_PROXY: '127.0.0.1',
        LOGIN_RATE_LIMIT: '4',
        LOGIN_FAILURE_LIMIT: '3',
      });
      nginx = await startNginx(warden.port);
    });
    after(async function () {
      await nginx?.stop();
      await warden?.close();
    });

    it('limits each client address on its own, and a spoofed X-Forwarded-For does not escape it', async function () {
      for (let i = 0; i < 4; i++) {
        const spoofed = `203.0.113.${i}`;
        assert.equal(await loginVia(nginx.url, '127.0.0.2', `nobody${i}`, 'wrong', spoofed), 401);
      }
      assert.equal(await loginVia(nginx.url, '127.0.0.2', 'nobody-else', 'wrong', '198.51.100.1'), 429);
      // Another user of the same ingress is not affected.
      const { user, password } = await warden.createUser();
      assert.equal(await loginVia(nginx.url, '127.0.0.3', user.username, password), 200);
    });

    it('keys socket logins through the proxied WebSocket upgrade on the client address too', async function () {
      const { user, password } = await warden.createUser();
      const socket = await socketVia(nginx.port, '127.0.0.4');
      try {
        for (let i = 0; i < 3; i++) {
          const error = await rejection(socket.invoke('login', { username: user.username, password: 'x' }));
          assert.equal(error.name, 'LoginError');
        }
        const limited = await rejection(socket.invoke('login', { username: user.username, password }));
        assert.equal(limited.name, 'RateLimitError');
      } finally {
        socket.disconnect();
      }
      // The same user through the same proxy from another address logs in.
      const elsewhere = await socketVia(nginx.port, '127.0.0.5');
      try {
        const result = (await elsewhere.invoke('login', { username: user.username, password })) as {
          username: string;
        };
        assert.equal(result.username, user.username);
      } finally {
        elsewhere.disconnect();
      }
    });

    it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async function () {
      for (let i = 0; i < 4; i++) {
        assert.equal(await loginVia(warden.url, '127.0.0.6', `x${i}`, 'wrong', `192.0.2.${i}`), 401);
      }
      assert.equal(await loginVia(warden.url, '127.0.0.6', 'x9', 'wrong', '192.0.2.99'), 429);
    });
  });

  describe('without TRUST_PROXY', function () {
    before(async function () {
      warden = await startTestWarden({ LOGIN_RATE_LIMIT: '4' });
      nginx = await startNginx(warden.port);
    });
    after(async function () {
      await nginx?.stop();
      await warden?.close();
    });

    it('sees every user of the proxy as the proxy (why TRUST_PROXY must be set behind one)', async function () {
      for (let i = 0; i < 4; i++) {
        assert.equal(await loginVia(nginx.url, `127.0.0.${10 + i}`, `n${i}`, 'wrong'), 401);
      }
      assert.equal(await loginVia(nginx.url, '127.0.0.20', 'n9', 'wrong'), 429);
    });
  });
});
