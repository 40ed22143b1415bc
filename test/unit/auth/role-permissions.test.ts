import assert from 'node:assert/strict';
import { effectivePermissions, fillPermissions } from '../../../auth/role-permissions.ts';
import { TokenService } from '../../../auth/tokens.ts';
import type { Permissions, Role, User } from '../../../store/types.ts';

const none: Permissions = { publish: [], subscribe: [], invoke: [] };

function role(name: string, permissions: Partial<Permissions>): Role {
  return { ...none, ...permissions, name, createdAt: 0, updatedAt: 0 };
}

describe('auth/role-permissions', function () {
  describe('effectivePermissions', function () {
    it('is the own patterns, then each role’s in the order given', function () {
      const own = { publish: ['own.p'], subscribe: ['own.s'], invoke: ['own.i'] };
      const chat = role('chat', { publish: ['chat.*'], subscribe: ['chat.>'] });
      const ops = role('ops', { subscribe: ['alerts'], invoke: ['rpc.restart'] });
      assert.deepEqual(effectivePermissions(own, [chat, ops]), {
        publish: ['own.p', 'chat.*'],
        subscribe: ['own.s', 'chat.>', 'alerts'],
        invoke: ['own.i', 'rpc.restart'],
      });
      assert.deepEqual(effectivePermissions(own, [ops, chat]).subscribe, ['own.s', 'alerts', 'chat.>']);
    });

    it('lists each pattern once, at its first place', function () {
      const own = { ...none, subscribe: ['a', 'b', 'a'] };
      const one = role('one', { subscribe: ['b', 'c'] });
      const two = role('two', { subscribe: ['c', 'a', 'd'] });
      assert.deepEqual(effectivePermissions(own, [one, two, one]).subscribe, ['a', 'b', 'c', 'd']);
    });

    it('is the own patterns alone without roles, and the roles’ alone without own patterns', function () {
      const own = { publish: ['p'], subscribe: ['s'], invoke: ['i'] };
      assert.deepEqual(effectivePermissions(own, []), own);
      const idp = role('from-idp', { publish: ['x.*'] });
      assert.deepEqual(effectivePermissions(none, [idp]), { ...none, publish: ['x.*'] });
    });

    it('leaves its inputs untouched and placeholders as stored', function () {
      const own = Object.freeze({ ...none, publish: Object.freeze(['notes.{username}']) });
      const r = Object.freeze(role('r', { publish: ['notes.{username}', 'user.{sub}.>'] }));
      assert.deepEqual(effectivePermissions(own, [r]).publish, ['notes.{username}', 'user.{sub}.>']);
      assert.deepEqual(r.publish, ['notes.{username}', 'user.{sub}.>']);
    });
  });

  describe('fillPermissions', function () {
    it('fills placeholders and drops the duplicates that filling makes', function () {
      const filled = fillPermissions(
        {
          publish: ['user.alice.>', 'user.{username}.>', 'tenant.{tenant}.*'],
          subscribe: ['id.{sub}'],
          invoke: [],
        },
        { username: 'alice', sub: 'u-1', tenant: null },
      );
      // {tenant} without a tenant grants nothing (fillPlaceholders drops the pattern).
      assert.deepEqual(filled, { publish: ['user.alice.>'], subscribe: ['id.u-1'], invoke: [] });
    });
  });

  describe('in a local user’s token (TokenService.claimsFor)', function () {
    const tokens = new TokenService({ key: 'k'.repeat(40), ttl: 3600, now: () => Date.UTC(2026, 0, 1) });
    const alice: User = {
      id: 'user-1',
      username: 'alice',
      passwordHash: 'x',
      tenant: 'acme',
      roles: ['chat', 'missing'],
      publish: ['user.{username}.>'],
      subscribe: [],
      invoke: ['whoami'],
      disabled: false,
      tokensValidFrom: 0,
      createdAt: 0,
      updatedAt: 0,
    };

    it('holds the union of the user’s and its roles’ patterns, placeholders filled in', function () {
      const chat = role('chat', {
        publish: ['chat.{tenant}.*', 'user.alice.>'],
        subscribe: ['chat.{tenant}.*', 'user.{username}.>'],
      });
      const claims = tokens.claimsFor(alice, undefined, undefined, [chat]);
      assert.deepEqual(claims.publish, ['user.alice.>', 'chat.acme.*']);
      assert.deepEqual(claims.subscribe, ['chat.acme.*', 'user.alice.>']);
      assert.deepEqual(claims.invoke, ['whoami']);
      // The role names stay the user's, a role missing from the store included: it grants nothing.
      assert.deepEqual(claims.roles, ['chat', 'missing']);
    });

    it('is the user’s own patterns without roles, as before roles existed', function () {
      const claims = tokens.claimsFor(alice);
      assert.deepEqual([claims.publish, claims.subscribe, claims.invoke], [['user.alice.>'], [], ['whoami']]);
      assert.deepEqual(tokens.issue(alice, undefined, undefined, []).claims.publish, ['user.alice.>']);
    });
  });
});
