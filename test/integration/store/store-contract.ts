import assert from 'node:assert/strict';
import { ERRORS, WardenError, type WardenErrorName } from '../../../errors/catalogue.ts';
import { MIGRATIONS } from '../../../store/migrations.ts';
import type {
  ClusterEvent,
  NewClusterEvent,
  NewRole,
  NewUser,
  Role,
  RolePatch,
  Store,
  User,
  UserPatch,
} from '../../../store/types.ts';

/** A store on a new, empty (unmigrated) database of its own. */
export interface OpenedStore {
  readonly store: Store;
  /** Opens a second, independent store on the same database; the caller closes it. */
  another(): Store;
  /** Closes `store` and deletes the database. */
  cleanup(): Promise<void>;
}

/**
 * Asserts that `promise` rejects with the WardenError `name` (and its catalogue code); returns it.
 *
 * @example
 *   await rejectsWith(store.removeUser('nobody'), 'UserNotFoundError');
 */
export async function rejectsWith(promise: Promise<unknown>, name: WardenErrorName): Promise<WardenError> {
  let caught: unknown;
  await assert.rejects(promise, (error) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof WardenError, `expected a WardenError named ${name}, got ${String(caught)}`);
  assert.equal(caught.name, name, caught.message);
  assert.equal(caught.code, ERRORS[name].code);
  return caught;
}

/**
 * Runs `work` with `Date.now()` frozen at `seconds` (epoch s), so that createdAt/updatedAt are
 * exact. The stores read the clock only through Date.now().
 */
async function atClock<T>(seconds: number, work: () => Promise<T>): Promise<T> {
  const realNow = Date.now;
  Date.now = () => seconds * 1000;
  try {
    return await work();
  } finally {
    Date.now = realNow;
  }
}

const T0 = 1_700_000_000;

const FULL: Omit<NewUser, 'username'> = {
  passwordHash: '$scrypt$N=16384,r=8,p=1$c2FsdA$aGFzaA',
  tenant: 'acme',
  roles: ['admin', 'ops'],
  publish: ['chat.{tenant}.*', 'notes.{username}', 'quote"d', "apo'strophe"],
  subscribe: ['chat.{tenant}.**', 'alerts', 'zoë.名前'],
  invoke: ['rpc.echo', 'rpc.{username}.*'],
};

function newUser(username: string, fields: Partial<NewUser> = {}): NewUser {
  return { ...FULL, username, ...fields };
}

const ROLE: Omit<NewRole, 'name'> = {
  publish: ['chat.{tenant}.*', 'notes.{username}', 'quote"d'],
  subscribe: ['chat.>', "apo'strophe", 'zoë.名前'],
  invoke: ['rpc.echo'],
};

function newRole(name: string, fields: Partial<NewRole> = {}): NewRole {
  return { ...ROLE, name, ...fields };
}

/** A cluster event; 'user' revocations carry their cut-off in `value`. */
function event(kind: ClusterEvent['kind'], subject: string, expiresAt: number): NewClusterEvent {
  return { kind, subject, value: kind === 'user' ? T0 - 5 : 0, expiresAt };
}

/** Usernames that break string-built SQL, LIKE patterns, or byte/character handling. */
const ODD_NAMES = [
  "a'; DROP TABLE users; --",
  'Robert"); DROP TABLE users;--',
  "x' OR '1'='1",
  'back\\slash\\',
  '100%_done',
  'tab\tand\nnewline',
  'zoë',
  '名前',
  '😀🔐',
  ' spaced ',
] as const;

/** Names that equal none of ODD_NAMES but would under a sloppy comparison. */
const NEAR_MISSES = [
  "A'; DROP TABLE users; --",
  "x' OR '1'='1' --",
  '100%',
  '100%_don_',
  'ZOË',
  'zoë'.normalize('NFD'),
  ' spaced',
  ' spaced  ',
  'spaced',
];

/**
 * The behaviour every Store must have, as mocha tests on `open()`ed stores (one fresh database
 * per test, so no test depends on another's rows).
 *
 * @example
 *   describeStoreContract('sqlite', openTempSqliteStore);
 */
