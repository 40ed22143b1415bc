import assert from 'node:assert/strict';
import { PasswordHasher } from '../../../auth/passwords.ts';

describe('auth/passwords PasswordHasher', function () {
  const hasher = new PasswordHasher({ cost: 14 });

  it('hashes with scrypt, stores the parameters, and verifies', async function () {
    const stored = await hasher.hash('correct horse');
    assert.match(stored, /^\$scrypt\$ln=14,r=8,p=1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.equal(await hasher.verify('correct horse', stored), true);
    assert.equal(await hasher.verify('correct horsE', stored), false);
  });

  it('salts every hash', async function () {
    assert.notEqual(await hasher.hash('same'), await hasher.hash('same'));
  });

  it('verifies hashes made with other parameters, and says when to rehash', async function () {
    const weaker = await new PasswordHasher({ cost: 12 as number }).hash('pw');
    assert.equal(await hasher.verify('pw', weaker), true);
    assert.equal(hasher.needsRehash(weaker), true);
    assert.equal(hasher.needsRehash(await hasher.hash('pw')), false);
  });

  it('returns false for malformed stored hashes and for the dummy check', async function () {
    assert.equal(await hasher.verify('pw', 'plaintext'), false);
    assert.equal(await hasher.verify('pw', '$scrypt$ln=40,r=8,p=1$AAAA$BBBB'), false);
    assert.equal(await hasher.verifyDummy('pw'), false);
  });

  it('refuses at once past its queue instead of building a backlog', async function () {
    const tiny = new PasswordHasher({ cost: 14, concurrency: 1, maxQueue: 1 });
    const results = await Promise.allSettled([tiny.hash('a'), tiny.hash('b'), tiny.hash('c')]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'fulfilled', 'rejected'],
    );
    assert.equal(((results[2] as PromiseRejectedResult).reason as Error).name, 'RateLimitError');
  });
});
