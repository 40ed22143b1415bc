import assert from 'node:assert/strict';
import { parseRoleCommand, type RoleContext } from '../../../admin/role-commands.ts';
import { openStore } from '../../../store/index.ts';
import type { Store } from '../../../store/types.ts';

describe('admin/role-commands: `warden role ...`', function () {
  function usage(args: string[], message: RegExp): void {
    assert.throws(
      () => parseRoleCommand(args),
      (error: unknown) => {
        assert.equal((error as Error).name, 'UsageError', `${args.join(' ')}: ${String(error)}`);
        assert.match((error as Error).message, message, args.join(' '));
        return true;
      },
    );
  }

  describe('parsing (no store needed)', function () {
    it('refuses unknown options in every subcommand, and options a subcommand does not take', function () {
      for (const command of ['add', 'set', 'list', 'remove']) {
        const args = command === 'list' ? [command, '--bogus'] : [command, 'chat', '--bogus'];
        usage(args, new RegExp(`^unknown option "--bogus" for warden role ${command}$`));
      }
      usage(['remove', 'chat', '--publish', 'a.b'], /unknown option "--publish" for warden role remove/);
      usage(['add', 'chat', '--role', 'x'], /unknown option "--role" for warden role add/);
      usage(['list', 'chat'], /warden role list takes no arguments/);
    });

    it('refuses a missing, extra or malformed role name, an unknown subcommand and an empty set', function () {
      usage(['add'], /^usage: warden role add <role>$/);
      usage(['remove', 'a', 'b'], /^usage: warden role remove <role>$/);
      usage(['add', 'has.dot'], /role "has\.dot" must be 1-64 characters/);
      usage(['frobnicate'], /^unknown command "role frobnicate"/);
      usage([], /^usage: warden role <command>/);
      usage(['set', 'chat'], /nothing to change/);
    });

    it('validates patterns as for users: malformed, reserved and unknown placeholders are refused', function () {
      usage(['add', 'chat', '--publish', 'a.>.b'], /^--publish "a\.>\.b" uses '>' before the last segment/);
      usage(
        ['add', 'chat', '--subscribe', '#warden.control'],
        /^--subscribe "#warden\.control" can never match/,
      );
      usage(['set', 'chat', '--invoke', '#handshake'], /^--invoke "#handshake" can never match/);
      usage(['set', 'chat', '--subscribe', 'user.{bogus}.>'], /unknown placeholder \{bogus\}/);
      assert.doesNotThrow(() => parseRoleCommand(['add', 'chat', '--subscribe', 'user.{username}.>']));
    });

    it('lets only role add create a store', function () {
      assert.equal(parseRoleCommand(['add', 'chat']).createsStore, true);
      for (const args of [['list'], ['set', 'chat', '--publish', 'a'], ['remove', 'chat']])
        assert.equal(parseRoleCommand(args).createsStore, false, args.join(' '));
    });
  });

  describe('running on a real (in-memory SQLite) store', function () {
    let store: Store;
    const out: string[] = [];
    const warnings: string[] = [];
    const T0 = 1_700_000_000;
    const ctx = (): RoleContext => ({
      store,
      out: (line) => out.push(line),
      warn: (line) => warnings.push(line),
      now: () => T0 * 1000,
    });
    const run = (...args: string[]) => parseRoleCommand(args).run(ctx());

    beforeEach(async function () {
      store = openStore('sqlite::memory:');
      await store.migrate();
      out.length = 0;
      warnings.length = 0;
    });
    afterEach(async function () {
      await store.close();
    });

    it('adds, sets, lists and removes roles, announcing each change to the workers', async function () {
      await run(
        'add',
        'chat',
        '--subscribe',
        'chat.*',
        '--subscribe',
        'user.{username}.>',
        '--invoke',
        'whoami',
      );
      await run('set', 'chat', '--publish', 'chat.{username}');
      assert.deepEqual(
        (await store.findRoles(['chat'])).map(({ publish, subscribe, invoke }) => ({
          publish,
          subscribe,
          invoke,
        })),
        [{ publish: ['chat.{username}'], subscribe: ['chat.*', 'user.{username}.>'], invoke: ['whoami'] }],
        'set replaces only the lists it names',
      );
      await run('add', 'ops');
      await run('list');
      await run('remove', 'ops');
      assert.deepEqual(out, [
        'created role chat',
        'updated role chat',
        'created role ops',
        'ROLE  PUBLISH          SUBSCRIBE                 INVOKE',
        'chat  chat.{username}  chat.*,user.{username}.>  whoami',
        'ops   -                -                         -',
        'removed role ops',
      ]);
      assert.deepEqual(warnings, []);
      const events = (await store.eventsAfter(0, 10)).map(({ kind, subject, value, expiresAt }) => ({
        kind,
        subject,
        value,
        expiresAt,
      }));
      assert.deepEqual(
        events,
        ['chat', 'chat', 'ops', 'ops'].map((subject) => ({
          kind: 'role-changed',
          subject,
          value: 0,
          expiresAt: T0 + 300,
        })),
      );
    });

    it('fails with RoleExistsError and RoleNotFoundError, announcing nothing', async function () {
      await run('add', 'chat');
      const before = (await store.eventsAfter(0, 10)).length;
      await assert.rejects(run('add', 'chat'), {
        name: 'RoleExistsError',
        message: 'role "chat" already exists',
      });
      await assert.rejects(run('set', 'nobody', '--publish', 'a'), {
        name: 'RoleNotFoundError',
        message: 'no role named "nobody"',
      });
      await assert.rejects(run('remove', 'nobody'), { name: 'RoleNotFoundError' });
      assert.equal((await store.eventsAfter(0, 10)).length, before);
    });

    it('warns when a removed role is still named by users', async function () {
      await run('add', 'chat');
      for (const username of ['ann', 'bob'])
        await store.createUser({
          username,
          passwordHash: 'x',
          tenant: null,
          roles: ['chat'],
          publish: [],
          subscribe: [],
          invoke: [],
        });
      await run('remove', 'chat');
      assert.deepEqual(warnings, [
        'warning: 2 user(s) still name role "chat" (ann, bob); it grants them nothing until it is added again',
      ]);
    });
  });
});
