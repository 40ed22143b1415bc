// The client's `ticket` and `cookie` modes, against the server's tickets, one-time login codes
// and session cookie (POST /auth/ticket, POST /auth/login with "response": "code", ?ticket= in the
// handshake, invoke('login', {ticket}), AUTH_COOKIE, POST /auth/refresh). These tests need those
// server routes; they fail on a server without them.
import assert from 'node:assert/strict';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { createWardenClient, type WardenClient, type WardenEvents } from '../../../client/src/index.ts';
import { startTestWarden, type TestWarden } from '../../helpers/warden.ts';

function next<E extends keyof WardenEvents>(client: WardenClient, event: E): Promise<WardenEvents[E]> {
  return new Promise((resolve) => {
    const off = client.on(event, (payload) => {
      off();
      resolve(payload);
    });
  });
}

describe('warden-client modes: ticket and cookie', function () {
  describe('ticket mode (Node)', function () {
    let warden: TestWarden;
    const clients: WardenClient[] = [];
    before(async function () {
      warden = await startTestWarden();
    });
    afterEach(function () {
      for (const client of clients.splice(0)) client.close();
    });
    after(async function () {
      await warden?.close();
    });

    it('logs in over HTTP for a one-time code that the socket redeems; authenticated right after the await', async function () {
      const { user, password } = await warden.createUser();
      const client = createWardenClient({ url: warden.url, mode: 'ticket' });
      clients.push(client);
      const claims = await client.login(user.username, password);
      assert.equal(client.state, 'authenticated');
      assert.equal(claims.username, user.username);
    });

    it('hands a ticket to another connection, which is authenticated in its handshake; a second use is refused as ticket-used', async function () {
      const { user, password } = await warden.createUser();
      const first = createWardenClient({ url: warden.url, mode: 'ticket' });
      clients.push(first);
      await first.login(user.username, password);
      const { ticket, expiresAt } = await first.ticket();
      assert.equal(typeof expiresAt, 'number');

      const second = createWardenClient({ url: warden.url, mode: 'ticket', ticket });
      clients.push(second);
      const { source, claims } = await next(second, 'authenticated');
      assert.equal(source, 'handshake');
      assert.equal(claims.username, user.username);

      const third = createWardenClient({ url: warden.url, mode: 'ticket' });
      clients.push(third);
      await assert.rejects(third.redeemTicket(ticket), { name: 'LoginError', reason: 'ticket-used' });
      assert.notEqual(third.state, 'authenticated');
    });
  });

  describe('cookie mode (Chromium)', function () {
    let warden: TestWarden;
    let browser: Browser;
    let context: BrowserContext;
    before(async function () {
      [warden, browser] = await Promise.all([
        startTestWarden({ AUTH_COOKIE: 'on' }),
        chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] }),
      ]);
      context = await browser.newContext();
    });
    after(async function () {
      await context?.close();
      await browser?.close();
      await warden?.close();
    });

    it('is authenticated by the HttpOnly cookie, keeps no token in storage, stays logged in across a reload, and logs out', async function () {
      const { user, password } = await warden.createUser();
      const page = await context.newPage();
      await page.goto(`${warden.url}/`);
      const script = async ([username, pass]: string[]) => {
        type Client = {
          login(u: string, p: string): Promise<unknown>;
          logout(): Promise<void>;
          on(e: string, l: (p: { reason?: string; source?: string }) => void): () => void;
          state: string;
        };
        const { createWardenClient: create } = (await import('/warden-client.js' as string)) as {
          createWardenClient(o: object): Client;
        };
        (window as unknown as { warden: { close(): void } }).warden.close(); // the demo page's own client
        const client = create({ mode: 'cookie' });
        (window as unknown as { cookieClient: Client }).cookieClient = client;
        if (username !== undefined) {
          await client.login(username, pass as string);
          return { state: client.state, stored: Object.keys(localStorage), cookie: document.cookie };
        }
        const event = await new Promise<{ source?: string }>((resolve) =>
          client.on('authenticated', resolve),
        );
        return { state: client.state, source: event.source ?? null };
      };
      const loggedIn = await page.evaluate(script, [user.username, password]);
      assert.equal(loggedIn.state, 'authenticated');
      assert.deepEqual(loggedIn.stored, []);
      assert.doesNotMatch(String(loggedIn.cookie), /warden_session/, 'the cookie is HttpOnly');

      await page.reload();
      const reloaded = await page.evaluate(script, []);
      assert.deepEqual(reloaded, { state: 'authenticated', source: 'handshake' });

      const ended = await page.evaluate(async () => {
        const client = (
          window as unknown as {
            cookieClient: {
              logout(): Promise<void>;
              state: string;
              on(e: string, l: (p: { reason: string }) => void): void;
            };
          }
        ).cookieClient;
        const reasons: string[] = [];
        client.on('authEnded', ({ reason }) => reasons.push(reason));
        await client.logout();
        return { state: client.state, reasons };
      });
      assert.deepEqual(ended, { state: 'ended', reasons: ['logout'] });
    });
  });
});
