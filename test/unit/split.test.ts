import { describe, expect, it } from 'vitest';
import { rowsToFrame } from '../../lambdas/training/encoding.js';
import { murmur3, selectRows, splitFrame, splitRows } from '../../lambdas/training/split.js';
import { prng } from '../support/random.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const hash = (s: string, seed: number) => murmur3(utf8(s), utf8(s).length, seed);
const ids = (n: number) => Array.from({ length: n }, (_, i) => `customer-${i}\u001f${1_700_000_000_000 + i}`);
const options = { testFraction: 0.2, validationFraction: 0.1, seed: 42 };

/** The identities on each side, as sets (order-free). */
const sides = (identities: string[], seed = 42) => {
  const split = splitRows(identities, { ...options, seed });
  const named = (rows: Uint32Array) => new Set(Array.from(rows, (r) => identities[r]));
  return { train: named(split.train), validation: named(split.validation), test: named(split.test) };
};

describe('deterministic split', () => {
  it('hashes as MurmurHash3 x86_32 (reference values)', () => {
    expect(hash('', 0)).toBe(0);
    expect(hash('', 1)).toBe(0x514e28b7);
    expect(hash('hello', 0)).toBe(0x248bfa47);
    expect(hash('The quick brown fox jumps over the lazy dog', 0)).toBe(0x2e4ff723);
  });

  it('puts every row on the same side whatever the row order', () => {
    const identities = ids(5_000);
    const shuffled = [...identities];
    const random = prng(7);
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j] as string, shuffled[i] as string];
    }
    expect(sides(shuffled)).toEqual(sides(identities));
  });

  it('gives the same split for the same seed and another for another seed', () => {
    const identities = ids(2_000);
    expect(sides(identities, 42)).toEqual(sides(identities, 42));
    expect(sides(identities, 43).test).not.toEqual(sides(identities, 42).test);
  });

  it('keeps the fractions within binomial tolerance and covers every row once', () => {
    const n = 20_000;
    const split = splitRows(ids(n), options);
    // Expected 0.2 test, 0.08 validation; 4 standard deviations of a binomial.
    const tolerance = (p: number) => 4 * Math.sqrt((p * (1 - p)) / n);
    expect(Math.abs(split.test.length / n - 0.2)).toBeLessThan(tolerance(0.2));
    expect(Math.abs(split.validation.length / n - 0.08)).toBeLessThan(tolerance(0.08));
    const all = [...split.train, ...split.validation, ...split.test].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('keeps a row on its side when rows are added', () => {
    const before = sides(ids(1_000));
    const after = sides(ids(3_000));
    for (const id of before.test) expect(after.test.has(id)).toBe(true);
    for (const id of before.train) expect(after.train.has(id)).toBe(true);
  });

  it('splits a frame by its identity columns, and selects rows of every column kind', () => {
    const rows = Array.from({ length: 300 }, (_, i) => ({
      id: `c${i}`,
      t: i * 1000,
      x: i % 7,
      s: `v${i % 3}`,
    }));
    const features = [
      { name: 'id', type: 'string' as const },
      { name: 't', type: 'int64' as const },
      { name: 'x', type: 'float64' as const },
      { name: 's', type: 'string' as const },
    ];
    const frame = rowsToFrame(features, rows);
    const reversed = rowsToFrame(features, [...rows].reverse());
    const pick = (f: typeof frame) => {
      const split = splitFrame(f, options, ['id', 't']);
      const test = selectRows(f, split.test);
      const col = test.columns.id as { codes: Int32Array; dictionary: readonly string[] };
      return new Set(Array.from(col.codes, (c) => col.dictionary[c]));
    };
    expect(pick(reversed)).toEqual(pick(frame));
    expect(pick(frame).size).toBeGreaterThan(0);
  });

  it('refuses bad fractions, seeds and unknown identity columns, naming the field', () => {
    expect(() => splitRows(['a'], { ...options, testFraction: 0 })).toThrow(/split.testFraction/);
    expect(() => splitRows(['a'], { ...options, validationFraction: 1 })).toThrow(/split.validationFraction/);
    expect(() => splitRows(['a'], { ...options, seed: -1 })).toThrow(/split.seed/);
    const frame = rowsToFrame([{ name: 'x', type: 'float64' }], [{ x: 1 }]);
    expect(() => splitFrame(frame, options, ['nope'])).toThrow(/split.identity.nope/);
  });
});
