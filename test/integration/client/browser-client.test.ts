import assert from 'node:assert/strict';
import { build } from 'esbuild';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createTestDatabase } from '../../helpers/mariadb.ts';
import { freePort, runWarden, type RunningProcess } from '../../helpers/processes.ts';
import {
  createStoredUser,
  startTestWarden,
  testEnv,
  testSecrets,
  type TestWarden,
} from '../../helpers/warden.ts';

const CLIENT_DIR = fileURLToPath(new URL('../../../client', import.meta.url));
/** Screenshots of the demo page (test-results/ is not in git). */
const SCREENSHOTS = fileURLToPath(new URL('../../../test-results/client', import.meta.url));
const UI_TIMEOUT_MS = 10_000;
/** The bound for a login, renewal or logout to reach another tab. */
const TAB_BOUND_MS = 1_000;

/** A page server on another origin (port 0): serves fixed bodies by path. */
async function startPageServer(files: Map<string, { type: string; body: string }>): Promise<{
  server: Server;
  origin: string;
}> {
  const server = createServer((request, response) => {
    const file = files.get(new URL(request.url ?? '/', 'http://x').pathname);
    if (file === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const html = (script: string) => ({
  type: 'text/html',
  body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>app</title></head><body><script type="module">${script}</script></body></html>`,
});

function launch(): Promise<Browser> {
  // Debian's Chromium; playwright-core never downloads a browser.
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
}

/** Waits until `condition(args)` holds in the page; on timeout, fails naming what was awaited. */
async function waitUntil(
  page: Page,
  what: string,
  condition: (arg: string | null) => boolean,
  args: string | null,
  timeout = UI_TIMEOUT_MS,
): Promise<void> {
  try {
    await page.waitForFunction(condition, args, { timeout });
  } catch (error) {
    const shown = await page
      .evaluate(() => ({
        status: document.getElementById('status')?.textContent ?? null,
        log: Array.from(document.querySelectorAll('#log li'), (li) => li.textContent),
      }))
      .catch(() => null);
    assert.fail(`${what}; the page shows ${JSON.stringify(shown)} (${(error as Error).message})`);
  }
}

/**
 * Run in the page (as source text: tsx's helpers do not exist there): unlabelled inputs, unnamed
 * buttons, and visible text under WCAG AA contrast (4.5:1) against the page's white background.
 */
const A11Y_CHECK = `(() => {
  const problems = [];
  const visible = (el) => el.offsetParent !== null;
  for (const input of document.querySelectorAll('input')) {
    if (visible(input) && input.labels.length === 0) problems.push('unlabelled input #' + input.id);
  }
  for (const button of document.querySelectorAll('button')) {
    const name = button.getAttribute('aria-label') ?? button.textContent.trim();
    if (visible(button) && name === '') problems.push('a button without a name');
  }
  const luminance = (rgb) => {
    const [r, g, b] = rgb.match(/[0-9.]+/g).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  for (const el of document.querySelectorAll('body *')) {
    if (!visible(el) || !Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    const style = getComputedStyle(el);
    if (style.backgroundColor !== 'rgba(0, 0, 0, 0)' && style.backgroundColor !== 'rgb(255, 255, 255)') continue;
    const ratio = 1.05 / (luminance(style.color) + 0.05);
    if (ratio < 4.5) problems.push('contrast ' + ratio.toFixed(2) + ' of ' + el.tagName + '#' + el.id);
  }
  return problems;
})()`;

describe('warden-client in Chromium', function () {
  let browser: Browser;
  let context: BrowserContext;
  before(async function () {
    browser = await launch();
  });
  beforeEach(async function () {
    context = await browser.newContext();
  });
  afterEach(async function () {
    await context?.close();
  });
  after(async function () {
    await browser?.close();
  });

  describe('from pages on other origins', function () {
    let warden: TestWarden;
    let allowed: { server: Server; origin: string };
    let refused: { server: Server; origin: string };
    const files = new Map<string, { type: string; body: string }>();
    let outDir: string;

    before(async function () {
      // A bundler's view of the package: `import ... from 'warden-client'`, resolved through its
      // package.json `exports`, bundled by esbuild for the browser.
      outDir = await mkdtemp(join(tmpdir(), 'warden-bundle-'));
      await writeFile(
        join(outDir, 'app.js'),
        "import { createWardenClient, AUTH_ENDED_REASONS } from 'warden-client';\n" +
          'window.app = { createWardenClient, AUTH_ENDED_REASONS };\n',
      );
      const bundled = await build({
        entryPoints: [join(outDir, 'app.js')],
        bundle: true,
        format: 'esm',
        platform: 'browser',
        write: false,
        alias: { 'warden-client': CLIENT_DIR },
        define: { global: 'globalThis' },
        logLevel: 'silent',
      });
      files.set('/app.js', { type: 'text/javascript', body: bundled.outputFiles[0]?.text ?? '' });
      allowed = await startPageServer(files);
      refused = await startPageServer(files);
      warden = await startTestWarden({ ALLOWED_ORIGINS: allowed.origin });
      files.set(
        '/import.html',
        html(
          `import * as Warden from '${warden.url}/warden-client.js'; window.Warden = Warden; window.loaded = true;`,
        ),
      );
      files.set('/bundled.html', html(`import '/app.js'; window.loaded = true;`));
    });
    after(async function () {
      await warden?.close();
      await new Promise((resolve) => allowed?.server.close(resolve));
      await new Promise((resolve) => refused?.server.close(resolve));
      await rm(outDir, { recursive: true, force: true });
    });

    async function open(origin: string, path: string): Promise<Page> {
      const page = await context.newPage();
      await page.goto(`${origin}${path}`);
      return page;
    }

    it('imports /warden-client.js on an allowed origin (CORS) and is authenticated right after `await login()`', async function () {
      const { user, password } = await warden.createUser({ subscribe: ['chat.*'] });
      const page = await open(allowed.origin, '/import.html');
      await waitUntil(
        page,
        'the module should load',
        () => (window as { loaded?: boolean }).loaded === true,
        null,
      );
      const result = await page.evaluate(
        async ([url, username, pass]) => {
          type Client = {
            login(u: string, p: string): Promise<unknown>;
            state: string;
            claims: { username: string } | null;
          };
          const { createWardenClient } = (
            window as unknown as { Warden: { createWardenClient(o: object): Client } }
          ).Warden;
          const client = createWardenClient({ url });
          await client.login(username as string, pass as string);
          // Read in the same turn as the await: no event in between.
          return { state: client.state, username: client.claims?.username ?? null };
        },
        [warden.url, user.username, password],
      );
      assert.deepEqual(result, { state: 'authenticated', username: user.username });
      const response = await page.request.get(`${warden.url}/warden-client.js`, {
        headers: { origin: allowed.origin },
      });
      assert.equal(response.headers()['access-control-allow-origin'], allowed.origin);
    });

    it('is not given to a page on an origin outside ALLOWED_ORIGINS', async function () {
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      page.on('requestfailed', (request) => problems.push(`failed: ${request.url()}`));
      await page.goto(`${refused.origin}/import.html`);
      await waitUntil(page, 'the browser should refuse the script', () => true, null);
      const response = await page.request.get(`${warden.url}/warden-client.js`, {
        headers: { origin: refused.origin },
      });
      assert.equal(response.headers()['access-control-allow-origin'], undefined);
      assert.equal(await page.evaluate(() => (window as { loaded?: boolean }).loaded ?? false), false);
      assert.ok(
        problems.some((problem) =>
          /CORS|Access-Control-Allow-Origin|failed: .*warden-client\.js/.test(problem),
        ),
        JSON.stringify(problems),
      );
    });

    it('works bundled by esbuild from `warden-client`; its own logout is reported as `logout`, once', async function () {
      const { user, password } = await warden.createUser();
      const page = await open(allowed.origin, '/bundled.html');
      await waitUntil(
        page,
        'the bundle should load',
        () => (window as { loaded?: boolean }).loaded === true,
        null,
      );
      const result = await page.evaluate(
        async ([url, username, pass]) => {
          type Client = {
            login(u: string, p: string): Promise<unknown>;
            logout(): Promise<void>;
            on(e: string, l: (p: { reason: string; error: { name: string } | null }) => void): () => void;
            state: string;
          };
          const app = (window as unknown as { app: { createWardenClient(o: object): Client } }).app;
          const client = app.createWardenClient({ url });
          const ends: string[] = [];
          client.on('authEnded', ({ reason, error }) => ends.push(`${reason}:${error?.name ?? 'none'}`));
          await client.login(username as string, pass as string);
          const afterLogin = client.state;
          await client.logout();
          // Whatever the server still sends about this token arrives within a round trip.
          await client.login(username as string, pass as string);
          return { afterLogin, ends };
        },
        [warden.url, user.username, password],
      );
      assert.deepEqual(result, { afterLogin: 'authenticated', ends: ['logout:none'] });
    });

    it('stops retrying when the server refuses its origin, and says why', async function () {
      const page = await open(refused.origin, '/bundled.html');
      await waitUntil(
        page,
        'the bundle should load',
        () => (window as { loaded?: boolean }).loaded === true,
        null,
      );
      const closed = await page.evaluate(async (url) => {
        type Client = {
          on(
            e: string,
            l: (p: { state: string; code?: number; terminal: boolean; why?: string }) => void,
          ): () => void;
          connection: string;
        };
        const app = (window as unknown as { app: { createWardenClient(o: object): Client } }).app;
        const client = app.createWardenClient({ url });
        return new Promise<{ code?: number; terminal: boolean; why?: string }>((resolve) => {
          client.on('connection', (event) => {
            if (event.state === 'closed') resolve(event);
          });
        });
      }, warden.url);
      assert.equal(closed.code, 4503);
      assert.equal(closed.terminal, true);
      assert.match(closed.why ?? '', /origin/);
    });
  });

  describe('two tabs of the demo page', function () {
    let warden: TestWarden;
    before(async function () {
      warden = await startTestWarden({ TOKEN_TTL: '10', TOKEN_RENEW_INTERVAL: '2', TOKEN_REUSE_GRACE: '2' });
    });
    after(async function () {
      await warden?.close();
    });

    /** Opens the demo page and records the client's events in `window.seen`. */
    async function tab(): Promise<Page> {
      const page = await context.newPage();
      await page.goto(`${warden.url}/`);
      await waitUntil(page, 'the client should start', () => 'warden' in window, null);
      await page.evaluate(() => {
        type Seen = { renewed: Array<{ jti: string; source: string }>; ended: string[] };
        const seen: Seen = { renewed: [], ended: [] };
        const client = (window as unknown as { warden: { on(e: string, l: (p: never) => void): void } })
          .warden;
        client.on('renewed', ((p: { claims: { jti: string }; source: string }) =>
          seen.renewed.push({ jti: p.claims.jti, source: p.source })) as (p: never) => void);
        client.on('authEnded', ((p: { reason: string }) => seen.ended.push(p.reason)) as (p: never) => void);
        (window as unknown as { seen: Seen }).seen = seen;
      });
      return page;
    }

    const statusOf = (page: Page, text: string, timeout = UI_TIMEOUT_MS) =>
      waitUntil(
        page,
        `#status should read "${text}"`,
        (t) => document.getElementById('status')?.textContent === t,
        text,
        timeout,
      );

    it('shares a login, every renewal and a logout with the other tab, within a second each, one re-authentication per renewal', async function () {
      this.timeout(60_000);
      const { user, password } = await warden.createUser({ subscribe: ['chat.*'] });
      const [a, b] = [await tab(), await tab()];
      await statusOf(b, 'not logged in');
      await a.fill('#username', user.username);
      await a.fill('#password', password);
      await a.click('#login');
      await statusOf(a, `authenticated as ${user.username}`);
      await statusOf(b, `authenticated as ${user.username}`, TAB_BOUND_MS);

      // Three renewals: each one made by the server for one tab and followed by the other.
      type Seen = { renewed: Array<{ jti: string; source: string }>; ended: string[] };
      const seen = (page: Page) => page.evaluate(() => (window as unknown as { seen: Seen }).seen);
      await waitUntil(
        a,
        'three renewals should reach tab A',
        () => (window as unknown as { seen: Seen }).seen.renewed.length >= 3,
        null,
        20_000,
      );
      const newest = (await seen(a)).renewed.at(-1)?.jti as string;
      await waitUntil(
        b,
        'tab B should hold the newest token',
        (jti) =>
          (window as unknown as { warden: { claims: { jti: string } | null } }).warden.claims?.jti === jti,
        newest,
        TAB_BOUND_MS,
      );
      const [seenA, seenB] = [await seen(a), await seen(b)];
      const tokens = (s: Seen) => s.renewed.map((r) => r.jti);
      // Both tabs went through the same tokens, in the same order, each exactly once...
      const common = tokens(seenA).filter((jti) => tokens(seenB).includes(jti));
      assert.ok(common.length >= 3, `shared renewals: ${JSON.stringify({ seenA, seenB })}`);
      for (const jti of common) {
        const sources = [seenA, seenB].map((s) =>
          s.renewed.filter((r) => r.jti === jti).map((r) => r.source),
        );
        // ...each renewal made by the server for one tab and adopted once by the other.
        assert.deepEqual(sources.flat().sort(), ['server', 'tab'], `${jti}: ${JSON.stringify(sources)}`);
      }

      await a.click('#logout');
      await statusOf(a, 'not logged in');
      await statusOf(b, 'not logged in', TAB_BOUND_MS);
      // Tab B's end, reported once though both the other tab and the server said so.
      await b.evaluate(() => new Promise((resolve) => setTimeout(resolve, 0)));
      assert.deepEqual((await seen(a)).ended, ['logout']);
      assert.deepEqual((await seen(b)).ended, ['logout-elsewhere']);
    });

    it('passes a basic accessibility check: labelled controls, keyboard login, WCAG AA text contrast', async function () {
      const { user, password } = await warden.createUser({ subscribe: ['chat.*'] });
      const page = await tab();
      await statusOf(page, 'not logged in');
      const check = () => page.evaluate(A11Y_CHECK) as Promise<string[]>;
      assert.deepEqual(await check(), []);
      // Keyboard only: focus the username, type, tab to the password, Enter.
      await page.focus('#username');
      await page.keyboard.type(user.username);
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'password');
      await page.keyboard.type(password);
      await page.keyboard.press('Enter');
      await statusOf(page, `authenticated as ${user.username}`);
      assert.deepEqual(await check(), []);
      // The check itself sees what it should.
      await page.evaluate(() => {
        const faint = document.createElement('p');
        faint.id = 'faint';
        faint.style.color = '#bbb';
        faint.textContent = 'hard to read';
        const bare = document.createElement('input');
        bare.id = 'bare';
        document.body.append(faint, bare);
      });
      const found = await check();
      assert.ok(
        found.some((problem) => problem.endsWith('P#faint')),
        JSON.stringify(found),
      );
      assert.ok(found.includes('unlabelled input #bare'), JSON.stringify(found));
    });

    it('shows who I am, my permissions, the expiry, my subscriptions across a reload, and the demo users', async function () {
      const { user, password } = await warden.createUser({
        publish: ['chat.*'],
        subscribe: ['chat.*', 'news'],
        invoke: ['whoami'],
      });
      const page = await tab();
      await statusOf(page, 'not logged in');
      await mkdir(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: join(SCREENSHOTS, 'demo-logged-out.png'), fullPage: true });
      await page.fill('#username', user.username);
      await page.fill('#password', password);
      await page.press('#password', 'Enter');
      await statusOf(page, `authenticated as ${user.username}`);
      assert.equal(await page.isHidden('#login-form'), true, 'the login form is hidden once logged in');
      assert.deepEqual(await page.locator('#perm-subscribe li').allTextContents(), ['chat.*', 'news']);
      assert.deepEqual(await page.locator('#perm-invoke li').allTextContents(), ['whoami']);
      assert.match((await page.textContent('#expiry')) ?? '', /^in \d+:\d\d/);
      assert.match((await page.textContent('#worker')) ?? '', /^served by pid \d+$/);
      await page.fill('#channel', 'chat.lobby');
      await page.click('#subscribe');
      await waitUntil(
        page,
        'the subscription should be listed',
        () => document.querySelector('#subscriptions [data-channel="chat.lobby"]') !== null,
        null,
      );
      await waitUntil(
        page,
        'the demo users should be listed',
        () => document.querySelectorAll('#demo-users-body tr').length >= 3,
        null,
      );
      // Each log line carries its time.
      assert.match((await page.locator('#log li time').first().textContent()) ?? '', /^\d\d:\d\d:\d\d$/);
      await page.screenshot({ path: join(SCREENSHOTS, 'demo-logged-in.png'), fullPage: true });

      await page.reload();
      await statusOf(page, `authenticated as ${user.username}`);
      // A figure for the README, not an assertion: navigation start to an authenticated socket.
      const after = await page.evaluate(() => document.body.dataset.authenticatedAfterMs);
      console.log(`      (reload to authenticated: ${after} ms)`);
      await waitUntil(
        page,
        'the subscription should come back after a reload',
        () => document.querySelector('#subscriptions [data-channel="chat.lobby"]') !== null,
        null,
      );
      await page.click('#subscriptions [data-channel="chat.lobby"]');
      await waitUntil(
        page,
        'unsubscribed',
        () => document.querySelector('#subscriptions [data-channel]') === null,
        null,
      );
      await page.reload();
      await statusOf(page, `authenticated as ${user.username}`);
      assert.equal(await page.locator('#subscriptions [data-channel]').count(), 0);
    });
  });

  describe('a killed worker', function () {
    this.timeout(120_000);
    let db: { url: string; drop(): Promise<void> };
    let cluster: RunningProcess;
    let url: string;
    const username = 'tab-user';
    const password = 'tab-user-password';

    before(async function () {
      db = await createTestDatabase();
      await createStoredUser(db.url, { username, password, subscribe: ['chat.*'] });
      const [port, statePort, brokerPort] = [await freePort(), await freePort(), await freePort()];
      const secrets = testSecrets();
      cluster = runWarden(['start'], {
        ...testEnv(db.url, { PORT: String(port), HOST: '127.0.0.1' }),
        WORKERS: '2',
        BROKERS: '1',
        SCC_STATE_SERVER_PORT: String(statePort),
        SCC_BROKER_SERVER_PORT: String(brokerPort),
        AUTH_KEY: secrets.authKey,
        SCC_AUTH_KEY: secrets.sccAuthKey,
        LOG_LEVEL: 'info',
      });
      await cluster.waitFor(/Warden is ready/, 60_000);
      url = `http://127.0.0.1:${port}`;
    });
    after(async function () {
      await cluster?.stop();
      await db?.drop();
    });

    it('reconnects the page, still logged in, to a live worker', async function () {
      const page = await context.newPage();
      await page.goto(`${url}/`);
      await page.fill('#username', username);
      await page.fill('#password', password);
      await page.click('#login');
      await waitUntil(
        page,
        'logged in',
        (t) => document.getElementById('status')?.textContent === t,
        `authenticated as ${username}`,
      );
      await waitUntil(
        page,
        'the worker should be named',
        () => /pid \d+/.test(document.getElementById('worker')?.textContent ?? ''),
        null,
      );
      const servedBy = (await page.textContent('#worker')) as string;
      const pid = Number(/pid (\d+)/.exec(servedBy)?.[1]);
      process.kill(pid, 'SIGKILL');
      await waitUntil(
        page,
        'the page should see the connection drop',
        () => /disconnected \(1006\)/.test(document.getElementById('log')?.textContent ?? ''),
        null,
      );
      await waitUntil(
        page,
        'the page should reconnect to another worker',
        (before) =>
          document.getElementById('connection')?.textContent === 'connected' &&
          (document.getElementById('worker')?.textContent ?? before) !== before,
        servedBy,
        30_000,
      );
      assert.equal(await page.textContent('#status'), `authenticated as ${username}`);
    });
  });
});
