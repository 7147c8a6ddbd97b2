import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../lambdas/shared/random.js';
import { latencySummary, nearestRank } from '../../lambdas/training/evaluate/latency.js';
import {
  binaryMetrics,
  multiclassMetrics,
  regressionMetrics,
  rocAuc,
} from '../../lambdas/training/evaluate/metrics.js';
import { validationErrorOf } from '../support/errors.js';

/** Reference values recorded by test/fixtures/evaluate/make_fixtures.py (scikit-learn, numpy). */
interface Fixture {
  binary: {
    seed: number;
    y: number[];
    p: number[];
    accuracy: number;
    precision: number;
    recall: number;
    f1: number;
    rocAuc: number;
    logLoss: number;
    brier: number;
  }[];
  auc: { seed: number; y: number[]; scores: number[]; rocAuc: number }[];
  multiclass: {
    seed: number;
    classes: number;
    y: number[];
    p: number[];
    accuracy: number;
    macroF1: number;
    macroRocAuc: number;
    logLoss: number;
  }[];
  regression: { seed: number; y: number[]; prediction: number[]; rmse: number; mae: number; r2: number }[];
  latency: { seed: number; timings: number[]; p50: number; p95: number }[];
}
const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/evaluate/sklearn-metrics.json', import.meta.url), 'utf8'),
) as Fixture;

const close = (actual: number | null, expected: number) => {
  expect(actual).not.toBeNull();
  expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(
    1e-12 * Math.max(1, Math.abs(expected)),
  );
};

/** Brute force over every (positive, negative) pair: 1 when the positive scores higher, 1/2 on a tie. */
function bruteAuc(y: ArrayLike<number>, s: ArrayLike<number>): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 1) continue;
    for (let j = 0; j < y.length; j++) {
      if (y[j] !== 0) continue;
      pairs++;
      const a = s[i] as number;
      const b = s[j] as number;
      wins += a > b ? 1 : a === b ? 0.5 : 0;
    }
  }
  return wins / pairs;
}

/** A small seeded generator (mulberry32), so the brute-force cases are reproducible. */
const rng = mulberry32;

describe('binary metrics', () => {
  it.each(fixture.binary.map((c) => [c.seed, c] as const))('match scikit-learn (seed %i)', (_, c) => {
    const m = binaryMetrics(c.y, c.p);
    close(m.accuracy, c.accuracy);
    if (Number.isNaN(c.precision)) expect(m.precision).toBeNull();
    else close(m.precision, c.precision);
    close(m.recall, c.recall);
    if (Number.isNaN(c.f1)) expect(m.f1).toBeNull();
    else close(m.f1, c.f1);
    close(m.rocAuc, c.rocAuc);
    close(m.logLoss, c.logLoss);
    close(m.brier, c.brier);
  });

  it('counts a probability equal to the threshold as a positive prediction', () => {
    const m = binaryMetrics([1, 0], [0.5, 0.2]);
    expect(m.precision).toBe(1);
    expect(m.recall).toBe(1);
    expect(binaryMetrics([1, 0], [0.5, 0.2], 0.6).recall).toBe(0);
  });

  it('reports precision as null with a reason when nothing is predicted positive', () => {
    const m = binaryMetrics([1, 0, 0], [0.1, 0.2, 0.3]);
    expect(m.precision).toBeNull();
    expect(m.undefinedReasons.precision).toBe('no row is predicted positive');
    expect(m.f1).toBe(0);
  });

  it('reports AUC, recall and F1 as null with reasons when the held-out set holds one class', () => {
    const m = binaryMetrics([0, 0, 0], [0.1, 0.2, 0.3]);
    expect(m.rocAuc).toBeNull();
    expect(m.undefinedReasons.rocAuc).toMatch(/one class only \(no positives\)/);
    expect(m.recall).toBeNull();
    expect(m.f1).toBeNull();
    expect(Object.values(m).some((v) => typeof v === 'number' && Number.isNaN(v))).toBe(false);
    expect(rocAuc([1, 1], [0.3, 0.4])).toEqual({
      value: null,
      reason: 'the held-out set holds one class only (no negatives)',
    });
  });

  it('clips probabilities of 0 and 1 in log loss instead of returning Infinity', () => {
    const m = binaryMetrics([1, 0], [0, 1]);
    expect(m.logLoss).toBeCloseTo(-Math.log(2 ** -52), 10);
  });

  it('refuses empty input, unequal lengths, non-probabilities and labels that are not 0/1', () => {
    expect(validationErrorOf(() => binaryMetrics([], [])).field).toBe('labels');
    expect(validationErrorOf(() => binaryMetrics([0, 1], [0.5])).field).toBe('probabilities');
    expect(validationErrorOf(() => binaryMetrics([0, 1], [0.5, Number.NaN])).rule).toMatch(/row 1/);
    expect(validationErrorOf(() => binaryMetrics([0, 1], [0.5, 1.5])).field).toBe('probabilities');
    expect(validationErrorOf(() => binaryMetrics([0, 2], [0.5, 0.5])).rule).toMatch(/class indexes 0..1/);
    expect(validationErrorOf(() => binaryMetrics([0, 1], [0.5, 0.5], 2)).field).toBe('threshold');
    expect(validationErrorOf(() => rocAuc([0, 1], [0.5, Number.POSITIVE_INFINITY])).field).toBe('scores');
  });
});

