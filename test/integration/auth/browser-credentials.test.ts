import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startTestWarden, type TestWarden } from '../../helpers/warden.ts';

const require = createRequire(import.meta.url);
const SC_BUNDLE = readFileSync(
  join(dirname(require.resolve('socketcluster-client/package.json')), 'socketcluster-client.min.js'),
);
const TOKEN_KEY = 'socketcluster.authToken';

/** What a page saw when it opened a socket. */
interface Opened {
  readonly connected: boolean;
  readonly isAuthenticated: boolean;
  readonly closeCode: number | null;
  readonly authError: string | null;
  readonly username: string | null;
  readonly stored: string[];
}

/**
 * Opens a socket from the page with socketcluster-client's browser bundle (from the page's own
 * origin: `bundle`), to Warden at `port`, optionally with a query; waits for the connect (and
 * for the token a ticket brings) or the close, and reports what the page can see.
 */
async function openSocket(
  page: Page,
  args: { bundle: string; port: number; query?: Record<string, string> },
): Promise<Opened> {
  return page.evaluate(
    async ({ bundle, port, query, tokenKey }) => {
      const { create } = (await import(bundle)) as {
        create: (options: object) => {
          listener(name: string): { once(): Promise<Record<string, unknown>> };
          invoke(name: string, data?: unknown): Promise<Record<string, unknown>>;
          disconnect(): void;
          signedAuthToken: string | null;
        };
      };
      const socket = create({
        hostname: '127.0.0.1',
        port,
        authTokenName: tokenKey,
        autoReconnect: false,
        ...(query === undefined ? {} : { query }),
      });
      const first = await Promise.race([
        socket
          .listener('connect')
          .once()
          .then((status) => ({ kind: 'connect' as const, status })),
        socket
          .listener('close')
          .once()
          .then((event) => ({ kind: 'close' as const, event })),
      ]);
      if (first.kind === 'close')
        return {
          connected: false,
          isAuthenticated: false,
          closeCode: Number(first.event.code),
          authError: null,
          username: null,
          stored: Object.keys(localStorage),
        };
      const status = first.status as {
        isAuthenticated: boolean;
        authError?: { reason?: string; name: string };
      };
      let username: string | null = null;
      if (status.isAuthenticated) {
        const claims = await socket.invoke('whoami');
        username = String(claims.username);
      }
      socket.disconnect();
      return {
        connected: true,
        isAuthenticated: status.isAuthenticated,
        closeCode: null,
        authError: status.authError === undefined ? null : (status.authError.reason ?? status.authError.name),
        username,
        stored: Object.keys(localStorage),
      };
    },
    { ...args, tokenKey: TOKEN_KEY },
  );
}

/** A `fetch` from the page: status and JSON body (or the error a refused CORS request gives). */
async function pageFetch(
  page: Page,
  url: string,
  init: { body?: unknown; headers?: Record<string, string>; credentials?: 'include' | 'same-origin' },
): Promise<{ status: number; body: Record<string, unknown> } | { error: string }> {
  return page.evaluate(
    async ({ url, init }) => {
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(init.headers ?? {}) },
          body: JSON.stringify(init.body ?? {}),
          credentials: init.credentials ?? 'same-origin',
        });
        const text = await response.text();
        return { status: response.status, body: text === '' ? {} : JSON.parse(text) };
      } catch (error) {
        return { error: String(error) };
      }
    },
    { url, init },
  );
}

function ok(answer: Awaited<ReturnType<typeof pageFetch>>, status: number): Record<string, unknown> {
  assert.ok(!('error' in answer), JSON.stringify(answer));
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  return answer.body;
}