export function describeStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`Store contract: ${name}`, function () {
    let opened: OpenedStore | undefined;
    let store: Store;

    beforeEach(async function () {
      opened = await open();
      store = opened.store;
    });
    afterEach(async function () {
      await opened?.cleanup();
      opened = undefined;
    });

    /** A second store on the same database, closed after `work`. */
    async function withAnother<T>(work: (other: Store) => Promise<T>): Promise<T> {
      const other = (opened as OpenedStore).another();
      try {
        return await work(other);
      } finally {
        await other.close();
      }
    }

    describe('migrate', function () {
      it('applies every migration on an empty database, then none', async function () {
        assert.equal(await store.migrate(), MIGRATIONS.length);
        assert.equal(await store.migrate(), 0);
        assert.equal(await store.countUsers(), 0);
      });

      it('applies each migration once when two stores migrate the same database at once', async function () {
        await withAnother(async (other) => {
          const applied = await Promise.all([store.migrate(), other.migrate()]);
          assert.equal(applied[0] + applied[1], MIGRATIONS.length, `applied: ${applied.join(' + ')}`);
          assert.deepEqual(await Promise.all([store.migrate(), other.migrate()]), [0, 0]);
          const created = await other.createUser(newUser('made-by-other'));
          assert.deepEqual(await store.findUserByUsername('made-by-other'), created);
        });
      });
    });

    describe('on a migrated database', function () {
      beforeEach(async function () {
        await store.migrate();
      });

      describe('users', function () {
        it('round-trips every field through createUser, findUserByUsername and findUserById', async function () {
          const input = newUser('alice');
          const created = await atClock(T0, () => store.createUser(input));
          assert.deepEqual(created, {
            ...input,
            id: created.id,
            disabled: false,
            tokensValidFrom: 0,
            createdAt: T0,
            updatedAt: T0,
          });
          assert.match(created.id, /^[0-9a-f-]{36}$/);
          assert.deepEqual(await store.findUserByUsername('alice'), created);
          assert.deepEqual(await store.findUserById(created.id), created);
        });

        it('round-trips a null tenant and empty permission lists', async function () {
          const input = newUser('bare', { tenant: null, roles: [], publish: [], subscribe: [], invoke: [] });
          const created = await store.createUser(input);
          assert.equal(created.tenant, null);
          assert.deepEqual(
            [created.roles, created.publish, created.subscribe, created.invoke],
            [[], [], [], []],
          );
          assert.deepEqual(await store.findUserByUsername('bare'), created);
        });

        it('round-trips disabled and tokensValidFrom once set', async function () {
          const created = await store.createUser(newUser('carol'));
          const updated = await store.updateUser('carol', { disabled: true, tokensValidFrom: T0 + 123 });
          assert.equal(updated.disabled, true);
          assert.equal(updated.tokensValidFrom, T0 + 123);
          assert.deepEqual(await store.findUserById(created.id), updated);
          const enabled = await store.updateUser('carol', { disabled: false });
          assert.equal(enabled.disabled, false);
          assert.deepEqual(await store.findUserByUsername('carol'), enabled);
        });

        it('gives every user its own id', async function () {
          const a = await store.createUser(newUser('one'));
          const b = await store.createUser(newUser('two'));
          assert.notEqual(a.id, b.id);
        });

        it('finds nothing for an unknown username or id', async function () {
          await store.createUser(newUser('dave'));
          assert.equal(await store.findUserByUsername('nobody'), null);
          assert.equal(await store.findUserById('00000000-0000-0000-0000-000000000000'), null);
        });

        it('refuses a duplicate username with UserExistsError and keeps the first user', async function () {
          const first = await store.createUser(newUser('erin'));
          await rejectsWith(store.createUser(newUser('erin', { tenant: 'other' })), 'UserExistsError');
          assert.deepEqual(await store.findUserByUsername('erin'), first);
          assert.equal(await store.countUsers(), 1);
        });

        it('fails updateUser and removeUser of an unknown user with UserNotFoundError', async function () {
          await store.createUser(newUser('frank'));
          await rejectsWith(store.updateUser('nobody', { disabled: true }), 'UserNotFoundError');
          await rejectsWith(store.updateUser('nobody', {}), 'UserNotFoundError');
          await rejectsWith(store.removeUser('nobody'), 'UserNotFoundError');
          assert.equal(await store.countUsers(), 1);
        });

        it('updates only the fields a patch names, and bumps updatedAt', async function () {
          const patches: UserPatch[] = [
            { passwordHash: '$scrypt$new' },
            { tenant: 'globex' },
            { tenant: null },
            { roles: ['auditor'] },
            { roles: [] },
            { publish: ['p.new'] },
            { subscribe: [] },
            { invoke: ['rpc.other', 'rpc.third'] },
            { disabled: true },
            { tokensValidFrom: T0 + 30 },
            { tenant: 'initech', disabled: true, tokensValidFrom: T0 + 31 },
          ];
          for (const [index, patch] of patches.entries()) {
            const username = `patched-${index}`;
            const created = await atClock(T0, () => store.createUser(newUser(username)));
            const updated = await atClock(T0 + 60, () => store.updateUser(username, patch));
            const expected: User = { ...created, ...patch, updatedAt: T0 + 60 };
            assert.deepEqual(updated, expected, `patch ${JSON.stringify(patch)}`);
            assert.deepEqual(await store.findUserByUsername(username), expected);
          }
        });

        it('accepts a patch that changes nothing, and an empty patch', async function () {
          const created = await atClock(T0, () => store.createUser(newUser('gina')));
          // Same second, same values: a driver counting "changed" rather than "matched" rows would
          // report 0 rows and make this look like an unknown user.
          const same = await atClock(T0, () =>
            store.updateUser('gina', { tenant: created.tenant, disabled: false, roles: created.roles }),
          );
          assert.deepEqual(same, created);
          const untouched = await atClock(T0 + 60, () => store.updateUser('gina', {}));
          assert.deepEqual(untouched, created);
        });

        it('removes a user, returning it; the name can then be reused', async function () {
          const removed = await store.createUser(newUser('hank'));
          const kept = await store.createUser(newUser('ivy'));
          assert.deepEqual(await store.removeUser('hank'), removed);
          assert.equal(await store.findUserByUsername('hank'), null);
          assert.equal(await store.findUserById(removed.id), null);
          assert.deepEqual(await store.findUserByUsername('ivy'), kept);
          assert.equal(await store.countUsers(), 1);
          await rejectsWith(store.removeUser('hank'), 'UserNotFoundError');
          const again = await store.createUser(newUser('hank', { tenant: null }));
          assert.notEqual(again.id, removed.id);
          assert.equal(again.tenant, null);
        });

        it('lists users ordered by username, by code point', async function () {
          const names = ['bob', 'Alice', '😀', 'émile', 'alice', 'Zed', '日本', 'a_b', 'a', 'a-b'];
          const created = new Map<string, User>();
          for (const username of names) created.set(username, await store.createUser(newUser(username)));
          const listed = await store.listUsers();
          assert.deepEqual(
            listed.map((user) => user.username),
            ['Alice', 'Zed', 'a', 'a-b', 'a_b', 'alice', 'bob', 'émile', '日本', '😀'],
          );
          for (const user of listed) assert.deepEqual(user, created.get(user.username));
        });

        it('counts users', async function () {
          assert.equal(await store.countUsers(), 0);
          for (const username of ['u1', 'u2', 'u3']) await store.createUser(newUser(username));
          assert.equal(await store.countUsers(), 3);
          await store.removeUser('u2');
          assert.equal(await store.countUsers(), 2);
        });

        it('stores usernames verbatim (quotes, SQL, wildcards, unicode, spaces)', async function () {
          const ids = new Map<string, string>();
          for (const username of ODD_NAMES) {
            const created = await store.createUser(newUser(username));
            assert.equal(created.username, username);
            ids.set(username, created.id);
          }
          for (const username of ODD_NAMES) {
            const found = await store.findUserByUsername(username);
            assert.equal(found?.username, username, JSON.stringify(username));
            assert.equal(found?.id, ids.get(username));
            assert.equal((await store.findUserById(found.id))?.username, username);
          }
          assert.deepEqual(
            new Set((await store.listUsers()).map((user) => user.username)),
            new Set(ODD_NAMES),
          );
          assert.equal(await store.countUsers(), ODD_NAMES.length);
        });

        it('matches usernames exactly: case, normalisation, wildcards and trailing spaces count', async function () {
          for (const username of ODD_NAMES) await store.createUser(newUser(username));
          for (const nearMiss of NEAR_MISSES) {
            const what = JSON.stringify(nearMiss);
            assert.equal(await store.findUserByUsername(nearMiss), null, `found ${what}`);
            await rejectsWith(store.updateUser(nearMiss, { disabled: true }), 'UserNotFoundError');
            await rejectsWith(store.removeUser(nearMiss), 'UserNotFoundError');
          }
          const users = await store.listUsers();
          assert.equal(users.length, ODD_NAMES.length);
          assert.ok(users.every((user) => !user.disabled));
        });
      });

      describe('roles', function () {
        it('round-trips every field through createRole, findRoles and listRoles', async function () {
          const input = newRole('chat');
          const created = await atClock(T0, () => store.createRole(input));
          assert.deepEqual(created, { ...input, createdAt: T0, updatedAt: T0 });
          assert.deepEqual(await store.findRoles(['chat']), [created]);
          assert.deepEqual(await store.listRoles(), [created]);
          const bare = await store.createRole(newRole('bare', { publish: [], subscribe: [], invoke: [] }));
          assert.deepEqual([bare.publish, bare.subscribe, bare.invoke], [[], [], []]);
          assert.deepEqual(await store.findRoles(['bare']), [bare]);
        });

        it('refuses a duplicate name with RoleExistsError and keeps the first role', async function () {
          const first = await store.createRole(newRole('ops'));
          await rejectsWith(store.createRole(newRole('ops', { publish: ['other'] })), 'RoleExistsError');
          assert.deepEqual(await store.listRoles(), [first]);
        });

        it('finds roles in one call in the order asked, each once, and leaves unknown names out', async function () {
          const [a, b, c] = [
            await store.createRole(newRole('a', { publish: ['a.*'] })),
            await store.createRole(newRole('b', { publish: ['b.*'] })),
            await store.createRole(newRole('c', { publish: ['c.*'] })),
          ];
          assert.deepEqual(await store.findRoles(['c', 'nobody', 'a', 'c', 'b']), [c, a, b]);
          assert.deepEqual(await store.findRoles(['nobody']), []);
          assert.deepEqual(await store.findRoles([]), []);
          const many = Array.from({ length: 300 }, (_, index) => `absent-${index}`);
          assert.deepEqual(await store.findRoles([...many, 'b']), [b]);
        });

        it('matches role names exactly: case, normalisation, wildcards and trailing spaces count', async function () {
          for (const name of ODD_NAMES) await store.createRole(newRole(name));
          assert.deepEqual(
            (await store.findRoles([...ODD_NAMES])).map((role) => role.name),
            [...ODD_NAMES],
            'stored and found verbatim',
          );
          assert.deepEqual(await store.findRoles(NEAR_MISSES), []);
          for (const nearMiss of NEAR_MISSES) {
            await rejectsWith(store.updateRole(nearMiss, { publish: [] }), 'RoleNotFoundError');
            await rejectsWith(store.removeRole(nearMiss), 'RoleNotFoundError');
          }
          assert.equal((await store.listRoles()).length, ODD_NAMES.length);
        });

        it('updates only the lists a patch names, and bumps updatedAt', async function () {
          const patches: RolePatch[] = [
            { publish: ['p.new'] },
            { subscribe: [] },
            { invoke: ['rpc.other', 'rpc.third'] },
            { publish: [], subscribe: ['s.*'], invoke: [] },
          ];
          for (const [index, patch] of patches.entries()) {
            const name = `patched-${index}`;
            const created = await atClock(T0, () => store.createRole(newRole(name)));
            const updated = await atClock(T0 + 60, () => store.updateRole(name, patch));
            const expected: Role = { ...created, ...patch, updatedAt: T0 + 60 };
            assert.deepEqual(updated, expected, `patch ${JSON.stringify(patch)}`);
            assert.deepEqual(await store.findRoles([name]), [expected]);
          }
          const same = await atClock(T0, () => store.createRole(newRole('same')));
          assert.deepEqual(
            await atClock(T0, () => store.updateRole('same', { publish: same.publish })),
            same,
            'a patch that changes nothing, in the same second',
          );
          assert.deepEqual(await atClock(T0 + 60, () => store.updateRole('same', {})), same);
        });

        it('fails updateRole and removeRole of an unknown role with RoleNotFoundError', async function () {
          await store.createRole(newRole('kept'));
          await rejectsWith(store.updateRole('nobody', { publish: ['x'] }), 'RoleNotFoundError');
          await rejectsWith(store.updateRole('nobody', {}), 'RoleNotFoundError');
          await rejectsWith(store.removeRole('nobody'), 'RoleNotFoundError');
          assert.equal((await store.listRoles()).length, 1);
        });

        it('removes a role, returning it; the name can then be reused', async function () {
          const removed = await store.createRole(newRole('gone'));
          const kept = await store.createRole(newRole('kept'));
          assert.deepEqual(await store.removeRole('gone'), removed);
          assert.deepEqual(await store.findRoles(['gone', 'kept']), [kept]);
          await rejectsWith(store.removeRole('gone'), 'RoleNotFoundError');
          const again = await store.createRole(newRole('gone', { publish: ['new.*'] }));
          assert.deepEqual(again.publish, ['new.*']);
        });

        it('lists roles ordered by name, by code point', async function () {
          const names = ['bob', 'Alice', '😀', 'émile', 'alice', 'Zed', '日本', 'a_b', 'a', 'a-b'];
          for (const name of names) await store.createRole(newRole(name));
          assert.deepEqual(
            (await store.listRoles()).map((role) => role.name),
            ['Alice', 'Zed', 'a', 'a-b', 'a_b', 'alice', 'bob', 'émile', '日本', '😀'],
          );
        });

        it('shows roles written through one store to another on the same database', async function () {
          await withAnother(async (other) => {
            const created = await other.createRole(newRole('shared'));
            assert.deepEqual(await store.findRoles(['shared']), [created]);
            const updated = await other.updateRole('shared', { subscribe: ['changed.*'] });
            assert.deepEqual(await store.findRoles(['shared']), [updated]);
          });
        });

        it('carries role-changed events in the log, which are not revocations', async function () {
          const changed = await atClock(T0, () => store.appendEvent(event('role-changed', 'chat', T0 + 60)));
          assert.deepEqual(changed, {
            ...event('role-changed', 'chat', T0 + 60),
            id: changed.id,
            createdAt: T0,
          });
          assert.deepEqual(await store.eventsAfter(0, 10), [changed]);
          assert.deepEqual(await store.activeRevocations(T0), []);
          assert.equal(await store.purgeExpiredEvents(T0 + 61), 1);
        });

        it('fails role calls after close with StoreUnavailableError', async function () {
          await store.close();
          await rejectsWith(store.findRoles(['chat']), 'StoreUnavailableError');
          await rejectsWith(store.createRole(newRole('late')), 'StoreUnavailableError');
        });
      });

      describe('cluster events', function () {
        it('appends events with increasing ids and returns them as stored', async function () {
          const inputs = [
            event('token', "jti-'; DROP TABLE cluster_events; --", T0 + 900),
            event('session', 'session-ü-1', T0 + 3600),
            event('user', 'user-id-1', T0 + 86_400),
            event('user-changed', 'user-id-2', T0 + 60),
          ];
          const appended: ClusterEvent[] = [];
          for (const input of inputs) appended.push(await atClock(T0, () => store.appendEvent(input)));
          appended.forEach((stored, index) =>
            assert.deepEqual(stored, { ...inputs[index], id: stored.id, createdAt: T0 }),
          );
          for (let index = 1; index < appended.length; index++)
            assert.ok((appended[index] as ClusterEvent).id > (appended[index - 1] as ClusterEvent).id);
          assert.deepEqual(await store.eventsAfter(0, 100), appended);
        });

        it('appends a batch of events in order with appendEvents, and an empty batch as nothing', async function () {
          const batch = Array.from({ length: 620 }, (_, index) =>
            event('token', `jti-batch-${index}`, T0 + 900),
          );
          await atClock(T0, () => store.appendEvents(batch));
          await store.appendEvents([]);
          const stored = await store.eventsAfter(0, 1000);
          assert.deepEqual(
            stored.map(({ id: _id, ...rest }) => rest),
            batch.map((input) => ({ ...input, createdAt: T0 })),
          );
        });

        it('pages through events with eventsAfter(afterId, limit), oldest first', async function () {
          const appended: ClusterEvent[] = [];
          for (let index = 0; index < 5; index++)
            appended.push(await store.appendEvent(event('token', `jti-${index}`, T0 + 900)));
          const ids = appended.map((stored) => stored.id);
          assert.deepEqual(await store.eventsAfter(0, 100), appended);
          assert.deepEqual(await store.eventsAfter(0, 2), appended.slice(0, 2));
          assert.deepEqual(await store.eventsAfter(ids[1] as number, 2), appended.slice(2, 4));
          assert.deepEqual(await store.eventsAfter(ids[3] as number, 100), appended.slice(4));
          assert.deepEqual(await store.eventsAfter(ids[4] as number, 100), []);
          assert.deepEqual(await store.eventsAfter(0, 0), [], 'at most `limit` events');
          assert.deepEqual(await store.eventsAfter(0, -1), [], 'at most `limit` events');
        });

        it('lists as active revocations only unexpired token, session and user rows', async function () {
          const now = T0 + 1000;
          const active1 = await store.appendEvent(event('token', 'jti-live', now + 10));
          await store.appendEvent(event('session', 'session-expired', now - 1));
          const boundary = await store.appendEvent(event('user', 'user-at-boundary', now));
          await store.appendEvent(event('user-changed', 'user-changed-live', now + 10));
          await store.appendEvent(event('token', 'jti-long-gone', now - 100));
          const active2 = await store.appendEvent(event('session', 'session-live', now + 100));
          assert.deepEqual(await store.activeRevocations(now), [active1, boundary, active2]);
          assert.deepEqual(await store.activeRevocations(now + 11), [active2]);
        });

        it('purges only events that expired before now and returns how many', async function () {
          const now = T0 + 1000;
          const boundary = await store.appendEvent(event('token', 'jti-boundary', now));
          const live = await store.appendEvent(event('session', 'session-live', now + 1));
          const expired = [
            await store.appendEvent(event('token', 'jti-expired', now - 1)),
            await store.appendEvent(event('user-changed', 'user-changed-expired', now - 50)),
          ];
          assert.equal(await store.purgeExpiredEvents(now), 2);
          assert.deepEqual(await store.eventsAfter(0, 100), [boundary, live]);
          assert.equal(await store.purgeExpiredEvents(now), 0);
          // Workers follow events by id: an id must never come back after a purge.
          const next = await store.appendEvent(event('token', 'jti-next', now + 5));
          assert.ok(next.id > (expired[1] as ClusterEvent).id, `id ${next.id} reused`);
        });

        it('shows events appended through one store to another on the same database', async function () {
          await withAnother(async (other) => {
            const appended = await other.appendEvent(event('user', 'user-x', T0 + 60));
            assert.deepEqual(await store.eventsAfter(0, 10), [appended]);
            assert.deepEqual(await store.activeRevocations(T0), [appended]);
          });
        });
      });

      describe('attempt counters', function () {
        it('counts hits per key in a fixed window, and says when the limit is passed', async function () {
          const counter = store.attemptCounter({ name: 'pair', limit: 2, windowSeconds: 60 });
          await atClock(T0, async () => {
            assert.deepEqual(await counter.hit('alice|10.0.0.1'), {
              count: 1,
              over: false,
              retryAfterMs: 60_000,
            });
            assert.equal((await counter.hit('alice|10.0.0.1')).over, false);
            const third = await counter.hit('alice|10.0.0.1');
            assert.equal(third.count, 3);
            assert.equal(third.over, true);
            assert.equal((await counter.hit('alice|10.0.0.2')).count, 1, 'another key counts apart');
          });
          await atClock(T0 + 30, async () => {
            assert.equal((await counter.peek('alice|10.0.0.1'))?.retryAfterMs, 30_000);
          });
          await atClock(T0 + 61, async () => {
            assert.equal(await counter.peek('alice|10.0.0.1'), null, 'the window has ended');
            assert.equal((await counter.hit('alice|10.0.0.1')).count, 1);
          });
        });

        it('keeps counters of different names apart, and takes back a hit with undo', async function () {
          const pair = store.attemptCounter({ name: 'pair', limit: 5, windowSeconds: 60 });
          const account = store.attemptCounter({ name: 'account', limit: 5, windowSeconds: 60 });
          await pair.hit('k');
          await pair.hit('k');
          await account.hit('k');
          await pair.undo('k');
          assert.equal((await pair.peek('k'))?.count, 1);
          assert.equal((await account.peek('k'))?.count, 1);
          assert.equal(await pair.peek('never'), null);
        });

        it('shares counts between two stores on one database (every worker sees the same)', async function () {
          const other = (opened as OpenedStore).another();
          try {
            const mine = store.attemptCounter({ name: 'address', limit: 3, windowSeconds: 60 });
            const theirs = other.attemptCounter({ name: 'address', limit: 3, windowSeconds: 60 });
            await Promise.all([mine.hit('203.0.113.7'), theirs.hit('203.0.113.7'), mine.hit('203.0.113.7')]);
            assert.equal((await theirs.hit('203.0.113.7')).over, true);
          } finally {
            await other.close();
          }
        });

        it('marks a key for a while', async function () {
          const known = store.attemptCounter({ name: 'known', limit: 1, windowSeconds: 60 });
          await atClock(T0, () => known.mark('alice|10.0.0.1', 120));
          await atClock(T0 + 100, async () => assert.notEqual(await known.peek('alice|10.0.0.1'), null));
          await atClock(T0 + 121, async () => assert.equal(await known.peek('alice|10.0.0.1'), null));
        });
      });

      describe('meta', function () {
        it('keeps the first value claimed under a name', async function () {
          assert.equal(await store.claimMeta('fingerprint', 'first'), 'first');
          assert.equal(await store.claimMeta('fingerprint', 'second'), 'first');
          assert.equal(await store.claimMeta('other', 'second'), 'second');
        });

        it('lets exactly one of two stores claiming at once win', async function () {
          await withAnother(async (other) => {
            const [a, b] = await Promise.all([
              store.claimMeta('fingerprint', 'from-a'),
              other.claimMeta('fingerprint', 'from-b'),
            ]);
            assert.equal(a, b);
            assert.ok(a === 'from-a' || a === 'from-b', a);
            assert.equal(await other.claimMeta('fingerprint', 'late'), a);
          });
        });

        it('deletes a value so that the next claim wins', async function () {
          await store.claimMeta('fingerprint', 'old');
          assert.equal(await store.deleteMeta('fingerprint'), true);
          assert.equal(await store.deleteMeta('fingerprint'), false);
          assert.equal(await store.claimMeta('fingerprint', 'new'), 'new');
        });

        it('stores values verbatim', async function () {
          const value = `sha256:${'\'";--\\ zoë 名前 😀 '.repeat(100)}`;
          assert.equal(await store.claimMeta('long', value), value);
          assert.equal(await store.claimMeta('long', 'other'), value);
        });
      });

      describe('one-time secrets', function () {
        const hash = (n: number) => n.toString(16).padStart(64, '0');
        const secret = (n: number, expiresAt: number, purpose: 'ticket' | 'invite' = 'ticket') => ({
          hash: hash(n),
          purpose,
          payload: JSON.stringify({ n, text: 'zoë 名前' }),
          expiresAt,
        });
        const MS = T0 * 1000;

        it('redeems a secret once, with its payload; then tells it is used', async function () {
          await store.createOneTimeSecret(secret(1, MS + 30_000));
          assert.deepEqual(await store.redeemOneTimeSecret(hash(1), 'ticket', MS), {
            status: 'redeemed',
            payload: JSON.stringify({ n: 1, text: 'zoë 名前' }),
          });
          assert.deepEqual(await store.redeemOneTimeSecret(hash(1), 'ticket', MS + 1), {
            status: 'used',
            payload: JSON.stringify({ n: 1, text: 'zoë 名前' }),
          });
        });

        it('refuses an expired secret and an unknown one, and one of another purpose', async function () {
          await store.createOneTimeSecret(secret(2, MS + 30_000));
          await store.createOneTimeSecret(secret(3, MS + 30_000, 'invite'));
          assert.deepEqual(await store.redeemOneTimeSecret(hash(2), 'ticket', MS + 30_000), {
            status: 'expired',
          });
          assert.deepEqual(await store.redeemOneTimeSecret(hash(9), 'ticket', MS), { status: 'unknown' });
          assert.deepEqual(await store.redeemOneTimeSecret(hash(3), 'ticket', MS), { status: 'unknown' });
          assert.equal((await store.redeemOneTimeSecret(hash(3), 'invite', MS)).status, 'redeemed');
        });

        it('lets exactly one of many redemptions through two stores at once succeed', async function () {
          await store.createOneTimeSecret(secret(4, MS + 30_000));
          await withAnother(async (other) => {
            const outcomes = await Promise.all(
              Array.from({ length: 10 }, (_, i) =>
                (i % 2 === 0 ? store : other).redeemOneTimeSecret(hash(4), 'ticket', MS),
              ),
            );
            assert.deepEqual(
              outcomes.map((o) => o.status).sort(),
              ['redeemed', ...Array.from({ length: 9 }, () => 'used')].sort(),
            );
          });
        });

        it('releases a redeemed secret so that it can be redeemed again', async function () {
          await store.createOneTimeSecret(secret(5, MS + 30_000, 'invite'));
          assert.equal(await store.releaseOneTimeSecret(hash(5), 'invite'), false);
          assert.equal((await store.redeemOneTimeSecret(hash(5), 'invite', MS)).status, 'redeemed');
          assert.equal(await store.releaseOneTimeSecret(hash(5), 'invite'), true);
          assert.equal((await store.redeemOneTimeSecret(hash(5), 'invite', MS)).status, 'redeemed');
        });

        it('tells what a secret stands for without redeeming it', async function () {
          await store.createOneTimeSecret(secret(10, MS + 30_000));
          assert.equal(
            await store.peekOneTimeSecret(hash(10), 'ticket'),
            JSON.stringify({ n: 10, text: 'zoë 名前' }),
          );
          assert.equal(await store.peekOneTimeSecret(hash(10), 'invite'), null);
          assert.equal(await store.peekOneTimeSecret(hash(11), 'ticket'), null);
          assert.equal((await store.redeemOneTimeSecret(hash(10), 'ticket', MS)).status, 'redeemed');
        });

        it('refuses a second secret of the same hash', async function () {
          await store.createOneTimeSecret(secret(6, MS + 30_000));
          await assert.rejects(store.createOneTimeSecret(secret(6, MS + 60_000)));
        });

        it('purges secrets that expired before a time, and only those', async function () {
          await store.createOneTimeSecret(secret(7, MS + 1000));
          await store.createOneTimeSecret(secret(8, MS + 5000));
          assert.equal(await store.purgeOneTimeSecrets(MS + 2000), 1);
          assert.deepEqual(await store.redeemOneTimeSecret(hash(7), 'ticket', MS), { status: 'unknown' });
          assert.equal((await store.redeemOneTimeSecret(hash(8), 'ticket', MS)).status, 'redeemed');
        });
      });

      describe('lifecycle', function () {
        it('answers ping', async function () {
          assert.equal(await store.ping(), undefined);
        });

        it('fails every call after close with StoreUnavailableError; closing twice is fine', async function () {
          await store.close();
          await rejectsWith(store.ping(), 'StoreUnavailableError');
          await rejectsWith(store.findUserByUsername('alice'), 'StoreUnavailableError');
          await rejectsWith(store.appendEvent(event('token', 'jti', T0)), 'StoreUnavailableError');
          await store.close();
        });
      });
    });
  });
}
