import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lambdas/shared/errors.js';
import {
  type GbdtData,
  type GbdtParamsInput,
  predictProbabilities,
  predictScores,
  trainGbdt,
} from '../../lambdas/training/gbdt.js';
import { binOf, learnBins } from '../../lambdas/training/gbdt-binning.js';
import { prng } from '../support/random.js';

/** `n` rows of `features` uniform columns in [-1, 1), label from `label(row, noise)`. */
function synthetic(
  n: number,
  features: number,
  seed: number,
  label: (x: (f: number) => number, noise: number) => number,
): GbdtData {
  const rand = prng(seed);
  const columns = Array.from({ length: features }, () => new Float64Array(n));
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < features; f++) (columns[f] as Float64Array)[i] = 2 * rand() - 1;
    y[i] = label((f) => (columns[f] as Float64Array)[i] as number, rand() - 0.5);
  }
  return { features: columns, label: y };
}

const mse = (a: Float64Array, b: ArrayLike<number>) =>
  a.reduce((s, v, i) => s + (v - (b[i] as number)) ** 2, 0) / a.length;

function fieldOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).field;
  }
  throw new Error('expected a ValidationError');
}

describe('gbdt binning', () => {
  it('cuts between distinct values at float32 thresholds and bins by x <= threshold', () => {
    const bins = learnBins([Float64Array.of(3, 1, 2, 2, Number.NaN, 1)], 255);
    const bounds = bins.upperBounds[0] as Float64Array;
    expect(Array.from(bounds)).toEqual([1.5, 2.5, Number.POSITIVE_INFINITY]);
    expect([1, 1.5, 1.5000001, 2, 3, 1e300].map((v) => binOf(bounds, v))).toEqual([0, 0, 1, 1, 2, 2]);
    for (const b of bounds) expect(Math.fround(b)).toBe(b);
  });

  it('keeps at most maxBins bins on many distinct values, of about equal counts', () => {
    const column = Float64Array.from({ length: 10_000 }, (_, i) => i);
    const bounds = learnBins([column], 16).upperBounds[0] as Float64Array;
    expect(bounds.length).toBe(16);
    const counts = new Array(16).fill(0);
    for (const v of column) counts[binOf(bounds, v)]++;
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(2);
  });
});

