import assert from 'node:assert/strict';
import jwt from 'jsonwebtoken';
import { parseInviteCommand } from '../../../admin/invite-commands.ts';
import { startTestWarden, type TestWarden } from '../../helpers/warden.ts';

async function register(
  warden: TestWarden,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown>; retryAfter: string | null }> {
  const response = await fetch(`${warden.url}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    retryAfter: response.headers.get('retry-after'),
  };
}

const errorOf = (body: Record<string, unknown>) => body.error as { name: string; reason?: string };
let n = 0;
const name = () => `reg${process.pid}x${n++}`;
const GOOD = 'a long and unusual passphrase';

describe('registration', function () {
  this.timeout(60_000);

  describe('REGISTRATION=open', function () {
    let warden: TestWarden;
    before(async function () {
      warden = await startTestWarden({ REGISTRATION: 'open', REGISTRATION_ROLES: 'user,reader' });
    });
    after(async function () {
      await warden?.close();
    });

    it('creates the user with REGISTRATION_ROLES and answers 201 with a token', async function () {
      const username = name();
      const answer = await register(warden, { username, password: GOOD });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      const claims = jwt.decode(answer.body.token as string) as { username: string; roles: string[] };
      assert.equal(claims.username, username);
      assert.deepEqual(claims.roles, ['user', 'reader']);
      assert.equal(typeof answer.body.expiresAt, 'number');
      const login = await fetch(`${warden.url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password: GOOD }),
      });
      assert.equal(login.status, 200);
    });

    it('answers 409 RegistrationError for a taken name', async function () {
      const username = name();
      assert.equal((await register(warden, { username, password: GOOD })).status, 201);
      const again = await register(warden, { username, password: `${GOOD} too` });
      assert.equal(again.status, 409);
      assert.deepEqual(
        [errorOf(again.body).name, errorOf(again.body).reason],
        ['RegistrationError', 'username-taken'],
      );
    });

    it('lets one of two registrations of one name racing through the slow hash win; the other gets 409 and writes nothing', async function () {
      const username = name();
      const answers = await Promise.all([
        register(warden, { username, password: GOOD }),
        register(warden, { username, password: `${GOOD} two` }),
      ]);
      assert.deepEqual(answers.map((a) => a.status).sort(), [201, 409]);
      assert.equal((await warden.worker.store.listUsers()).filter((u) => u.username === username).length, 1);
    });

    it('answers 400 RegistrationError naming the password rule that failed', async function () {
      const cases: Array<[string, string, string]> = [
        [name(), 'short', 'password-too-short'],
        [name(), 'x'.repeat(1025), 'password-too-long'],
        ['samename12345', 'samename12345', 'password-is-username'],
        [name(), 'qwertyuiop', 'password-common'],
        [name(), 'Password', 'password-too-short'],
        [name(), '1234567890', 'password-common'],
      ];
      for (const [username, password, reason] of cases) {
        const answer = await register(warden, { username, password });
        assert.equal(answer.status, 400, reason);
        assert.deepEqual(
          [errorOf(answer.body).name, errorOf(answer.body).reason],
          ['RegistrationError', reason],
        );
        assert.equal(await warden.worker.store.findUserByUsername(username), null);
      }
      const malformed = await register(warden, { username: 'a.b', password: GOOD });
      assert.equal(malformed.status, 400);
      assert.equal(errorOf(malformed.body).name, 'BadRequestError');
    });
  });

  describe('REGISTRATION=closed (the default)', function () {
    let warden: TestWarden;
    before(async function () {
      warden = await startTestWarden();
    });
    after(async function () {
      await warden?.close();
    });

    it('answers 403 RegistrationError and creates nothing', async function () {
      const username = name();
      const answer = await register(warden, { username, password: GOOD });
      assert.equal(answer.status, 403);
      assert.deepEqual(
        [errorOf(answer.body).name, errorOf(answer.body).reason],
        ['RegistrationError', 'closed'],
      );
      assert.equal(await warden.worker.store.findUserByUsername(username), null);
    });
  });

  describe('REGISTRATION=invite', function () {
    let warden: TestWarden;
    before(async function () {
      warden = await startTestWarden({ REGISTRATION: 'invite' });
    });
    after(async function () {
      await warden?.close();
    });

    async function invite(args: string[] = []): Promise<string> {
      const lines: string[] = [];
      await parseInviteCommand(['create', ...args]).run({
        store: warden.worker.store,
        out: (line) => lines.push(line),
        warn: () => undefined,
      });
      assert.equal(lines.length, 1);
      return lines[0] as string;
    }

    it('registers once per invite, with the roles it names; refuses a missing, used or made-up one with 403', async function () {
      const code = await invite(['--role', 'editor', '--role', 'user']);
      const first = await register(warden, { username: name(), password: GOOD, invite: code });
      assert.equal(first.status, 201, JSON.stringify(first.body));
      assert.deepEqual((jwt.decode(first.body.token as string) as { roles: string[] }).roles, [
        'editor',
        'user',
      ]);
      for (const body of [
        { username: name(), password: GOOD, invite: code },
        { username: name(), password: GOOD, invite: 'A'.repeat(43) },
        { username: name(), password: GOOD },
      ]) {
        const answer = await register(warden, body);
        assert.equal(answer.status, 403, JSON.stringify(body));
        assert.equal(errorOf(answer.body).name, 'RegistrationError');
      }
    });

    it('keeps an invite usable when the registration fails on a taken name', async function () {
      const code = await invite();
      const taken = name();
      const other = await invite();
      assert.equal((await register(warden, { username: taken, password: GOOD, invite: other })).status, 201);
      assert.equal((await register(warden, { username: taken, password: GOOD, invite: code })).status, 409);
      assert.equal((await register(warden, { username: name(), password: GOOD, invite: code })).status, 201);
    });
  });

  describe('rate limit', function () {
    let warden: TestWarden;
    before(async function () {
      warden = await startTestWarden({ REGISTRATION: 'open', LOGIN_FAILURE_LIMIT: '2' });
    });
    after(async function () {
      await warden?.close();
    });

    it('counts failed registrations like failed logins: 429 with Retry-After past the limit', async function () {
      const username = name();
      assert.equal((await register(warden, { username, password: GOOD })).status, 201);
      assert.equal((await register(warden, { username, password: GOOD })).status, 409);
      assert.equal((await register(warden, { username, password: GOOD })).status, 409);
      const limited = await register(warden, { username, password: GOOD });
      assert.equal(limited.status, 429);
      assert.equal(errorOf(limited.body).name, 'RateLimitError');
      assert.ok(Number(limited.retryAfter) > 0);
    });
  });
});
