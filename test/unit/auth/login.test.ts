import assert from 'node:assert/strict';
import { FairAdmission } from '../../../auth/fair-admission.ts';
import { checkPassword, type PasswordCheckDeps } from '../../../auth/login.ts';
import { LoginThrottle } from '../../../auth/login-throttle.ts';
import { PasswordHasher } from '../../../auth/passwords.ts';
import { openStore } from '../../../store/index.ts';
import type { Store } from '../../../store/types.ts';

/** A real hasher whose verify waits until the test lets it finish: the slow step, held open. */
class GatedHasher extends PasswordHasher {
  private opened: () => void = () => {};
  private readonly gate = new Promise<void>((resolve) => (this.opened = resolve));
  started: Promise<void>;
  private markStarted: () => void = () => {};

  constructor() {
    super({ cost: 14 });
    this.started = new Promise((resolve) => (this.markStarted = resolve));
  }

  open(): void {
    this.opened();
  }

  override async verify(password: string, stored: string): Promise<boolean> {
    this.markStarted();
    const ok = await super.verify(password, stored);
    await this.gate;
    return ok;
  }
}

describe('password check', function () {
  let store: Store;
  let hasher: GatedHasher;
  let deps: PasswordCheckDeps;
  const password = 'correct horse battery';

  beforeEach(async function () {
    store = openStore('sqlite::memory:');
    await store.migrate();
    hasher = new GatedHasher();
    deps = {
      store,
      hasher,
      throttle: new LoginThrottle({
        store,
        perPair: 5,
        perAccount: 100,
        failureWindow: 900,
        perAddress: 60,
        addressWindow: 60,
      }),
      admission: new FairAdmission({ concurrency: 2, perKey: 4, maxQueue: 16 }),
      now: () => 1_700_000_000_000,
    };
    await store.createUser({
      username: 'dana',
      passwordHash: await new PasswordHasher({ cost: 14 }).hash(password),
      tenant: null,
      roles: [],
      publish: [],
      subscribe: [],
      invoke: [],
    });
  });
  afterEach(async function () {
    await store.close();
  });

  it('returns the user and when it was read', async function () {
    hasher.open();
    const { user, asOf } = await checkPassword(deps, { username: 'dana', password }, '203.0.113.1');
    assert.equal(user.username, 'dana');
    assert.equal(asOf, 1_700_000_000_000);
  });

  for (const [what, change] of [
    ['disabled', (s: Store) => s.updateUser('dana', { disabled: true })],
    ['removed', (s: Store) => s.removeUser('dana')],
    ['revoked', (s: Store) => s.updateUser('dana', { tokensValidFrom: 1_700_000_001 })],
  ] as const) {
    it(`refuses a login whose user was ${what} while the password was being hashed`, async function () {
      const login = checkPassword(deps, { username: 'dana', password }, '203.0.113.1');
      await hasher.started;
      await change(store);
      hasher.open();
      await assert.rejects(login, { name: 'LoginError', message: 'invalid username or password' });
    });
  }

  it('refuses a disabled user with the same error as a wrong password', async function () {
    await store.updateUser('dana', { disabled: true });
    hasher.open();
    await assert.rejects(checkPassword(deps, { username: 'dana', password }, '203.0.113.1'), {
      name: 'LoginError',
      message: 'invalid username or password',
    });
  });
});