describe('gbdt training', () => {
  it('learns a step function exactly', () => {
    // 100 levels: every gap between levels is a bin boundary, so the step is a cut the trees can make.
    const data = synthetic(2_000, 3, 1, () => 0);
    const level = data.features[1] as Float64Array;
    for (let i = 0; i < level.length; i++) level[i] = Math.floor(((level[i] as number) + 1) * 50) / 100;
    const label = Float64Array.from(level, (v) => (v > 0.25 ? 5 : -3));
    const { model } = trainGbdt(
      { features: data.features, label },
      { task: 'regression', numRounds: 60, learningRate: 0.5 },
    );
    const scores = predictScores(model, data.features);
    expect(mse(scores, label)).toBeLessThan(1e-10);
    expect(model.trees[0]?.feature[0]).toBe(1);
    expect(model.trees[0]?.threshold[0]).toBeGreaterThanOrEqual(0.25);
    expect(model.trees[0]?.threshold[0]).toBeLessThan(0.26);
  });

  it('learns an interaction that a stump cannot', () => {
    const xor = (x: (f: number) => number) => (x(0) > 0 !== x(1) > 0 ? 1 : 0);
    const data = synthetic(4_000, 4, 2, xor);
    const test = synthetic(2_000, 4, 3, xor);
    const params: GbdtParamsInput = { task: 'binary', numRounds: 50 };
    const stumps = trainGbdt(data, { ...params, numLeaves: 2 }).model;
    const trees = trainGbdt(data, params).model;
    const accuracy = (p: Float64Array) =>
      test.label.length === 0
        ? 0
        : Array.from(test.label).filter((y, i) => ((p[2 * i + 1] as number) > 0.5 ? 1 : 0) === y).length /
          test.label.length;
    expect(accuracy(predictProbabilities(trees, test.features))).toBeGreaterThan(0.97);
    expect(accuracy(predictProbabilities(stumps, test.features))).toBeLessThan(0.7);
  });

  it('fits each objective: binary log-loss, multiclass softmax and L2 regression', () => {
    const binary = trainGbdt(
      synthetic(3_000, 5, 4, (x, e) => (x(0) + x(1) * x(2) + e > 0 ? 1 : 0)),
      { task: 'binary', numRounds: 40 },
    );
    expect(binary.trainLoss).toBeLessThan(0.35);
    const multi = trainGbdt(
      synthetic(3_000, 5, 5, (x) => (x(0) < -0.3 ? 0 : x(1) < 0 ? 1 : 2)),
      { task: 'multiclass', numRounds: 40 },
    );
    expect(multi.model.numOutputs).toBe(3);
    expect(multi.model.trees.length).toBe(3 * 40);
    expect(multi.trainLoss).toBeLessThan(0.05);
    const probs = predictProbabilities(multi.model, [
      Float64Array.of(-0.9),
      Float64Array.of(0.5),
      ...[0, 0, 0].map(() => Float64Array.of(0)),
    ]);
    expect(probs[0]).toBeGreaterThan(0.95);
    const regression = trainGbdt(
      synthetic(3_000, 5, 6, (x, e) => 3 * x(0) - 2 * x(1) ** 2 + 0.1 * e),
      { task: 'regression', numRounds: 200 },
    );
    expect(regression.trainLoss).toBeLessThan(0.01);
  });

  it('stops early when the validation loss stops improving and keeps the best round', () => {
    const noise = (x: (f: number) => number, e: number) => (x(0) + 4 * e > 0 ? 1 : 0);
    const result = trainGbdt(
      synthetic(1_000, 5, 7, noise),
      { task: 'binary', numRounds: 500, numLeaves: 31, minChildSamples: 2, earlyStoppingRounds: 10 },
      synthetic(1_000, 5, 8, noise),
    );
    expect(result.stoppedEarly).toBe(true);
    expect(result.history.length).toBe(result.bestRound + 10);
    expect(result.model.trees.length).toBe(result.bestRound);
    const best = Math.min(...result.history.map((h) => h.validationLoss));
    expect(result.history[result.bestRound - 1]?.validationLoss).toBe(best);
  });

  it('holds out params.validationFraction of the rows by seed for early stopping', () => {
    const data = synthetic(1_000, 4, 14, (x, e) => (x(0) + 4 * e > 0 ? 1 : 0));
    const params: GbdtParamsInput = {
      task: 'binary',
      numRounds: 300,
      validationFraction: 0.3,
      earlyStoppingRounds: 5,
    };
    const a = trainGbdt(data, params);
    expect(a.stoppedEarly).toBe(true);
    expect(a.history.length).toBe(a.bestRound + 5);
    expect(trainGbdt(data, params).model).toEqual(a.model);
    expect(trainGbdt(data, { ...params, seed: 3 }).history).not.toEqual(a.history);
  });

  it('draws row and feature subsamples by seed: same seed same model, another seed another', () => {
    const data = synthetic(2_000, 8, 9, (x, e) => x(0) * x(1) + x(2) + e);
    const params: GbdtParamsInput = { task: 'regression', numRounds: 20, subsample: 0.5, colsample: 0.5 };
    const a = trainGbdt(data, { ...params, seed: 1 }).model;
    const b = trainGbdt(data, { ...params, seed: 1 }).model;
    const c = trainGbdt(data, { ...params, seed: 2 }).model;
    expect(b).toEqual(a);
    expect(c.trees).not.toEqual(a.trees);
    const full = trainGbdt(data, { ...params, subsample: 1, colsample: 1, seed: 1 }).model;
    const fullAgain = trainGbdt(data, { ...params, subsample: 1, colsample: 1, seed: 2 }).model;
    expect(fullAgain).toEqual(full);
  });

  it('learns where missing values go: right when missing means high, left when it means low', () => {
    for (const [missingMeans, missingLeft] of [
      [1, 0],
      [0, 1],
    ] as const) {
      const rand = prng(10);
      const x = Float64Array.from({ length: 2_000 }, () => (rand() < 0.2 ? Number.NaN : rand()));
      const y = Float64Array.from(x, (v) => (Number.isNaN(v) ? missingMeans : v > 0.5 ? 1 : 0));
      const { model } = trainGbdt({ features: [x], label: y }, { task: 'regression', numRounds: 30 });
      expect(model.trees[0]?.missingLeft[0]).toBe(missingLeft);
      const [missing] = predictScores(model, [Float64Array.of(Number.NaN)]);
      expect(missing).toBeCloseTo(missingMeans, 1);
    }
  });

  it('sends missing values right when the training data had none', () => {
    const data = synthetic(1_000, 2, 11, (x) => x(0));
    const { model } = trainGbdt(data, { task: 'regression', numRounds: 3 });
    for (const tree of model.trees) expect(Array.from(tree.missingLeft).every((m) => m === 0)).toBe(true);
  });

  it('keeps thresholds and leaf values float32', () => {
    const data = synthetic(1_000, 3, 12, (x, e) => Math.PI * x(0) + e);
    const { model } = trainGbdt(data, { task: 'regression', numRounds: 10 });
    for (const tree of model.trees) {
      for (const v of [...tree.threshold, ...tree.value]) expect(Math.fround(v)).toBe(v);
    }
    for (const v of model.baseScores) expect(Math.fround(v)).toBe(v);
  });
});

