import assert from 'node:assert/strict';
import {
  compilePatterns,
  fillPlaceholders,
  literalNameProblem,
  patternProblem,
} from '../../../auth/patterns.ts';

describe('auth/patterns', function () {
  it('matches literal patterns exactly', function () {
    const allows = compilePatterns(['chat.lobby']);
    assert.equal(allows('chat.lobby'), true);
    assert.equal(allows('chat.lobby2'), false);
    assert.equal(allows('chat'), false);
  });

  it('matches * against exactly one segment', function () {
    const allows = compilePatterns(['chat.*.room']);
    assert.equal(allows('chat.a.room'), true);
    assert.equal(allows('chat.a.b.room'), false);
    assert.equal(allows('chat.room'), false);
  });

  it('matches > against one or more trailing segments', function () {
    const allows = compilePatterns(['user.alice.>']);
    assert.equal(allows('user.alice.x'), true);
    assert.equal(allows('user.alice.x.y.z'), true);
    assert.equal(allows('user.alice'), false);
    assert.equal(allows('user.bob.x'), false);
    assert.equal(compilePatterns(['>'])('anything.at.all'), true);
  });

  it('never matches a malformed pattern', function () {
    assert.equal(compilePatterns(['chat.>.x'])('chat.a.x'), false);
    assert.equal(compilePatterns(['chat.a*'])('chat.ab'), false);
    assert.equal(compilePatterns([''])(''), false);
    assert.equal(patternProblem('a..b'), 'has an empty segment');
    assert.equal(patternProblem('a.>'), null);
  });

  it('shares one predicate between equal pattern lists, and keeps lists that only join alike apart', function () {
    assert.equal(compilePatterns(['a.*', 'b']), compilePatterns(['a.*', 'b']));
    assert.notEqual(compilePatterns(['a.*', 'b']), compilePatterns(['b', 'a.*']));
    // A refused pattern holding a separator must not borrow the predicate of the list it spells.
    assert.equal(compilePatterns(['a', 'b'])('a'), true);
    assert.equal(compilePatterns(['a\nb'])('a'), false);
    assert.equal(compilePatterns(['a","b'])('a'), false);
  });

  it('fills placeholders and drops {tenant} patterns without a tenant', function () {
    const values = { username: 'alice', sub: 'id-1', tenant: null };
    assert.deepEqual(fillPlaceholders(['u.{username}.>', 's.{sub}', 't.{tenant}.>'], values), [
      'u.alice.>',
      's.id-1',
    ]);
    assert.deepEqual(fillPlaceholders(['t.{tenant}.x'], { ...values, tenant: 'acme' }), ['t.acme.x']);
  });

  it('refuses non-literal channel names', function () {
    assert.equal(literalNameProblem('chat.lobby'), null);
    for (const bad of ['', 'a.*', 'a.>', 'a..b', '.a', 'a.', 'a\nb', 'a\u0085b', 'é'.repeat(129), 42]) {
      assert.notEqual(literalNameProblem(bad), null, JSON.stringify(bad));
    }
    assert.equal(literalNameProblem('x'.repeat(256)), null);
  });
});
