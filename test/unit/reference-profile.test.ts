import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CategoricalColumn } from '../../lambdas/feature-store/point-in-time-join.js';
import type { FeatureInput, TrainingFrame } from '../../lambdas/training/encoding.js';
import {
  binIndex,
  buildReferenceProfile,
  type CategoricalProfile,
  type NumericProfile,
  PROFILE_FORMAT_VERSION,
  PROFILE_SAMPLE_SIZE,
  parseReferenceProfile,
  quantileHistogram,
  referenceSample,
} from '../../lambdas/training/evaluate/reference-profile.js';
import { validationErrorOf } from '../support/errors.js';
import { prng } from '../support/random.js';

/** numpy quantile(method='lower') edges and searchsorted counts, recorded by make_fixtures.py. */
const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/evaluate/sklearn-metrics.json', import.meta.url), 'utf8'),
) as { bins: { seed: number; values: number[]; edges: number[]; counts: number[] }[] };

const FEATURES: FeatureInput[] = [
  { name: 'income', type: 'float64' },
  { name: 'color', type: 'string', categories: ['red', 'green', 'violet'] },
  { name: 'member', type: 'bool' },
];

function frame(order: readonly number[]): TrainingFrame {
  const income = [10, 20, Number.NaN, 40, 50, 60, 70, 80];
  const colorCodes = [0, 1, 0, 2, -1, 0, 1, 3];
  const member = [1, 1, 1, 1, 1, 1, 1, 1];
  const color: CategoricalColumn = {
    dictionary: ['red', 'green', 'blue', 'teal'],
    codes: Int32Array.from(order, (i) => colorCodes[i] as number),
  };
  return {
    rows: order.length,
    columns: {
      income: Float64Array.from(order, (i) => income[i] as number),
      color,
      member: Float64Array.from(order, (i) => member[i] as number),
    },
  };
}
const IDENTITY = [0, 1, 2, 3, 4, 5, 6, 7];
const P_POSITIVE = [0.05, 0.1, 0.15, 0.5, 0.55, 0.9, 0.95, 1];
const probabilities = (order: readonly number[]) =>
  order.flatMap((i) => [1 - (P_POSITIVE[i] as number), P_POSITIVE[i] as number]);

describe('quantile histogram', () => {
  it.each(fixture.bins.map((c) => [c.seed, c] as const))(
    'gives numpy lower-quantile edges and searchsorted counts (seed %i)',
    (_, c) => {
      const h = quantileHistogram('x', c.values, 10);
      expect(h.edges).toEqual(c.edges);
      expect(h.counts).toEqual(c.counts);
    },
  );

  it('gives a constant feature one bin and no edges', () => {
    expect(quantileHistogram('x', [7, 7, 7], 10)).toEqual({
      count: 3,
      min: 7,
      max: 7,
      edges: [],
      counts: [3],
    });
  });

  it('gives a two-valued feature two bins', () => {
    expect(quantileHistogram('x', [0, 1, 1, 0, 1], 10)).toMatchObject({ edges: [0], counts: [2, 3] });
  });

  it('puts a value equal to an edge in the bin below it (right-closed bins)', () => {
    expect(binIndex([1, 2, 3], 2)).toBe(1);
    expect(binIndex([1, 2, 3], 2.5)).toBe(2);
    expect(binIndex([1, 2, 3], -5)).toBe(0);
    expect(binIndex([1, 2, 3], 9)).toBe(3);
    expect(binIndex([], 9)).toBe(0);
  });

  it('counts NaN as missing and refuses infinities, naming the field', () => {
    expect(quantileHistogram('x', [Number.NaN, Number.NaN], 10)).toEqual({
      count: 0,
      min: null,
      max: null,
      edges: [],
      counts: [0],
    });
    expect(
      validationErrorOf(() => quantileHistogram('columns.x', [1, Number.POSITIVE_INFINITY], 10)).field,
    ).toBe('columns.x');
  });
});