describe('gbdt bad input', () => {
  const good = () => synthetic(100, 2, 13, (x) => (x(0) > 0 ? 1 : 0));

  it('names a NaN label', () => {
    const data = good();
    (data.label as Float64Array)[7] = Number.NaN;
    expect(fieldOf(() => trainGbdt(data, { task: 'binary' }))).toBe('data.label.7');
  });

  it('refuses a single class', () => {
    const data = good();
    (data.label as Float64Array).fill(1);
    expect(fieldOf(() => trainGbdt(data, { task: 'binary' }))).toBe('data.label');
  });

  it('refuses a label that is not 0/1 for binary or not a class index for multiclass', () => {
    const data = good();
    (data.label as Float64Array)[3] = 2;
    expect(fieldOf(() => trainGbdt(data, { task: 'binary' }))).toBe('data.label.3');
    (data.label as Float64Array)[3] = 1.5;
    expect(fieldOf(() => trainGbdt(data, { task: 'multiclass' }))).toBe('data.label.3');
  });

  it('refuses empty data and no features', () => {
    expect(
      fieldOf(() => trainGbdt({ features: [new Float64Array(0)], label: [] }, { task: 'regression' })),
    ).toBe('data.label');
    expect(fieldOf(() => trainGbdt({ features: [], label: [1] }, { task: 'regression' }))).toBe(
      'data.features',
    );
  });

  it('refuses columns of mismatched lengths, in training and validation data', () => {
    const data = good();
    expect(
      fieldOf(() =>
        trainGbdt(
          { features: [data.features[0] as Float64Array, new Float64Array(5)], label: data.label },
          { task: 'binary' },
        ),
      ),
    ).toBe('data.features.1');
    expect(
      fieldOf(() =>
        trainGbdt(data, { task: 'binary' }, { features: [new Float64Array(3)], label: [0, 1, 0] }),
      ),
    ).toBe('validation.features');
  });

  it('names the bad param', () => {
    const data = good();
    for (const [params, field] of [
      [{ task: 'binary', learningRate: 0 }, 'params.learningRate'],
      [{ task: 'binary', numLeaves: 1 }, 'params.numLeaves'],
      [{ task: 'binary', maxBins: 256 }, 'params.maxBins'],
      [{ task: 'binary', subsample: 1.5 }, 'params.subsample'],
      [{ task: 'binary', seed: -1 }, 'params.seed'],
      [{ task: 'binary', numRounds: 2.5 }, 'params.numRounds'],
      [{ task: 'ranking' }, 'params.task'],
      [{ task: 'binary', earlyStoppingRounds: 5 }, 'params.earlyStoppingRounds'],
      [{ task: 'binary', nonsense: 1 }, 'params.nonsense'],
    ] as const) {
      expect(fieldOf(() => trainGbdt(data, params as unknown as GbdtParamsInput))).toBe(field);
    }
  });

  it('refuses predicting on the wrong number of columns', () => {
    const { model } = trainGbdt(good(), { task: 'binary', numRounds: 2 });
    expect(fieldOf(() => predictScores(model, [new Float64Array(1)]))).toBe('features');
  });
});
