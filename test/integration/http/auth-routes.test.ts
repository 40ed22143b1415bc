import assert from 'node:assert/strict';
import jwt from 'jsonwebtoken';
import { startTestWarden, TEST_HASH_COST, type TestWarden } from '../../helpers/warden.ts';
import { Revocations } from '../../../auth/revocations.ts';

async function post(url: string, body: string | undefined, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text === '' ? null : (JSON.parse(text) as Record<string, unknown>),
  };
}

describe('HTTP /auth routes', function () {
  let warden: TestWarden;
  before(async function () {
    warden = await startTestWarden();
  });
  after(async function () {
    await warden.close();
  });

  it('logs in with the right password and returns a token carrying the documented claims', async function () {
    const { user, password } = await warden.createUser({ publish: ['chat.{username}'], tenant: 'acme' });
    const res = await post(`${warden.url}/auth/login`, JSON.stringify({ username: user.username, password }));
    assert.equal(res.status, 200);
    const token = res.json?.token as string;
    const claims = jwt.decode(token) as Record<string, unknown>;
    assert.equal(claims.sub, user.id);
    assert.equal(claims.username, user.username);
    assert.equal(claims.tenant, 'acme');
    assert.deepEqual(claims.publish, [`chat.${user.username}`]);
    assert.equal(typeof claims.jti, 'string');
    assert.equal(res.json?.expiresAt, claims.exp);
    assert.equal((claims.exp as number) - (claims.iat as number), warden.config.tokenTtl);
    assert.equal((jwt.decode(token, { complete: true }) as { header: { alg: string } }).header.alg, 'HS256');
  });

  it('gives the same 401 LoginError for an unknown user and a wrong password', async function () {
    const { user } = await warden.createUser();
    const wrong = await post(
      `${warden.url}/auth/login`,
      JSON.stringify({ username: user.username, password: 'nope-nope' }),
    );
    const unknown = await post(
      `${warden.url}/auth/login`,
      JSON.stringify({ username: 'no-such-user', password: 'nope-nope' }),
    );
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.deepEqual(wrong.json, unknown.json);
    assert.equal((wrong.json?.error as { name: string }).name, 'LoginError');
  });

  it('refuses a disabled user with the same LoginError', async function () {
    const { user, password } = await warden.createUser();
    await warden.worker.store.updateUser(user.username, { disabled: true });
    const res = await post(`${warden.url}/auth/login`, JSON.stringify({ username: user.username, password }));
    assert.equal(res.status, 401);
    assert.equal((res.json?.error as { name: string }).name, 'LoginError');
  });

  it('answers 400 BadRequestError to malformed JSON, wrong types and a missing body', async function () {
    for (const body of ['{"username": "a", ', '{"username": 1, "password": []}', '[]', 'null', undefined]) {
      const res = await post(`${warden.url}/auth/login`, body);
      assert.equal(res.status, 400, `body ${body}`);
      assert.equal((res.json?.error as { name: string }).name, 'BadRequestError');
    }
    const form = await post(`${warden.url}/auth/login`, 'username=a&password=b', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    assert.equal(form.status, 400);
  });

  it('answers 413 to an oversized body and keeps serving', async function () {
    const res = await post(
      `${warden.url}/auth/login`,
      JSON.stringify({ username: 'a', password: 'x'.repeat(100_000) }),
    );
    assert.equal(res.status, 413);
    assert.equal((res.json?.error as { name: string }).name, 'PayloadTooLargeError');
    const health = await fetch(`${warden.url}/healthz`);
    assert.equal(health.status, 200);
  });

  it('logs out: 204, and the token is refused afterwards', async function () {
    const { user, password } = await warden.createUser();
    const login = await post(
      `${warden.url}/auth/login`,
      JSON.stringify({ username: user.username, password }),
    );
    const token = login.json?.token as string;
    const out = await post(`${warden.url}/auth/logout`, undefined, { authorization: `Bearer ${token}` });
    assert.equal(out.status, 204);
    const again = await post(`${warden.url}/auth/logout`, undefined, { authorization: `Bearer ${token}` });
    assert.equal(again.status, 401);
    assert.equal((again.json?.error as { name: string }).name, 'AuthTokenRevokedError');
  });

  it('refuses logout without a bearer token or with a tampered one', async function () {
    const missing = await post(`${warden.url}/auth/logout`, undefined);
    assert.equal(missing.status, 401);
    assert.equal((missing.json?.error as { name: string }).name, 'AuthTokenMissingError');
    const forged = jwt.sign({ sub: 'x' }, 'another-key-another-key-another-key', { expiresIn: 60 });
    const bad = await post(`${warden.url}/auth/logout`, undefined, { authorization: `Bearer ${forged}` });
    assert.equal(bad.status, 401);
    assert.equal((bad.json?.error as { name: string }).name, 'AuthTokenInvalidError');
  });

  it('refuses a cross-origin browser request from a foreign Origin', async function () {
    const res = await post(`${warden.url}/auth/login`, JSON.stringify({ username: 'a', password: 'b' }), {
      origin: 'https://evil.example',
    });
    assert.equal(res.status, 403);
    assert.equal((res.json?.error as { name: string }).name, 'OriginError');
  });

  it('reports health and readiness', async function () {
    assert.equal((await fetch(`${warden.url}/healthz`)).status, 200);
    const ready = await fetch(`${warden.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(((await ready.json()) as { checks: unknown }).checks, {
      store: true,
      broker: true,
      accepting: true,
    });
  });

  it('answers unknown routes with a JSON 404', async function () {
    const res = await fetch(`${warden.url}/nope`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { name: string } }).error.name, 'NotFoundError');
  });
});

describe('HTTP login rate limit', function () {
  let warden: TestWarden;
  before(async function () {
    warden = await startTestWarden({ LOGIN_RATE_LIMIT: '3', LOGIN_RATE_WINDOW: '60' });
  });
  after(async function () {
    await warden.close();
  });

  it('answers 429 with Retry-After once the limit is passed', async function () {
    const body = JSON.stringify({ username: 'someone', password: 'wrong-wrong' });
    for (let i = 0; i < 3; i++) assert.equal((await post(`${warden.url}/auth/login`, body)).status, 401);
    const limited = await post(`${warden.url}/auth/login`, body);
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal((limited.json?.error as { name: string }).name, 'RateLimitError');
  });
});

describe('password hash upgrade at login', function () {
  let warden: TestWarden;
  before(async function () {
    // Users are created with the test cost (2^14); this server asks for 2^15.
    warden = await startTestWarden({ PASSWORD_HASH_COST: String(TEST_HASH_COST + 1) });
  });
  after(async function () {
    await warden.close();
  });

  it('re-hashes a password stored with weaker parameters on the next successful login', async function () {
    const { user, password } = await warden.createUser();
    assert.match(user.passwordHash, new RegExp(`^\\$scrypt\\$ln=${TEST_HASH_COST},`));
    const body = JSON.stringify({ username: user.username, password });
    assert.equal((await post(`${warden.url}/auth/login`, body)).status, 200);
    const upgraded = await warden.worker.store.findUserByUsername(user.username);
    assert.match(upgraded?.passwordHash ?? '', new RegExp(`^\\$scrypt\\$ln=${TEST_HASH_COST + 1},`));
    // The new hash still checks the same password, and only the password.
    assert.equal((await post(`${warden.url}/auth/login`, body)).status, 200);
    const wrong = JSON.stringify({ username: user.username, password: `${password}x` });
    assert.equal((await post(`${warden.url}/auth/login`, wrong)).status, 401);
  });
});

describe('HTTP logout with a replaced token', function () {
  let warden: TestWarden;
  before(async function () {
    warden = await startTestWarden();
  });
  after(async function () {
    await warden.close();
  });

  it('answers TokenReuseError and revokes the whole session, as the socket path does', async function () {
    const { user } = await warden.createUser();
    const { worker } = warden;
    const first = worker.tokens.issue(user);
    const session = { sid: first.claims.sid, authTime: first.claims.auth_time };
    const renewed = worker.tokens.issue(user, session);
    // A renewal replaced the first token 30 s ago, well past TOKEN_REUSE_GRACE (10 s).
    const replacedAt = Math.floor(Date.now() / 1000) - 30;
    await worker.control.revoke(Revocations.replaced(first.claims, replacedAt));
    const reuse = await post(`${warden.url}/auth/logout`, undefined, {
      authorization: `Bearer ${first.token}`,
    });
    assert.equal(reuse.status, 401);
    assert.equal((reuse.json?.error as { name: string }).name, 'TokenReuseError');
    // The session's current token is now refused too: whoever reused the old one ended it.
    const again = await post(`${warden.url}/auth/logout`, undefined, {
      authorization: `Bearer ${renewed.token}`,
    });
    assert.equal(again.status, 401);
    assert.equal((again.json?.error as { name: string }).name, 'AuthTokenRevokedError');
  });
});

describe('HTTP headers and malformed bodies', function () {
  let warden: TestWarden;
  before(async function () {
    warden = await startTestWarden();
  });
  after(async function () {
    await warden.close();
  });

  it('marks token responses no-store and sends the security headers everywhere', async function () {
    const { user, password } = await warden.createUser();
    const login = await fetch(`${warden.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: user.username, password }),
    });
    assert.equal(login.status, 200);
    assert.equal(login.headers.get('cache-control'), 'no-store');
    assert.equal(login.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(login.headers.get('referrer-policy'), 'no-referrer');
    const page = await fetch(`${warden.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  });

  it('answers 400 BadRequestError to a gzip body that is not gzip', async function () {
    const response = await post(`${warden.url}/auth/login`, '{"username":"a","password":"b"}', {
      'content-encoding': 'gzip',
    });
    assert.equal(response.status, 400);
    assert.equal((response.json?.error as { name: string }).name, 'BadRequestError');
  });
});
