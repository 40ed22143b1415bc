import assert from 'node:assert/strict';
import {
  clearedSessionCookie,
  cookieIsSecure,
  createCookieOriginCheck,
  readSessionCookie,
  sessionCookie,
} from '../../../auth/session-cookie.ts';

describe('session cookie', function () {
  it('reads warden_session from a Cookie header, and nothing that is not token-shaped', function () {
    assert.equal(readSessionCookie('a=1; warden_session=abc.def-_1; b=2'), 'abc.def-_1');
    assert.equal(readSessionCookie('warden_session=first; warden_session=second'), 'first');
    assert.equal(readSessionCookie('xwarden_session=abc'), undefined);
    assert.equal(readSessionCookie('warden_session="abc"'), undefined);
    assert.equal(readSessionCookie('warden_session='), undefined);
    assert.equal(readSessionCookie(undefined), undefined);
  });

  it('sets HttpOnly, SameSite=Strict, Path=/ and Max-Age; Secure unless the own origin is plain-http localhost', function () {
    assert.equal(
      sessionCookie('t.o.k', 3600.9, { secure: true }),
      'warden_session=t.o.k; Max-Age=3600; Path=/; HttpOnly; SameSite=Strict; Secure',
    );
    assert.equal(
      clearedSessionCookie({ secure: false }),
      'warden_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict',
    );
    assert.equal(cookieIsSecure(null), false);
    assert.equal(cookieIsSecure('http://localhost:8000'), false);
    assert.equal(cookieIsSecure('http://127.0.0.1:8000'), false);
    assert.equal(cookieIsSecure('http://rt.example.com'), true);
    assert.equal(cookieIsSecure('https://rt.example.com'), true);
  });

  it('accepts the cookie only with a listed Origin: never a missing one, never through *', function () {
    const listed = createCookieOriginCheck({
      allowedOrigins: ['https://app.example', '*'],
      ownOrigins: () => [],
    });
    assert.equal(listed('https://app.example'), true);
    assert.equal(listed('https://evil.example'), false);
    assert.equal(listed(undefined), false);
    assert.equal(listed('*'), false);
    const own = createCookieOriginCheck({
      allowedOrigins: null,
      ownOrigins: () => ['http://127.0.0.1:8000'],
    });
    assert.equal(own('http://127.0.0.1:8000'), true);
    assert.equal(own('http://127.0.0.1:8001'), false);
  });
});