describe('reference sample', () => {
  it('keeps a CDF within 1/(2Q) of the reference everywhere, over 60 random references', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const rand = prng(seed);
      const n = 1 + Math.floor(rand() * 20_000);
      const ties = seed % 3 === 0;
      const sorted = Float64Array.from({ length: n }, () => (ties ? Math.round(rand() * 30) : rand())).sort();
      const sample = referenceSample(sorted);
      const q = Math.min(n, PROFILE_SAMPLE_SIZE);
      expect(sample.length).toBe(q);
      expect(sample).toEqual([...sample].sort((a, b) => a - b));
      // Brute force: both CDFs at every distinct reference value (where they step).
      let worst = 0;
      let j = 0;
      for (let i = 0; i < n; i++) {
        const x = sorted[i] as number;
        if (i + 1 < n && sorted[i + 1] === x) continue;
        while (j < q && (sample[j] as number) <= x) j++;
        worst = Math.max(worst, Math.abs((i + 1) / n - j / q));
      }
      expect(worst, `seed ${seed}, n ${n}`).toBeLessThanOrEqual(1 / (2 * q) + 1e-12);
    }
  });

  it('is the whole sample up to 1000 values', () => {
    const sorted = Float64Array.from({ length: 1000 }, (_, i) => i);
    expect(referenceSample(sorted)).toEqual([...sorted]);
    expect(referenceSample(new Float64Array(0))).toEqual([]);
  });
});