describe('ROC-AUC', () => {
  it.each(fixture.auc.map((c) => [c.seed, c] as const))(
    'matches scikit-learn on tied integer scores (seed %i)',
    (_, c) => {
      close(rocAuc(c.y, c.scores).value, c.rocAuc);
    },
  );

  it('equals the all-pairs brute force over 200 seeds, ties included', () => {
    for (let seed = 0; seed < 200; seed++) {
      const next = rng(seed);
      const n = 2 + Math.floor(next() * 120);
      const distinct = seed % 3 === 0 ? 1e9 : 1 + Math.floor(next() * 6);
      const y = Int32Array.from({ length: n }, () => (next() < 0.5 ? 1 : 0));
      y[0] = 0;
      y[1] = 1;
      const s = Float64Array.from(
        y,
        (t) => Math.floor(next() * distinct) + (t === 1 && next() < 0.5 ? 1 : 0),
      );
      expect(rocAuc(y, s).value).toBeCloseTo(bruteAuc(y, s), 12);
    }
  });

  it('is 1/2 when every score ties', () => {
    expect(rocAuc([0, 1, 0, 1], [3, 3, 3, 3]).value).toBe(0.5);
  });
});

describe('multiclass metrics', () => {
  it.each(fixture.multiclass.map((c) => [c.seed, c] as const))('match scikit-learn (seed %i)', (_, c) => {
    const m = multiclassMetrics(c.y, c.p, c.classes);
    close(m.accuracy, c.accuracy);
    close(m.macroF1, c.macroF1);
    close(m.macroRocAuc, c.macroRocAuc);
    close(m.logLoss, c.logLoss);
  });

  it('takes the first of tied maxima as the prediction (numpy argmax)', () => {
    const m = multiclassMetrics([0, 1], [0.4, 0.4, 0.2, 0.4, 0.4, 0.2], 3);
    expect(m.accuracy).toBe(0.5);
  });

  it('clips a zero probability of the true class in log loss instead of returning Infinity', () => {
    const m = multiclassMetrics([2, 0, 1], [1, 0, 0, 1, 0, 0, 0, 1, 0], 3);
    expect(m.logLoss).toBeCloseTo(-Math.log(2 ** -52) / 3, 10);
  });

  it('reports one-vs-rest AUC as null naming a class missing from the held-out set', () => {
    const m = multiclassMetrics([0, 1, 1], [0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.1, 0.6, 0.3], 3);
    expect(m.macroRocAuc).toBeNull();
    expect(m.undefinedReasons.macroRocAuc).toMatch(/class 2 does not qualify/);
    expect(m.f1ByClass[2]).toBeNull();
    expect(m.macroF1).toBe(1);
  });

  it('refuses a probability matrix of the wrong shape and labels outside the classes', () => {
    expect(validationErrorOf(() => multiclassMetrics([0, 1], [0.5, 0.5, 0.5], 3)).rule).toBe(
      'must hold 6 values, not 3',
    );
    expect(validationErrorOf(() => multiclassMetrics([0, 3], [1, 0, 0, 0, 1, 0], 3)).field).toBe('labels');
    expect(validationErrorOf(() => multiclassMetrics([], [], 3)).field).toBe('labels');
    expect(validationErrorOf(() => multiclassMetrics([0], [1], 1)).field).toBe('classes');
  });
});

describe('regression metrics', () => {
  it.each(fixture.regression.map((c) => [c.seed, c] as const))('match scikit-learn (seed %i)', (_, c) => {
    const m = regressionMetrics(c.y, c.prediction);
    close(m.rmse, c.rmse);
    close(m.mae, c.mae);
    close(m.r2, c.r2);
  });

  it('reports R² as null with a reason for a constant target', () => {
    const m = regressionMetrics([2, 2, 2], [1, 2, 3]);
    expect(m.r2).toBeNull();
    expect(m.undefinedReasons.r2).toMatch(/constant/);
    expect(m.mae).toBeCloseTo(2 / 3, 15);
  });

  it('refuses empty input and NaN values, naming the field', () => {
    expect(validationErrorOf(() => regressionMetrics([], [])).field).toBe('labels');
    expect(validationErrorOf(() => regressionMetrics([1, Number.NaN], [1, 2])).field).toBe('labels');
    expect(validationErrorOf(() => regressionMetrics([1, 2], [1, Number.NaN])).field).toBe('predictions');
    expect(validationErrorOf(() => regressionMetrics([1, 2], [1])).field).toBe('predictions');
  });
});

describe('latency summary', () => {
  it.each(fixture.latency.map((c) => [c.seed, c] as const))(
    'gives numpy inverted_cdf (nearest-rank) percentiles (seed %i)',
    (_, c) => {
      const s = latencySummary(c.timings);
      expect(s.p50).toBe(c.p50);
      expect(s.p95).toBe(c.p95);
      expect(s.count).toBe(c.timings.length);
    },
  );

  it('takes the value at rank ceil(p/100 n)', () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(nearestRank(sorted, 50)).toBe(5);
    expect(nearestRank(sorted, 95)).toBe(10);
    expect(nearestRank(sorted, 10)).toBe(1);
    expect(latencySummary([3, 1, 2])).toEqual({ count: 3, p50: 2, p95: 3, max: 3, mean: 2 });
  });

  it('refuses no timings and negative or NaN ones', () => {
    expect(validationErrorOf(() => latencySummary([])).field).toBe('timings');
    expect(validationErrorOf(() => latencySummary([1, -1])).rule).toMatch(/row 1/);
    expect(validationErrorOf(() => latencySummary([Number.NaN])).field).toBe('timings');
  });
});
