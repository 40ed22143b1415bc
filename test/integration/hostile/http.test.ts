import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { hostileSuite, type Hostile, type HostileCase } from './harness.ts';
import { RawSocket } from './wire.ts';

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: unknown;
}

/** One HTTP request to the worker; the body is sent as given (a string or bytes). */
function send(
  h: Hostile,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string | Buffer = '',
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: h.warden.port, method, path, headers, agent: false },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // Not JSON (Node's own 400 for an unparsable request): keep the text.
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const json = { 'content-type': 'application/json' };
const login = (h: Hostile, body: string | Buffer, headers: Record<string, string> = json) =>
  send(h, 'POST', '/auth/login', headers, body);

/** Asserts the status and the catalogue error's name in the JSON body. */
function answered(reply: Reply, status: number, name: string): void {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  assert.equal((reply.body as { error?: { name?: string } }).error?.name, name, JSON.stringify(reply.body));
}

/** Writes raw bytes on a fresh TCP connection and resolves with the status line's code. */
function rawHttp(h: Hostile, lines: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(h.warden.port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0)));
    socket.end(lines);
  });
}

const cases: HostileCase[] = [
  {
    name: 'login as text/plain gets 400 BadRequestError',
    run: async (h) =>
      answered(
        await login(h, '{"username":"a","password":"b"}', { 'content-type': 'text/plain' }),
        400,
        'BadRequestError',
      ),
  },
  {
    name: 'login as a form gets 400 BadRequestError',
    run: async (h) =>
      answered(
        await login(h, 'username=a&password=b', { 'content-type': 'application/x-www-form-urlencoded' }),
        400,
        'BadRequestError',
      ),
  },
  {
    name: 'login without a content type gets 400 BadRequestError',
    run: async (h) => answered(await login(h, '{"username":"a","password":"b"}', {}), 400, 'BadRequestError'),
  },
  {
    name: 'login with broken JSON gets 400 BadRequestError',
    run: async (h) => answered(await login(h, '{"username":'), 400, 'BadRequestError'),
  },
  {
    name: 'login with a JSON array gets 400 BadRequestError',
    run: async (h) => answered(await login(h, '[{"username":"a","password":"b"}]'), 400, 'BadRequestError'),
  },
  {
    name: 'login with JSON null gets 400 BadRequestError',
    run: async (h) => answered(await login(h, 'null'), 400, 'BadRequestError'),
  },
  {
    name: 'login with a JSON string gets 400 BadRequestError',
    run: async (h) => answered(await login(h, '"username"'), 400, 'BadRequestError'),
  },
  {
    name: 'login with a 100 KB body gets 413 PayloadTooLargeError',
    run: async (h) =>
      answered(
        await login(h, JSON.stringify({ username: 'a', password: 'p'.repeat(100_000) })),
        413,
        'PayloadTooLargeError',
      ),
  },
  {
    // body-parser's own 4xx errors are the client's fault: never a 500 (http/errors.ts)
    name: 'login with content-encoding gzip over a body that is not gzip gets 400 BadRequestError',
    run: async (h) =>
      answered(
        await login(h, '{"username":"a","password":"b"}', { ...json, 'content-encoding': 'gzip' }),
        400,
        'BadRequestError',
      ),
  },
  {
    name: 'login with an unknown content-encoding gets 415 UnsupportedMediaTypeError',
    run: async (h) =>
      answered(
        await login(h, '{"username":"a","password":"b"}', { ...json, 'content-encoding': 'compress' }),
        415,
        'UnsupportedMediaTypeError',
      ),
  },
  {
    name: 'login in an unknown charset gets 415 UnsupportedMediaTypeError',
    run: async (h) =>
      answered(
        await login(h, '{"username":"a","password":"b"}', {
          'content-type': 'application/json; charset=x-klingon',
        }),
        415,
        'UnsupportedMediaTypeError',
      ),
  },
  {
    name: 'login with an operator object as username gets 400 BadRequestError',
    run: async (h) =>
      answered(await login(h, '{"username":{"$ne":null},"password":"x"}'), 400, 'BadRequestError'),
  },
  {
    name: 'login with credentials only under __proto__ gets 400 BadRequestError',
    run: async (h) =>
      answered(await login(h, '{"__proto__":{"username":"a","password":"b"}}'), 400, 'BadRequestError'),
  },
  {
    name: 'login with a 2,000-character password gets 400 BadRequestError',
    run: async (h) =>
      answered(
        await login(h, JSON.stringify({ username: 'a', password: 'p'.repeat(2000) })),
        400,
        'BadRequestError',
      ),
  },
  {
    name: 'login with a 65-character username gets 400 BadRequestError',
    run: async (h) =>
      answered(
        await login(h, JSON.stringify({ username: 'u'.repeat(65), password: 'p' })),
        400,
        'BadRequestError',
      ),
  },
  {
    name: 'login with a method-override header is still a login: 401 LoginError',
    run: async (h) =>
      answered(
        await login(h, JSON.stringify({ username: 'nobody-here', password: 'p' }), {
          ...json,
          'x-http-method-override': 'DELETE',
        }),
        401,
        'LoginError',
      ),
  },
  {
    name: 'logout without Authorization gets 401 AuthTokenMissingError',
    run: async (h) => answered(await send(h, 'POST', '/auth/logout', {}), 401, 'AuthTokenMissingError'),
  },
  {
    name: 'logout with "Bearer a b" gets 401 AuthTokenMissingError',
    run: async (h) =>
      answered(
        await send(h, 'POST', '/auth/logout', { authorization: 'Bearer a b' }),
        401,
        'AuthTokenMissingError',
      ),
  },
  {
    name: 'logout with Basic credentials gets 401 AuthTokenMissingError',
    run: async (h) =>
      answered(
        await send(h, 'POST', '/auth/logout', { authorization: 'Basic dXNlcjpwYXNz' }),
        401,
        'AuthTokenMissingError',
      ),
  },
  {
    name: 'logout with an alg-none token gets 401 AuthTokenInvalidError',
    run: async (h) => {
      const { token } = await h.token();
      const [, payload] = token.split('.');
      const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`;
      answered(
        await send(h, 'POST', '/auth/logout', { authorization: `Bearer ${none}` }),
        401,
        'AuthTokenInvalidError',
      );
    },
  },
  {
    name: 'GET /auth/login gets 404 NotFoundError',
    run: async (h) => answered(await send(h, 'GET', '/auth/login', {}), 404, 'NotFoundError'),
  },
  {
    name: 'DELETE /auth/logout gets 404 NotFoundError',
    run: async (h) => answered(await send(h, 'DELETE', '/auth/logout', {}), 404, 'NotFoundError'),
  },
  {
    name: 'a path climbing out of the root gets 404 NotFoundError',
    run: async (h) => answered(await send(h, 'GET', '/../../etc/passwd', {}), 404, 'NotFoundError'),
  },
  {
    name: 'CRLF encoded into the path gets 404 NotFoundError and injects no header',
    run: async (h) => {
      const reply = await send(h, 'GET', '/auth/x%0d%0aSet-Cookie:%20pwned=1', {});
      answered(reply, 404, 'NotFoundError');
      assert.equal(reply.headers['set-cookie'], undefined);
    },
  },

  // Header injection and smuggling: Node's parser refuses these with 400 before any route runs.
  {
    name: 'a NUL in a header value gets 400 from the HTTP parser',
    run: async (h) =>
      assert.equal(
        await rawHttp(h, 'POST /auth/logout HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\0b\r\n\r\n'),
        400,
      ),
  },
  {
    name: 'a bare CR inside a header value gets 400 from the HTTP parser',
    run: async (h) =>
      assert.equal(
        await rawHttp(h, 'POST /auth/logout HTTP/1.1\r\nHost: x\r\nX-A: b\rX-Injected: 1\r\n\r\n'),
        400,
      ),
  },
  {
    name: 'a header line without a colon gets 400 from the HTTP parser',
    run: async (h) =>
      assert.equal(await rawHttp(h, 'GET /healthz HTTP/1.1\r\nHost: x\r\nInjected header\r\n\r\n'), 400),
  },
  {
    name: 'Content-Length together with Transfer-Encoding gets 400 from the HTTP parser',
    run: async (h) =>
      assert.equal(
        await rawHttp(
          h,
          'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\n' +
            'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        ),
        400,
      ),
  },
  {
    name: 'two different Content-Length headers get 400 from the HTTP parser',
    run: async (h) =>
      assert.equal(
        await rawHttp(
          h,
          'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
        ),
        400,
      ),
  },
  {
    name: 'a 20 KB header gets 431 from the HTTP parser',
    run: async (h) =>
      assert.equal(
        await rawHttp(h, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
        431,
      ),
  },

  // Origins: only the server's own (http://127.0.0.1:PORT, http://localhost:PORT) without ALLOWED_ORIGINS.
  {
    name: 'a foreign Origin gets 403 OriginError',
    run: async (h) =>
      answered(await login(h, '{}', { ...json, origin: 'https://evil.example' }), 403, 'OriginError'),
  },
  {
    name: 'an Origin that only starts like the own one gets 403 OriginError',
    run: async (h) =>
      answered(
        await login(h, '{}', { ...json, origin: `http://127.0.0.1:${h.warden.port}.evil.example` }),
        403,
        'OriginError',
      ),
  },
  {
    name: 'Origin "null" (a sandboxed page) gets 403 OriginError',
    run: async (h) => answered(await login(h, '{}', { ...json, origin: 'null' }), 403, 'OriginError'),
  },
  {
    // The own origin comes from configuration, never from the Host header (DNS rebinding)
    name: 'a foreign Origin with a matching Host header still gets 403 OriginError',
    run: async (h) =>
      answered(
        await login(h, '{}', { ...json, origin: 'http://evil.example', host: 'evil.example' }),
        403,
        'OriginError',
      ),
  },
  {
    name: 'a WebSocket upgrade from a foreign Origin is closed with 4503',
    run: async (h) => {
      const socket = await RawSocket.open(h.warden.port, { headers: { origin: 'https://evil.example' } });
      const answer = socket.call('#handshake', { authToken: null }).catch(() => null);
      assert.equal((await socket.closed).code, 4503);
      await answer;
    },
  },
  {
    name: 'a WebSocket upgrade with an unknown Sec-WebSocket-Version gets 400',
    run: async (h) =>
      assert.equal(
        await rawHttp(
          h,
          'GET /socketcluster/ HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
            'Sec-WebSocket-Version: 99\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        ),
        400,
      ),
  },
];

hostileSuite('HTTP requests', {}, cases);