describe('reference profile', () => {
  const build = (order: readonly number[], maxCategories?: number) =>
    buildReferenceProfile(
      FEATURES,
      frame(order),
      { kind: 'probability', classes: [0, 1], probabilities: probabilities(order) },
      { bins: 4, ...(maxCategories === undefined ? {} : { maxCategories }) },
    );

  it('profiles a numeric feature: null rate, min, max, quantile edges and counts', () => {
    expect(build(IDENTITY).features[0]).toEqual({
      kind: 'numeric',
      name: 'income',
      count: 7,
      nullCount: 1,
      nullRate: 1 / 8,
      min: 10,
      max: 80,
      // Sorted present values 10 20 40 50 60 70 80: ranks floor(6 k/4) = 1, 3, 4.
      edges: [20, 50, 60],
      counts: [2, 2, 1, 2],
      // Seven values, fewer than PROFILE_SAMPLE_SIZE: the sample is all of them.
      sample: [10, 20, 40, 50, 60, 70, 80],
    });
  });

  it('profiles a categorical feature by count, keeping declared categories that never occur', () => {
    expect(build(IDENTITY).features[1]).toEqual({
      kind: 'categorical',
      name: 'color',
      count: 7,
      nullCount: 1,
      nullRate: 1 / 8,
      categories: [
        { value: 'red', count: 3, frequency: 3 / 8 },
        { value: 'green', count: 2, frequency: 2 / 8 },
        { value: 'blue', count: 1, frequency: 1 / 8 },
        { value: 'teal', count: 1, frequency: 1 / 8 },
        { value: 'violet', count: 0, frequency: 0 },
      ],
      otherCount: 0,
      otherCategories: 0,
    });
  });

  it('folds categories past maxCategories into other', () => {
    expect(build(IDENTITY, 2).features[1]).toMatchObject({
      categories: [
        { value: 'red', count: 3 },
        { value: 'green', count: 2 },
      ],
      otherCount: 2,
      otherCategories: 2,
      otherValues: ['blue', 'teal'],
    });
  });

  it('still reads a profile written before the reference sample and folded values existed', () => {
    const profile = build(IDENTITY, 2);
    const { sample: _, ...numeric } = profile.features[0] as NumericProfile;
    const { otherValues: __, ...categorical } = profile.features[1] as CategoricalProfile;
    const older = { ...profile, features: [numeric, categorical, profile.features[2]] };
    expect(parseReferenceProfile(JSON.stringify(older))).toEqual(older);
  });

  it('bins class probabilities on fixed tenths and counts predicted classes', () => {
    const { prediction } = build(IDENTITY);
    expect(prediction).toEqual({
      kind: 'probability',
      classes: [0, 1],
      edges: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
      counts: [
        // P(class 0) = 1 - p: 0.95 0.9 0.85 0.5 0.45 0.0999… 0.05… 0 (1 - 0.9 falls below 0.1).
        [3, 0, 0, 0, 2, 0, 0, 0, 2, 1],
        [2, 1, 0, 0, 1, 1, 0, 0, 1, 2],
      ],
      predictedCounts: [4, 4],
    });
  });

  it('bins regression scores like a numeric feature', () => {
    const profile = buildReferenceProfile(
      FEATURES,
      frame(IDENTITY),
      { kind: 'score', prediction: [1, 2, 3, 4, 5, 6, 7, 8] },
      { bins: 2 },
    );
    expect(profile.prediction).toEqual({
      kind: 'score',
      count: 8,
      min: 1,
      max: 8,
      edges: [4],
      counts: [4, 4],
    });
  });

  it('is the same JSON for the same data in any row order', () => {
    const shuffled = [5, 2, 7, 0, 3, 6, 1, 4];
    const a = JSON.stringify(build(IDENTITY));
    expect(JSON.stringify(build(shuffled))).toBe(a);
    expect(JSON.stringify(build(IDENTITY))).toBe(a);
  });

  it('carries its format version and reads back through JSON', () => {
    const profile = build(IDENTITY);
    expect(profile.formatVersion).toBe(PROFILE_FORMAT_VERSION);
    expect(parseReferenceProfile(JSON.stringify(profile))).toEqual(profile);
    expect(validationErrorOf(() => parseReferenceProfile({ ...profile, formatVersion: 2 })).field).toBe(
      'profile.formatVersion',
    );
    expect(validationErrorOf(() => parseReferenceProfile('{')).field).toBe('profile');
    const broken = { ...profile, features: [{ ...profile.features[0], counts: [-1] }] };
    expect(validationErrorOf(() => parseReferenceProfile(broken)).field).toBe('profile.features.0.counts.0');
  });

  it('refuses empty data, a missing or mistyped column and predictions of another length', () => {
    const scores = { kind: 'score', prediction: [] } as const;
    expect(
      validationErrorOf(() => buildReferenceProfile(FEATURES, { rows: 0, columns: {} }, scores)).field,
    ).toBe('rows');
    expect(validationErrorOf(() => buildReferenceProfile([], frame(IDENTITY), scores)).field).toBe(
      'features',
    );
    const missing = validationErrorOf(() =>
      buildReferenceProfile([{ name: 'age', type: 'int64' }], frame(IDENTITY), scores),
    );
    expect([missing.field, missing.rule]).toEqual(['columns.age', 'is missing from the reference data']);
    expect(
      validationErrorOf(() =>
        buildReferenceProfile([{ name: 'color', type: 'int64' }], frame(IDENTITY), scores),
      ).rule,
    ).toBe('must be a numeric column');
    expect(validationErrorOf(() => buildReferenceProfile(FEATURES, frame(IDENTITY), scores)).rule).toBe(
      'must hold 8 values, not 0',
    );
    expect(
      validationErrorOf(() =>
        buildReferenceProfile(FEATURES, frame(IDENTITY), {
          kind: 'probability',
          classes: [0, 1],
          probabilities: [],
        }),
      ).field,
    ).toBe('probabilities');
    expect(
      validationErrorOf(() =>
        buildReferenceProfile(
          FEATURES,
          frame(IDENTITY),
          { kind: 'score', prediction: IDENTITY },
          { bins: 0 },
        ),
      ).field,
    ).toBe('bins');
  });
});