describe('browser credentials in Chromium: cookie sessions, CSWSH, tickets, codes, registration', function () {
  this.timeout(60_000);
  let warden: TestWarden;
  let browser: Browser;
  let context: BrowserContext;
  /** The attacker's site: another port of the same host, so the browser sends the cookie along. */
  let foreign: Server;
  let foreignOrigin: string;
  /** The upgrades Warden received: their Origin and whether they carried the session cookie. */
  const upgrades: Array<{ origin: string | undefined; cookie: boolean }> = [];

  before(async function () {
    [warden, browser] = await Promise.all([
      startTestWarden({ AUTH_COOKIE: 'on', REGISTRATION: 'open' }),
      chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] }),
    ]);
    // REGISTRATION_ROLES' default role: what a registered user may invoke.
    await warden.worker.store.createRole({ name: 'user', publish: [], subscribe: [], invoke: ['whoami'] });
    warden.worker.httpServer.on('upgrade', (request: IncomingMessage) => {
      upgrades.push({
        origin: request.headers.origin,
        cookie: (request.headers.cookie ?? '').includes('warden_session='),
      });
    });
    foreign = createServer((request, response) => {
      if (request.url === '/sc.js') {
        response.writeHead(200, { 'content-type': 'text/javascript' });
        response.end(SC_BUNDLE);
        return;
      }
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<!doctype html><title>a page elsewhere</title>');
    });
    await new Promise<void>((resolve) => foreign.listen(0, '127.0.0.1', resolve));
    foreignOrigin = `http://127.0.0.1:${(foreign.address() as AddressInfo).port}`;
  });
  beforeEach(async function () {
    context = await newContext();
    upgrades.length = 0;
  });
  afterEach(async function () {
    await context?.close();
  });
  after(async function () {
    await browser?.close();
    await new Promise((resolve) => foreign?.close(resolve));
    await warden?.close();
  });

  /**
   * A browser context whose pages get socketcluster-client's own browser bundle at
   * /vendor/socketcluster-client.min.js, as if the app served it from its origin (Warden serves
   * only its own client's bundle): the pages here use the stock client, no Warden code.
   */
  async function newContext(): Promise<BrowserContext> {
    const created = await browser.newContext();
    await created.route('**/vendor/socketcluster-client.min.js', (route) =>
      route.fulfill({ status: 200, contentType: 'text/javascript', body: SC_BUNDLE }),
    );
    return created;
  }

  /** A page on Warden's own origin (an allowed one). */
  async function ownPage(): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${warden.url}/healthz`);
    return page;
  }

  async function cookieLogin(page: Page): Promise<string> {
    const { user, password } = await warden.createUser({ invoke: ['whoami'] });
    const body = ok(
      await pageFetch(page, '/auth/login', { body: { username: user.username, password } }),
      200,
    );
    assert.equal(typeof body.token, 'string');
    return user.username;
  }

  it('logs in with the cookie on an allowed origin and connects with no token in localStorage', async function () {
    const page = await ownPage();
    const username = await cookieLogin(page);
    // HttpOnly: the page's script cannot read it.
    assert.equal(await page.evaluate(() => document.cookie), '');
    const opened = await openSocket(page, {
      bundle: '/vendor/socketcluster-client.min.js',
      port: warden.port,
    });
    assert.deepEqual([opened.connected, opened.isAuthenticated, opened.username], [true, true, username]);
    assert.deepEqual(opened.stored, [], 'nothing in localStorage');
    assert.deepEqual(upgrades, [{ origin: warden.url, cookie: true }]);
  });

  it('reproduces cross-site WebSocket hijacking from a page on another port: the cookie is sent, the socket refused', async function () {
    const page = await ownPage();
    await cookieLogin(page);
    const attacker = await context.newPage();
    await attacker.goto(`${foreignOrigin}/`);
    const opened = await openSocket(attacker, { bundle: '/sc.js', port: warden.port });
    // The browser did attach the session cookie to the attacker's upgrade (same site: same host)...
    assert.deepEqual(upgrades.at(-1), { origin: foreignOrigin, cookie: true });
    // ...and Warden refused the handshake for its Origin: no socket, authenticated or not.
    assert.deepEqual([opened.connected, opened.isAuthenticated, opened.closeCode], [false, false, 4503]);
    // Nor can that page have a ticket minted with the cookie.
    const ticket = await pageFetch(attacker, `${warden.url}/auth/ticket`, { credentials: 'include' });
    assert.ok('error' in ticket || ticket.status === 403, JSON.stringify(ticket));
  });

  it('fetches a one-time ticket with the cookie and connects with it in the URL; the ticket works once', async function () {
    const page = await ownPage();
    const username = await cookieLogin(page);
    const { ticket } = ok(await pageFetch(page, '/auth/ticket', {}), 201) as { ticket: string };
    // A context of its own, without the cookie: the ticket alone authenticates.
    const bare = await newContext();
    try {
      const other = await bare.newPage();
      await other.goto(`${warden.url}/healthz`);
      const bundle = '/vendor/socketcluster-client.min.js';
      const first = await openSocket(other, { bundle, port: warden.port, query: { ticket } });
      assert.deepEqual([first.isAuthenticated, first.username], [true, username]);
      const replay = await openSocket(other, { bundle, port: warden.port, query: { ticket } });
      assert.deepEqual([replay.isAuthenticated, replay.authError], [false, 'ticket-used']);
    } finally {
      await bare.close();
    }
  });

  it('logs in for an auth code and redeems it on the socket (the code flow), in a page without cookies', async function () {
    const bare = await newContext();
    try {
      const page = await bare.newPage();
      await page.goto(`${warden.url}/healthz`);
      const { user, password } = await warden.createUser({ invoke: ['whoami'] });
      const body = ok(
        await pageFetch(page, '/auth/login', {
          body: { username: user.username, password, response: 'code' },
          credentials: 'include',
        }),
        200,
      );
      assert.equal(body.token, undefined);
      const opened = await openSocket(page, {
        bundle: '/vendor/socketcluster-client.min.js',
        port: warden.port,
        query: { ticket: body.code as string },
      });
      assert.deepEqual([opened.isAuthenticated, opened.username], [true, user.username]);
    } finally {
      await bare.close();
    }
  });

  it('registers from a page and connects with the cookie the registration set', async function () {
    const page = await ownPage();
    const username = `browser${Date.now().toString(36)}`;
    const weak = await pageFetch(page, '/auth/register', { body: { username, password: 'qwertyuiop' } });
    assert.ok(!('error' in weak) && weak.status === 400, JSON.stringify(weak));
    const body = ok(
      await pageFetch(page, '/auth/register', {
        body: { username, password: 'a long and unusual passphrase' },
      }),
      201,
    );
    assert.equal(typeof body.token, 'string');
    const opened = await openSocket(page, {
      bundle: '/vendor/socketcluster-client.min.js',
      port: warden.port,
    });
    assert.deepEqual([opened.isAuthenticated, opened.username], [true, username]);
    assert.deepEqual(opened.stored, []);
  });
});
