import { describe, expect, it } from 'vitest';
import type { CategoricalColumn } from '../../lambdas/feature-store/point-in-time-join.js';
import { MISSING_SLICE, sliceReport } from '../../lambdas/training/evaluate/fairness.js';
import { binaryMetrics } from '../../lambdas/training/evaluate/metrics.js';
import { validationErrorOf } from '../support/errors.js';

/** Rows of one slice: `n` rows, `positives` of them actual positives, `predicted` of those and `fp` negatives predicted positive. */
function rows(n: number, positives: number, tpr: number, fp: number) {
  const y: number[] = [];
  const p: number[] = [];
  const tp = Math.round(positives * tpr);
  for (let i = 0; i < n; i++) {
    const positive = i < positives;
    y.push(positive ? 1 : 0);
    p.push(positive ? (i < tp ? 0.9 : 0.1) : i - positives < fp ? 0.7 : 0.2);
  }
  return { y, p };
}

/** north: 40 rows, 20 positives, TPR 0.5, 4 FP → rate 14/40; south: 50 rows, 10 positives, TPR 0.9, 0 FP → 9/50;
 *  east: 5 rows (too small); missing: 40 rows without positives, 10 FP → rate 10/40. */
function dataset() {
  const parts = [
    { code: 0, ...rows(40, 20, 0.5, 4) },
    { code: 1, ...rows(50, 10, 0.9, 0) },
    { code: 2, ...rows(5, 5, 0, 0) },
    { code: -1, ...rows(40, 0, 0, 10) },
  ];
  const column: CategoricalColumn = {
    dictionary: ['north', 'south', 'east'],
    codes: Int32Array.from(parts.flatMap((part) => part.y.map(() => part.code))),
  };
  return {
    column,
    y: parts.flatMap((part) => part.y),
    probability: parts.flatMap((part) => part.p),
  };
}

describe('slice report', () => {
  it('reports every slice with its count, sorted by value, missing values as their own slice', () => {
    const { column, y, probability } = dataset();
    const report = sliceReport('region', column, { task: 'binary', y, probability });
    expect(report.slices.map((s) => [s.value, s.count])).toEqual([
      ['east', 5],
      ['north', 40],
      ['south', 50],
      [MISSING_SLICE, 40],
    ]);
  });

  it('computes each slice metrics on its own rows', () => {
    const { column, y, probability } = dataset();
    const report = sliceReport('region', column, { task: 'binary', y, probability });
    const north = report.slices.find((s) => s.value === 'north');
    expect(north?.metrics).toEqual(binaryMetrics(y.slice(0, 40), probability.slice(0, 40)));
  });

  it('gives the demographic-parity gap over the slices large enough, naming the small one left out', () => {
    const { column, y, probability } = dataset();
    const { demographicParity, slices } = sliceReport('region', column, { task: 'binary', y, probability });
    expect(demographicParity.value).toBeCloseTo(14 / 40 - 9 / 50, 15);
    expect(demographicParity.max).toEqual({ slice: 'north', rate: 14 / 40 });
    expect(demographicParity.min).toEqual({ slice: 'south', rate: 9 / 50 });
    expect(demographicParity.compared).toEqual(['north', 'south', MISSING_SLICE]);
    expect(demographicParity.excluded).toEqual([{ slice: 'east', reason: 'fewer than 30 rows' }]);
    expect(slices.find((s) => s.value === 'east')).toMatchObject({
      inGaps: false,
      excludedReason: 'fewer than 30 rows',
    });
  });

  it('gives the equal-opportunity gap over slices with actual positives', () => {
    const { column, y, probability } = dataset();
    const { equalOpportunity } = sliceReport('region', column, { task: 'binary', y, probability });
    expect(equalOpportunity.value).toBeCloseTo(0.9 - 0.5, 15);
    expect(equalOpportunity.compared).toEqual(['north', 'south']);
    expect(equalOpportunity.excluded).toEqual([
      { slice: 'east', reason: 'fewer than 30 rows' },
      { slice: MISSING_SLICE, reason: 'no actual positives (true-positive rate undefined)' },
    ]);
  });

  it('honours minCount and the threshold', () => {
    const { column, y, probability } = dataset();
    const report = sliceReport(
      'region',
      column,
      { task: 'binary', y, probability },
      { minCount: 5, threshold: 0.8 },
    );
    expect(report.demographicParity.compared).toContain('east');
    // At 0.8 no false positive remains: north 10/40, south 9/50, east 0/5, missing 0/40.
    expect(report.demographicParity.value).toBeCloseTo(10 / 40, 15);
  });

  it('is null with a reason when fewer than two slices qualify', () => {
    const column = Float64Array.from([1, 1, 1, Number.NaN]);
    const report = sliceReport(
      'member',
      column,
      { task: 'binary', y: [1, 0, 1, 0], probability: [0.9, 0.1, 0.2, 0.6] },
      { minCount: 2 },
    );
    expect(report.slices.map((s) => s.value)).toEqual(['1', MISSING_SLICE]);
    expect(report.demographicParity).toMatchObject({
      value: null,
      reason: 'needs at least two qualifying slices, has 1',
    });
  });

  it('gives per-slice metrics but no gaps for regression', () => {
    const report = sliceReport('segment', Float64Array.from([0, 0, 1, 1]), {
      task: 'regression',
      y: [1, 2, 3, 4],
      prediction: [1, 2, 3, 5],
    });
    expect(report.slices.map((s) => s.metrics)).toMatchObject([{ mae: 0 }, { mae: 0.5 }]);
    expect(report.demographicParity.reason).toBe(
      'fairness gaps are defined for binary tasks, not regression',
    );
    expect(report.equalOpportunity.value).toBeNull();
  });

  it('sorts numeric slice values as numbers', () => {
    const report = sliceReport('segment', Float64Array.from([10, 2, 2]), {
      task: 'regression',
      y: [1, 2, 3],
      prediction: [1, 2, 3],
    });
    expect(report.slices.map((s) => s.value)).toEqual(['2', '10']);
  });

  it('slices multiclass probability rows with their rows', () => {
    const report = sliceReport('segment', Float64Array.from([0, 1, 0]), {
      task: 'multiclass',
      classes: 2,
      y: [0, 0, 1],
      probabilities: [0.9, 0.1, 0.8, 0.2, 0.3, 0.7],
    });
    expect(
      report.slices.map((s) => [s.value, s.metrics.count, 'accuracy' in s.metrics && s.metrics.accuracy]),
    ).toEqual([
      ['0', 2, 1],
      ['1', 1, 1],
    ]);
  });

  it('refuses a slice column of another length, naming the attribute', () => {
    const error = validationErrorOf(() =>
      sliceReport('region', Float64Array.from([1]), { task: 'binary', y: [0, 1], probability: [0.1, 0.9] }),
    );
    expect(error.field).toBe('slices.region');
    expect(error.rule).toBe('must hold 2 rows, not 1');
    expect(
      validationErrorOf(() =>
        sliceReport(
          'region',
          Float64Array.from([1]),
          { task: 'binary', y: [1], probability: [1] },
          { minCount: 0 },
        ),
      ).field,
    ).toBe('minCount');
    expect(
      validationErrorOf(() =>
        sliceReport('region', new Float64Array(0), { task: 'binary', y: [], probability: [] }),
      ).field,
    ).toBe('labels');
  });
});
