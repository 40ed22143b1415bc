import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startTestWarden, type TestWarden } from '../../helpers/warden.ts';
import { Revocations } from '../../../auth/revocations.ts';

/** The localStorage key the browser client documents (docs/websocket.md). */
const TOKEN_KEY = 'socketcluster.authToken';
/** How long to wait for the page to show something before failing with what it shows instead. */
const UI_TIMEOUT_MS = 10_000;

interface DemoPage {
  readonly page: Page;
  /** Console errors, uncaught exceptions, failed requests and CSP violations seen so far. */
  readonly problems: string[];
}

describe('the demo page in Chromium (browser client end to end)', function () {
  let warden: TestWarden;
  let browser: Browser;
  let context: BrowserContext;

  before(async function () {
    [warden, browser] = await Promise.all([
      startTestWarden(),
      // Debian's Chromium; playwright-core never downloads a browser.
      chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] }),
    ]);
  });
  beforeEach(async function () {
    // A fresh profile per story: its own localStorage, no order dependence.
    context = await browser.newContext();
  });
  afterEach(async function () {
    await context?.close();
  });
  after(async function () {
    await browser?.close();
    await warden?.close();
  });

  /** Opens the demo page and records everything that would show up red in the devtools. */
  async function openDemo(): Promise<DemoPage> {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
    page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
    });
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
      });
    });
    await page.goto(`${warden.url}/`);
    await statusIs(page, 'not logged in');
    return { page, problems };
  }

  /** Waits until `condition(args)` holds in the page; on timeout, fails with what the page shows. */
  async function waitUntil(
    page: Page,
    what: string,
    condition: (args: string[]) => boolean,
    args: string[],
  ): Promise<void> {
    try {
      await page.waitForFunction(condition, args, { timeout: UI_TIMEOUT_MS });
    } catch (error) {
      const shown = await page.evaluate(() => ({
        status: document.getElementById('status')?.textContent,
        log: Array.from(document.querySelectorAll('#log li'), (li) => `${li.className}: ${li.textContent}`),
      }));
      assert.fail(`${what}; the page shows ${JSON.stringify(shown)} (${(error as Error).message})`);
    }
  }

  /** (An inline `assert.deepEqual(problems, [])` would narrow `problems` to `never[]` for the rest of a test.) */
  function expectNoProblems(problems: string[]): void {
    assert.deepEqual(problems, [], 'the page reported problems');
  }

  async function statusIs(page: Page, expected: string): Promise<void> {
    await waitUntil(
      page,
      `#status should read "${expected}"`,
      ([text]) => document.getElementById('status')?.textContent === text,
      [expected],
    );
  }

  /**
   * Waits for a #log entry of this kind (message, error, info) whose text contains `text`; returns
   * that text (without the entry's timestamp).
   */
  async function logEntry(page: Page, kind: string, text: string): Promise<string> {
    await waitUntil(
      page,
      `#log should get a ${kind} entry containing "${text}"`,
      ([k, t]) =>
        Array.from(document.querySelectorAll(`#log li.${k} .text`)).some((span) =>
          span.textContent?.includes(t ?? ''),
        ),
      [kind, text],
    );
    const entries = await page.locator(`#log li.${kind} .text`, { hasText: text }).allTextContents();
    return entries[0] as string;
  }

  async function storedToken(page: Page): Promise<string | null> {
    return page.evaluate((key) => localStorage.getItem(key), TOKEN_KEY);
  }

  async function logIn(page: Page, username: string, password: string): Promise<void> {
    await page.fill('#username', username);
    await page.fill('#password', password);
    await page.click('#login');
  }

  async function loggedIn(spec: Parameters<TestWarden['createUser']>[0] = {}) {
    const { user, password } = await warden.createUser(spec);
    const demo = await openDemo();
    await logIn(demo.page, user.username, password);
    await statusIs(demo.page, `authenticated as ${user.username}`);
    await waitUntil(
      demo.page,
      'the token should be stored',
      ([key]) => localStorage.getItem(key ?? '') !== null,
      [TOKEN_KEY],
    );
    return { ...demo, user, password };
  }

  async function subscribeThroughPage(page: Page, channel: string): Promise<void> {
    await page.fill('#channel', channel);
    await page.click('#subscribe');
  }

  async function publishThroughPage(page: Page, channel: string, message: string): Promise<void> {
    await page.fill('#channel', channel);
    await page.fill('#message', message);
    await page.click('#publish');
  }

  it('logs in through the page; the token is a JWT for that user under socketcluster.authToken', async function () {
    const { page, problems, user } = await loggedIn();
    const token = await storedToken(page);
    assert.ok(token !== null);
    // The server's own key verifies it, with the algorithm pinned: a real Warden token, not a stub.
    const claims = jwt.verify(token, warden.config.authKey, { algorithms: ['HS256'] }) as jwt.JwtPayload;
    assert.equal(claims.username, user.username);
    assert.equal(claims.sub, user.id);
    // Exactly the documented key, not socketcluster-client's host-specific default.
    const keys = await page.evaluate(() => Object.keys(localStorage));
    assert.deepEqual(keys, [TOKEN_KEY]);
    assert.equal(await page.inputValue('#password'), '', 'the password field is cleared');
    // Once logged in, the login form gives way to who I am and a logout button.
    assert.equal(await page.isHidden('#login-form'), true);
    assert.equal(await page.isVisible('#logout'), true);
    expectNoProblems(problems);
  });

  it('stays logged in across a reload, from the stored token, without the password', async function () {
    const { page, problems, user } = await loggedIn();
    const token = await storedToken(page);
    await page.reload();
    await statusIs(page, `authenticated as ${user.username}`);
    assert.equal(await page.inputValue('#password'), '');
    // No login happened on the new page: the handshake accepted the stored token.
    assert.deepEqual(
      await page.locator('#log li.info .text', { hasText: 'logged in as' }).allTextContents(),
      [],
    );
    assert.equal(await storedToken(page), token);
    expectNoProblems(problems);
  });

  it('shows a message published on an allowed channel to its subscriber', async function () {
    const { page, problems } = await loggedIn({ publish: ['chat.*'], subscribe: ['chat.*'] });
    const channel = `chat.room${randomBytes(3).toString('hex')}`;
    const text = `hello ${randomBytes(4).toString('hex')}`;
    await subscribeThroughPage(page, channel);
    await logEntry(page, 'info', `subscribed to ${channel}`);
    await publishThroughPage(page, channel, text);
    assert.equal(await logEntry(page, 'message', text), `${channel}: ${text}`);
    assert.deepEqual(await page.locator('#log li.error .text').allTextContents(), []);
    expectNoProblems(problems);
  });

  it('shows PublishError and SubscribeError for a channel outside the claims, and stays logged in', async function () {
    const { page, problems, user } = await loggedIn({ publish: ['chat.*'], subscribe: ['chat.*'] });
    await publishThroughPage(page, 'news', 'not for you');
    assert.match(await logEntry(page, 'error', 'PublishError'), /^PublishError: .*news/);
    await subscribeThroughPage(page, 'news');
    assert.match(await logEntry(page, 'error', 'SubscribeError'), /^SubscribeError: .*news/);
    assert.deepEqual(await page.locator('#log li.message .text').allTextContents(), []);
    assert.equal(await page.textContent('#status'), `authenticated as ${user.username}`);
    expectNoProblems(problems);
  });

  it('logs out: not logged in, token removed from localStorage and revoked on the server', async function () {
    const { page, problems } = await loggedIn();
    const token = (await storedToken(page)) as string;
    await page.click('#logout');
    await statusIs(page, 'not logged in');
    assert.equal(await storedToken(page), null);
    // An own logout is a logout, not a revocation shown in red.
    await logEntry(page, 'info', 'logged out');
    assert.deepEqual(await page.locator('#log li.error .text').allTextContents(), []);

    // Putting the old token back does not log the page in again: logout revoked it.
    await page.evaluate(([key, value]) => localStorage.setItem(key, value), [TOKEN_KEY, token] as const);
    await page.reload();
    assert.match(await logEntry(page, 'error', 'AuthTokenRevokedError'), /^AuthTokenRevokedError: /);
    await statusIs(page, 'not logged in');
    // The server tells the client to drop a bad token, so the next visit does not present it again.
    await waitUntil(
      page,
      'the refused token should be dropped',
      ([key]) => localStorage.getItem(key ?? '') === null,
      [TOKEN_KEY],
    );
    expectNoProblems(problems);
  });

  it('shows LoginError for a wrong password and stores nothing', async function () {
    const { user } = await warden.createUser();
    const { page, problems } = await openDemo();
    await logIn(page, user.username, 'not-the-password');
    assert.equal(await logEntry(page, 'error', 'LoginError'), 'LoginError: invalid username or password');
    assert.equal(await page.textContent('#status'), 'not logged in');
    assert.equal(await storedToken(page), null);
    expectNoProblems(problems);
  });

  it('shows why the server ended the session (warden:authEnded) when the user is revoked', async function () {
    const { page, problems, user } = await loggedIn({ subscribe: ['chat.*'] });
    await subscribeThroughPage(page, 'chat.lobby');
    await logEntry(page, 'info', 'subscribed to chat.lobby');
    const now = Math.floor(Date.now() / 1000);
    await warden.worker.control.revoke(Revocations.ofUser(user.id, now + 1, now + 3600));
    assert.match(await logEntry(page, 'error', 'AuthTokenRevokedError'), /^AuthTokenRevokedError: /);
    await statusIs(page, 'not logged in');
    await logEntry(page, 'info', 'removed from chat.lobby');
    await waitUntil(
      page,
      'the token should be removed',
      ([key]) => localStorage.getItem(key ?? '') === null,
      [TOKEN_KEY],
    );
    expectNoProblems(problems);
  });

  it('comes back within about a second, still logged in, when its worker drains (close 4100)', async function () {
    const { page, problems, user } = await loggedIn({ publish: ['chat.*'], subscribe: ['chat.*'] });
    const channel = `chat.room${randomBytes(3).toString('hex')}`;
    await subscribeThroughPage(page, channel);
    await logEntry(page, 'info', `subscribed to ${channel}`);
    const before = warden.worker.registry.ofUser(user.id);
    assert.equal(before.length, 1);
    const closedAt = Date.now();
    for (const socket of before) socket.disconnect(4100, 'worker draining');
    await logEntry(page, 'info', 'disconnected (4100)');
    await waitUntil(
      page,
      'the page should reconnect',
      () => document.getElementById('connection')?.textContent === 'connected',
      [],
    );
    // RECONNECT_OPTIONS: first retry after 0.5-1.5 s; the margin is for a busy 2-core machine.
    assert.ok(Date.now() - closedAt < 4000, `reconnected after ${Date.now() - closedAt} ms`);
    await statusIs(page, `authenticated as ${user.username}`);
    const after = warden.worker.registry.ofUser(user.id);
    assert.equal(after.length, 1, 'the new connection is authenticated on the server from the stored token');
    assert.notEqual(after[0], before[0]);
    // The subscription was renewed on the new connection.
    const text = `back ${randomBytes(4).toString('hex')}`;
    await publishThroughPage(page, channel, text);
    assert.equal(await logEntry(page, 'message', text), `${channel}: ${text}`);
    expectNoProblems(problems);
  });

  it('runs under its Content-Security-Policy with no inline script and no violation', async function () {
    const { page, problems } = await openDemo();
    const response = await page.request.get(`${warden.url}/`);
    assert.match(response.headers()['content-security-policy'] ?? '', /default-src 'self'/);
    const inline = await page.evaluate(() => ({
      scripts: Array.from(document.scripts).filter((script) => script.src === '').length,
      handlers: Array.from(document.querySelectorAll('*')).flatMap((element) =>
        element.getAttributeNames().filter((name: string) => name.startsWith('on')),
      ),
    }));
    assert.deepEqual(inline, { scripts: 0, handlers: [] });
    expectNoProblems(problems);

    // The detector works, and the policy is enforced: an injected inline script is blocked and reported.
    const reported = page.waitForEvent('console', {
      predicate: (message) => message.text().startsWith('CSP violation'),
      timeout: UI_TIMEOUT_MS,
    });
    await page.evaluate(() => {
      const script = document.createElement('script');
      script.textContent = 'document.body.dataset.inlineRan = "yes"';
      document.head.append(script);
    });
    await reported;
    assert.equal(await page.evaluate(() => document.body.dataset.inlineRan ?? null), null);
    assert.ok(problems.some((problem) => problem.includes('CSP violation: script-src')));
  });
});
