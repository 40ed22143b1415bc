import assert from 'node:assert/strict';
import { connectClient, type TestClient } from '../../helpers/clients.ts';
import { startTestWarden, type TestWarden } from '../../helpers/warden.ts';

interface Answer {
  status: number;
  body: Record<string, unknown>;
  cookie: string | null;
}

async function post(url: string, headers: Record<string, string>, body: unknown = {}): Promise<Answer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
    cookie: response.headers.get('set-cookie'),
  };
}

/** `warden_session=<value>` from a Set-Cookie header. */
function cookiePair(setCookie: string | null): string {
  assert.ok(setCookie !== null, 'a Set-Cookie header');
  return setCookie.split(';')[0] as string;
}

describe('cookie sessions (AUTH_COOKIE=on)', function () {
  this.timeout(60_000);
  let warden: TestWarden;
  let origin: string;
  let clock = Date.now();
  const clients: TestClient[] = [];

  before(async function () {
    warden = await startTestWarden(
      { AUTH_COOKIE: 'on', TOKEN_REUSE_GRACE: '5', REVOCATION_POLL_INTERVAL: '250' },
      { now: () => clock },
    );
    origin = `http://127.0.0.1:${warden.port}`;
  });
  afterEach(function () {
    for (const client of clients.splice(0)) client.socket.disconnect();
  });
  after(async function () {
    await warden?.close();
  });

  async function cookieLogin(): Promise<{ cookie: string; setCookie: string; userId: string }> {
    const { user, password } = await warden.createUser({ subscribe: ['chat.*'] });
    const answer = await post(`${warden.url}/auth/login`, { origin }, { username: user.username, password });
    assert.equal(answer.status, 200);
    return { cookie: cookiePair(answer.cookie), setCookie: answer.cookie as string, userId: user.id };
  }

  async function connect(headers: Record<string, string>, withOrigin?: string) {
    const client = await connectClient(warden.port, {
      headers,
      ...(withOrigin === undefined ? {} : { origin: withOrigin }),
    });
    clients.push(client);
    return client;
  }

  it('sets an HttpOnly, SameSite=Strict cookie for Path=/ living as long as the token, on a login from an allowed Origin only', async function () {
    const { setCookie } = await cookieLogin();
    assert.match(
      setCookie,
      /^warden_session=[A-Za-z0-9_.-]+; Max-Age=3600; Path=\/; HttpOnly; SameSite=Strict$/,
    );
    // Own origin is plain-http localhost here: no Secure (a browser would not store it).
    const { user, password } = await warden.createUser();
    const noOrigin = await post(`${warden.url}/auth/login`, {}, { username: user.username, password });
    assert.equal(noOrigin.cookie, null);
  });

  it('authenticates a handshake from the cookie with an allowed Origin, and refuses it from another Origin or none', async function () {
    const { cookie } = await cookieLogin();
    const allowed = await connect({ cookie }, origin);
    assert.equal(allowed.status.isAuthenticated, true);
    assert.equal(allowed.auth.token, null, 'the client holds no token');

    // The CSWSH attack: a page elsewhere opens the socket, and the browser adds the cookie.
    await assert.rejects(connect({ cookie }, 'http://127.0.0.1:1'), { code: 4503 });
    // No Origin: not a browser page, so the cookie is not enough (a missing Origin is never allowed).
    await assert.rejects(connect({ cookie }), { code: 4503 });
  });

  it('rotates the cookie on /auth/refresh, tolerates the old one for the grace, then treats its reuse as theft', async function () {
    const { cookie } = await cookieLogin();
    const refreshed = await post(`${warden.url}/auth/refresh`, { cookie, origin });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.equal(typeof refreshed.body.expiresAt, 'number');
    assert.equal(refreshed.body.token, undefined, 'the token is only in the cookie');
    const next = cookiePair(refreshed.cookie);
    assert.notEqual(next, cookie);

    const socket = await connect({ cookie: next }, origin);
    assert.equal(socket.status.isAuthenticated, true);
    const ended = socket.socket.receiver('warden:authEnded').once() as Promise<{ name: string }>;
    // Within TOKEN_REUSE_GRACE the replaced cookie still works (a tab racing the rotation)...
    assert.equal((await post(`${warden.url}/auth/ticket`, { cookie, origin })).status, 201);
    // ...after it, its use is reuse: refused, and the whole session ends.
    clock += 6000;
    try {
      const reused = await post(`${warden.url}/auth/ticket`, { cookie, origin });
      assert.equal(reused.status, 401);
      assert.equal((reused.body.error as { name: string }).name, 'TokenReuseError');
      assert.equal((await ended).name, 'AuthTokenRevokedError');
      assert.equal((await post(`${warden.url}/auth/ticket`, { cookie: next, origin })).status, 401);
    } finally {
      clock -= 6000;
    }
  });

  it("renews a cookie socket's token without marking the cookie replaced: the next page load still connects", async function () {
    const { cookie, userId } = await cookieLogin();
    const socket = await connect({ cookie }, origin);
    const renewed = socket.socket.listener('authenticate').once();
    await warden.worker.lifecycle.renewUser(userId);
    await renewed;
    clock += 6000;
    try {
      const reload = await connect({ cookie }, origin);
      assert.equal(reload.status.isAuthenticated, true, JSON.stringify(reload.status.authError));
    } finally {
      clock -= 6000;
    }
  });

  it('logs out with the cookie: 204, the cookie cleared, the sockets it authenticated deauthenticated', async function () {
    const { cookie } = await cookieLogin();
    const socket = await connect({ cookie }, origin);
    const ended = socket.socket.receiver('warden:authEnded').once() as Promise<{ name: string }>;
    const answer = await post(`${warden.url}/auth/logout`, { cookie, origin });
    assert.equal(answer.status, 204);
    assert.match(answer.cookie ?? '', /^warden_session=; Max-Age=0; Path=\/; HttpOnly; SameSite=Strict/);
    assert.equal((await ended).name, 'AuthTokenRevokedError');
    const after = await connect({ cookie }, origin);
    assert.equal(after.status.isAuthenticated, false);
  });

  it('requires an allowed Origin for cookie-authenticated ticket, refresh and logout', async function () {
    const { cookie } = await cookieLogin();
    for (const route of ['ticket', 'refresh', 'logout']) {
      const foreign = await post(`${warden.url}/auth/${route}`, { cookie, origin: 'https://evil.example' });
      assert.equal(foreign.status, 403, route);
      assert.equal((foreign.body.error as { name: string }).name, 'OriginError');
      const none = await post(`${warden.url}/auth/${route}`, { cookie });
      assert.equal(none.status, 403, route);
      assert.equal((none.body.error as { name: string }).name, 'OriginError');
    }
    // Still logged in: none of those did anything.
    assert.equal((await post(`${warden.url}/auth/ticket`, { cookie, origin })).status, 201);
  });
});
