import assert from 'node:assert/strict';
import {
  checkPassword,
  checkPatterns,
  tenantWarnings,
  unmatchableProblem,
  UsageError,
} from '../../../admin/validation.ts';

describe('admin/validation', function () {
  describe('checkPatterns', function () {
    it('accepts well-formed patterns with the known placeholders', function () {
      const patterns = ['chat.*', 'user.{username}.>', 'id.{sub}', 'tenant.{tenant}.>', 'whoami'];
      assert.deepEqual(checkPatterns('subscribe', patterns), patterns);
    });

    it('refuses a pattern starting with # (reserved channels, SocketCluster events), for every flag', function () {
      for (const flag of ['publish', 'subscribe', 'invoke'] as const)
        assert.throws(
          () => checkPatterns(flag, ['ok', '#warden.control']),
          (error: unknown) => {
            assert.ok(error instanceof UsageError);
            assert.match(error.message, new RegExp(`^--${flag} "#warden\\.control" can never match`));
            return true;
          },
        );
    });

    it('refuses an unknown placeholder, naming it and the known ones', function () {
      assert.throws(() => checkPatterns('publish', ['user.{user}.>']), {
        name: 'UsageError',
        message:
          '--publish "user.{user}.>" uses the unknown placeholder {user} (known: {username}, {sub}, {tenant})',
      });
      assert.equal(
        unmatchableProblem('publish', 'a.{}'),
        'uses the unknown placeholder {} (known: {username}, {sub}, {tenant})',
      );
      // A brace that opens no placeholder is part of a literal name.
      assert.equal(unmatchableProblem('publish', 'a.{b'), null);
    });

    it('still refuses malformed patterns', function () {
      assert.throws(() => checkPatterns('publish', ['a.>.b']), { name: 'UsageError' });
    });
  });

  describe('checkPassword', function () {
    it('enforces the minimum length in characters (code points), naming PASSWORD_MIN_LENGTH', function () {
      assert.equal(checkPassword('0123456789', 10), '0123456789');
      assert.throws(() => checkPassword('012345678', 10), {
        name: 'UsageError',
        message: 'the password has 9 characters; at least 10 are required (PASSWORD_MIN_LENGTH)',
      });
      // Five astral characters: ten UTF-16 units, five characters.
      assert.throws(() => checkPassword('🔑🔑🔑🔑🔑', 10), /has 5 characters/);
      assert.equal(checkPassword('🔑🔑🔑🔑🔑', 5), '🔑🔑🔑🔑🔑');
    });
  });

  describe('tenantWarnings', function () {
    const user = {
      username: 'dana',
      tenant: null,
      publish: ['tenant.{tenant}.>', 'chat.*'],
      subscribe: ['chat.*'],
      invoke: ['t.{tenant}'],
    };

    it('warns once per {tenant} pattern of a user without a tenant', function () {
      assert.deepEqual(tenantWarnings(user), [
        'user "dana" has no tenant, so its publish pattern "tenant.{tenant}.>" grants nothing until it has one (--tenant T)',
        'user "dana" has no tenant, so its invoke pattern "t.{tenant}" grants nothing until it has one (--tenant T)',
      ]);
    });

    it('says nothing for a user with a tenant', function () {
      assert.deepEqual(tenantWarnings({ ...user, tenant: 'acme' }), []);
    });
  });
});
