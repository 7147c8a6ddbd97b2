import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  assignmentBucket,
  assignmentHash,
  assignVariant,
  compileAllocation,
  variantOf,
} from '../../lambdas/experiments/assignment.js';
import { chiSquareSf } from '../../lambdas/experiments/distributions.js';
import { ExperimentConfigError } from '../../lambdas/experiments/errors.js';

/** Golden vectors recorded by an independent Python MurmurHash3 in test/fixtures/experiments/make_fixtures.py. */
const golden = (
  JSON.parse(readFileSync(new URL('../fixtures/experiments/reference.json', import.meta.url), 'utf8')) as {
    assignment: { experimentId: string; unitId: string; hash: number; bucket: number }[];
  }
).assignment;

function configErrorOf(fn: () => unknown): ExperimentConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ExperimentConfigError) return error;
    throw error;
  }
  throw new Error('expected an ExperimentConfigError');
}

/** Pearson chi-square p-value of counts against a uniform expectation. */
function uniformityP(counts: Int32Array | number[]): number {
  const total = Array.from(counts).reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  let chi = 0;
  for (const c of counts) chi += (c - expected) ** 2 / expected;
  return chiSquareSf(chi, counts.length - 1);
}

describe('assignment wire contract (version 1)', () => {
  it('golden vectors: (experiment, unit) → hash and bucket, frozen (change rule: never change; add a new version)', () => {
    expect(golden.length).toBeGreaterThanOrEqual(20);
    for (const g of golden) {
      expect(assignmentHash(g.experimentId, g.unitId), `${g.experimentId} / ${g.unitId}`).toBe(g.hash);
      if (g.experimentId !== '' && g.unitId !== '')
        expect(assignmentBucket(g.experimentId, g.unitId)).toBe(g.bucket);
    }
  });
  it('the length prefix keeps ("a", "bc") and ("ab", "c") apart', () => {
    expect(assignmentHash('a', 'bc')).not.toBe(assignmentHash('ab', 'c'));
  });
  it('sticky: the same input always gives the same bucket and variant', () => {
    const experiment = { id: 'exp-sticky', treatmentShare: 30 };
    for (let i = 0; i < 1000; i++) {
      const unit = `user-${i}`;
      const first = assignVariant(experiment, unit);
      expect(assignVariant(experiment, unit)).toBe(first);
      expect(assignmentBucket('exp-sticky', unit)).toBe(assignmentBucket('exp-sticky', unit));
    }
  });
});

describe('assignment statistics', () => {
  it('uniform: 1M ids over 100 buckets, chi-square p > 0.001', () => {
    const counts = new Int32Array(100);
    for (let i = 0; i < 1_000_000; i++) {
      const k = Math.floor(assignmentBucket('exp-uniform', `u${i}`) / 100);
      counts[k] = (counts[k] as number) + 1;
    }
    const p = uniformityP(counts);
    expect(p).toBeGreaterThan(0.001);
  });
  it('allocation honoured: a 90/10 split of 200k ids is within chi-square p > 0.001 of 90/10', () => {
    const compiled = compileAllocation({ id: 'exp-split', treatmentShare: 10 });
    let treatment = 0;
    const n = 200_000;
    for (let i = 0; i < n; i++) if (variantOf('exp-split', compiled, `u${i}`) === 'treatment') treatment++;
    const chi = (treatment - 0.1 * n) ** 2 / (0.1 * n) + (n - treatment - 0.9 * n) ** 2 / (0.9 * n);
    expect(chiSquareSf(chi, 1)).toBeGreaterThan(0.001);
  });
  it('independent across experiments: 10×10 contingency of two experiments’ deciles, chi-square p > 0.001', () => {
    const table = new Int32Array(100);
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const a = Math.floor(assignmentBucket('exp-a', `u${i}`) / 1000);
      const b = Math.floor(assignmentBucket('exp-b', `u${i}`) / 1000);
      table[a * 10 + b] = (table[a * 10 + b] as number) + 1;
    }
    const rows = Array.from({ length: 10 }, (_, a) =>
      table.subarray(a * 10, a * 10 + 10).reduce((x, y) => x + y, 0),
    );
    const cols = Array.from({ length: 10 }, (_, b) =>
      table.filter((_, j) => j % 10 === b).reduce((x, y) => x + y, 0),
    );
    let chi = 0;
    for (let a = 0; a < 10; a++)
      for (let b = 0; b < 10; b++) {
        const expected = ((rows[a] as number) * (cols[b] as number)) / n;
        chi += ((table[a * 10 + b] as number) - expected) ** 2 / expected;
      }
    expect(chiSquareSf(chi, 81)).toBeGreaterThan(0.001);
  });
});

describe('allocation errors name the field and the rule', () => {
  const cases: [string, () => unknown, string][] = [
    [
      'treatment share 0',
      () => compileAllocation({ id: 'e', treatmentShare: 0 }),
      'experiment.treatmentShare',
    ],
    [
      'treatment share 100',
      () => compileAllocation({ id: 'e', treatmentShare: 100 }),
      'experiment.treatmentShare',
    ],
    [
      'treatment share NaN',
      () => compileAllocation({ id: 'e', treatmentShare: Number.NaN }),
      'experiment.treatmentShare',
    ],
    [
      'weights not summing to 100',
      () =>
        compileAllocation({
          id: 'e',
          allocation: [
            { variant: 'a', weight: 50 },
            { variant: 'b', weight: 40 },
          ],
        }),
      'experiment.allocation',
    ],
    [
      'a weight finer than a basis point',
      () =>
        compileAllocation({
          id: 'e',
          allocation: [
            { variant: 'a', weight: 50.005 },
            { variant: 'b', weight: 49.995 },
          ],
        }),
      'experiment.allocation[0].weight',
    ],
    [
      'duplicate variants',
      () =>
        compileAllocation({
          id: 'e',
          allocation: [
            { variant: 'a', weight: 50 },
            { variant: 'a', weight: 50 },
          ],
        }),
      'experiment.allocation[1].variant',
    ],
    [
      'one variant',
      () => compileAllocation({ id: 'e', allocation: [{ variant: 'a', weight: 99 }] }),
      'experiment.allocation',
    ],
    ['empty experiment id', () => assignVariant({ id: '', treatmentShare: 50 }, 'u'), 'experiment.id'],
    ['empty unit id', () => assignVariant({ id: 'e', treatmentShare: 50 }, ''), 'unitId'],
  ];
  for (const [name, fn, field] of cases)
    it(name, () => {
      const error = configErrorOf(fn);
      expect(error.field).toBe(field);
      expect(error.name).toBe('ExperimentConfigError');
      expect(error.status).toBe(400);
    });
  it('three variants with two-decimal weights are accepted and all reached', () => {
    const experiment = {
      id: 'e3',
      allocation: [
        { variant: 'a', weight: 33.33 },
        { variant: 'b', weight: 33.33 },
        { variant: 'c', weight: 33.34 },
      ],
    };
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) seen.add(assignVariant(experiment, `u${i}`));
    expect([...seen].sort()).toEqual(['a', 'b', 'c']);
  });
});
