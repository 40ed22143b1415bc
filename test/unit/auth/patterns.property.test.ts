import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compilePatterns, literalNameProblem, patternProblem } from '../../../auth/patterns.ts';

const RUNS = { numRuns: 200 };

/** A segment of a literal name: no dot, no wildcard, no control character, non-empty. */
const segment = fc
  .string({ minLength: 1, maxLength: 8, unit: 'grapheme' })
  .filter((s) => literalNameProblem(s) === null && !s.includes('.'));
/** A few-segment literal name of at most 256 bytes. */
const literal = fc
  .array(segment, { minLength: 1, maxLength: 6 })
  .map((segments) => segments.join('.'))
  .filter((name) => literalNameProblem(name) === null);

/** The documented matching rule (docs/claims.md), written as plainly as possible: the model the matcher must agree with. */
function modelMatches(pattern: string, name: string): boolean {
  if (patternProblem(pattern) !== null) return false;
  const p = pattern.split('.');
  const n = name.split('.');
  if (p[p.length - 1] === '>') {
    const fixed = p.slice(0, -1);
    return n.length > fixed.length && fixed.every((s, i) => s === '*' || s === n[i]);
  }
  return n.length === p.length && p.every((s, i) => s === '*' || s === n[i]);
}

describe('auth/patterns properties', function () {
  it('a literal pattern matches exactly itself', function () {
    fc.assert(
      fc.property(literal, literal, (pattern, other) => {
        const allows = compilePatterns([pattern]);
        assert.equal(allows(pattern), true);
        assert.equal(allows(other), other === pattern);
        assert.equal(allows(`${pattern}.x`), false);
      }),
      RUNS,
    );
  });

  it('* matches exactly one segment, whatever it holds', function () {
    fc.assert(
      fc.property(
        fc.array(segment, { minLength: 1, maxLength: 5 }),
        fc.nat(),
        segment,
        (segments, at, filler) => {
          const i = at % segments.length;
          const pattern = segments.map((s, j) => (j === i ? '*' : s)).join('.');
          const allows = compilePatterns([pattern]);
          const name = segments.map((s, j) => (j === i ? filler : s)).join('.');
          if (literalNameProblem(name) !== null) return;
          assert.equal(allows(name), true);
          // One segment more or fewer in its place is not one segment.
          assert.equal(
            allows(segments.map((s, j) => (j === i ? `${filler}.${filler}` : s)).join('.')),
            false,
          );
          if (segments.length > 1) assert.equal(allows(segments.filter((_, j) => j !== i).join('.')), false);
        },
      ),
      RUNS,
    );
  });

  it('> matches one or more trailing segments and never the prefix alone', function () {
    fc.assert(
      fc.property(
        fc.array(segment, { maxLength: 4 }),
        fc.array(segment, { minLength: 1, maxLength: 4 }),
        (prefix, tail) => {
          const pattern = [...prefix, '>'].join('.');
          const allows = compilePatterns([pattern]);
          const name = [...prefix, ...tail].join('.');
          if (literalNameProblem(name) !== null) return;
          assert.equal(allows(name), true);
          if (prefix.length > 0) assert.equal(allows(prefix.join('.')), false);
        },
      ),
      RUNS,
    );
  });

  it('agrees with the documented model on patterns and names over a small alphabet', function () {
    const part = fc.constantFrom('a', 'b', '*', '>', '');
    const pattern = fc.array(part, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('.'));
    const random = fc
      .array(fc.constantFrom('a', 'b'), { minLength: 1, maxLength: 5 })
      .map((parts) => parts.join('.'));
    // Names made from a pattern hit its edges: each wildcard filled with zero, one or two segments.
    const near = fc
      .tuple(pattern, fc.array(fc.constantFrom('', 'a', 'a.b'), { minLength: 4, maxLength: 4 }))
      .map(([p, fills]) =>
        p
          .split('.')
          .map((part, i) => (part === '*' || part === '>' ? (fills[i] as string) : part))
          .filter((part) => part !== '')
          .join('.'),
      );
    fc.assert(
      fc.property(
        fc.array(pattern, { minLength: 1, maxLength: 3 }),
        fc.oneof(random, near),
        (patterns, channel) => {
          if (channel === '') return;
          const expected = patterns.some((p) => modelMatches(p, channel));
          assert.equal(
            compilePatterns(patterns)(channel),
            expected,
            `${JSON.stringify(patterns)} ${channel}`,
          );
        },
      ),
      RUNS,
    );
  });

  it('a malformed pattern matches nothing', function () {
    const malformed = fc.oneof(
      literal.map((l) => `${l}..x`),
      literal.map((l) => `>.${l}`),
      literal.map((l) => `${l}*`),
      literal.map((l) => `${l}.a>`),
      literal.map((l) => `${l}.\u0000`),
    );
    fc.assert(
      fc.property(malformed, literal, (pattern, name) => {
        assert.notEqual(patternProblem(pattern), null);
        assert.equal(compilePatterns([pattern])(name), false);
      }),
      RUNS,
    );
  });

  it('names with a wildcard, an empty segment, a control character or over 256 bytes are never literal', function () {
    const bad = fc.oneof(
      fc.tuple(literal, fc.constantFrom('*', '>'), literal).map(([a, w, b]) => `${a}${w}${b}`),
      fc.tuple(literal, literal).map(([a, b]) => `${a}..${b}`),
      literal.map((l) => `.${l}`),
      literal.map((l) => `${l}.`),
      fc.tuple(literal, fc.integer({ min: 0, max: 0x1f })).map(([l, c]) => `${l}${String.fromCharCode(c)}`),
      fc
        .tuple(literal, fc.integer({ min: 0x7f, max: 0x9f }))
        .map(([l, c]) => `${l}${String.fromCharCode(c)}`),
      fc.integer({ min: 86, max: 200 }).map((n) => '€'.repeat(n)),
    );
    fc.assert(
      fc.property(bad, (name) => {
        assert.notEqual(literalNameProblem(name), null, JSON.stringify(name));
      }),
      RUNS,
    );
  });

  it('accepts exactly the names of the plain definition (byte length, controls, wildcards, segments)', function () {
    // The definition literalNameProblem implements without allocating, spelled out plainly.
    const plain = (name: string) =>
      name !== '' &&
      Buffer.byteLength(name, 'utf8') <= 256 &&
      // eslint-disable-next-line no-control-regex
      !/[\u0000-\u001f\u007f-\u009f]/.test(name) &&
      !name.includes('*') &&
      !name.includes('>') &&
      name.split('.').every((segment) => segment !== '');
    const names = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 130 }),
      fc.array(fc.constantFrom('a', '.', '€', '😀', '*'), { maxLength: 140 }).map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(names, (name) => {
        assert.equal(literalNameProblem(name) === null, plain(name), JSON.stringify(name));
      }),
      { numRuns: 1000 },
    );
  });
});
