import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { FeatureType } from '../../lambdas/feature-store/feature-view.js';
import type { RawRow } from '../../lambdas/training/encoding.js';
import type { Task } from '../../lambdas/training/labels.js';
import { scoreRows, trainLinearModel } from '../../lambdas/training/linear/linear-model.js';
import { validationErrorOf } from '../support/errors.js';

/** scikit-learn fits recorded by test/fixtures/linear/make_sklearn_fixtures.py. */
interface Case {
  task: Task;
  label: (number | string)[];
  l2: number;
  classes: (number | string)[];
  coefficients: number[];
  intercepts: number[];
  probabilities?: number[];
  predictions?: number[];
}
const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/linear/sklearn-linear.json', import.meta.url), 'utf8'),
) as {
  features: { name: string; type: FeatureType }[];
  rows: RawRow[];
  categories: string[];
  cases: Record<'binary' | 'multiclass' | 'regression', Case>;
};

function train(c: Case, overrides: { rows?: RawRow[] } = {}) {
  const rows = (overrides.rows ?? fixture.rows).map((r, i) => ({ ...r, y: c.label[i] }));
  return trainLinearModel({
    task: c.task,
    rows,
    label: 'y',
    features: fixture.features,
    params: { l2: c.l2 },
  });
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe('linear trainers against scikit-learn', () => {
  it.each(['binary', 'multiclass', 'regression'] as const)(
    'fits %s coefficients within 1e-4 of scikit-learn (raw-feature space, standardization folded in)',
    (task) => {
      const c = fixture.cases[task];
      const model = train(c);
      expect(model.converged).toBe(true);
      expect(model.classes).toEqual(c.classes);
      // Scale-aware: income is ~5e4, so its raw coefficient is tiny; compare relative to the largest.
      const scale = Math.max(1, ...c.coefficients.map(Math.abs));
      expect(maxDiff(model.coefficients, c.coefficients) / scale).toBeLessThan(1e-4);
      expect(maxDiff(model.intercepts, c.intercepts)).toBeLessThan(1e-4);
      const scored = scoreRows(model, fixture.rows);
      if (c.probabilities) expect(maxDiff(scored.probabilities ?? [], c.probabilities)).toBeLessThan(1e-6);
      if (c.predictions) expect(maxDiff(scored.predictions ?? [], c.predictions)).toBeLessThan(1e-6);
    },
  );

  it('learns the one-hot categories most frequent first and scores a missing category as all zeros', () => {
    const model = train(fixture.cases.binary);
    const color = model.encoding.features.find((f) => f.name === 'color');
    expect(color?.kind === 'categorical' && color.categories).toEqual(fixture.categories);
  });
});

describe('linear trainers: known answers', () => {
  it('recovers an exact linear relation with l2 = 0', () => {
    const rows = Array.from({ length: 50 }, (_, i) => ({
      a: i,
      b: (i * 7) % 11,
      y: 3 * i - 2 * ((i * 7) % 11) + 5,
    }));
    const model = trainLinearModel({
      task: 'regression',
      rows,
      label: 'y',
      features: [
        { name: 'a', type: 'float64' },
        { name: 'b', type: 'float64' },
      ],
      params: { l2: 0 },
    });
    expect(maxDiff(model.coefficients, [3, -2])).toBeLessThan(1e-10);
    expect(model.intercepts[0]).toBeCloseTo(5, 10);
  });

  it('gives probability 1/2 everywhere when the classes are balanced at every feature value', () => {
    const rows = [0, 0, 1, 1, 2, 2].map((x, i) => ({ x, y: i % 2 === 0 ? 'no' : 'yes' }));
    const model = trainLinearModel({
      task: 'binary',
      rows,
      label: 'y',
      features: [{ name: 'x', type: 'int64' }],
    });
    expect(
      Array.from(scoreRows(model, rows).probabilities ?? []).every((p) => Math.abs(p - 0.5) < 1e-12),
    ).toBe(true);
    expect(model.classes).toEqual(['no', 'yes']);
  });
});

describe('linear trainers: bad input', () => {
  const features = [{ name: 'x', type: 'float64' as const }];
  const rows = (labels: unknown[]) => labels.map((y, i) => ({ x: i, y }) as RawRow);

  it('refuses a single-class label, naming the label column', () => {
    const e = validationErrorOf(() =>
      trainLinearModel({ task: 'binary', rows: rows([1, 1, 1]), label: 'y', features }),
    );
    expect(e.field).toBe('y');
    expect(e.rule).toMatch(/at least two classes/);
  });

  it('refuses NaN and missing labels, naming the row', () => {
    for (const bad of [Number.NaN, null, undefined]) {
      const e = validationErrorOf(() =>
        trainLinearModel({ task: 'regression', rows: rows([1, bad, 2]), label: 'y', features }),
      );
      expect(e.field).toBe('y');
      expect(e.rule).toMatch(/row 1/);
    }
  });

  it('refuses empty training data', () => {
    const e = validationErrorOf(() => trainLinearModel({ task: 'binary', rows: [], label: 'y', features }));
    expect(e.field).toBe('rows');
  });

  it('refuses a label of the wrong type for the task', () => {
    expect(
      validationErrorOf(() =>
        trainLinearModel({ task: 'regression', rows: rows(['a', 'b']), label: 'y', features }),
      ).field,
    ).toBe('y');
    expect(
      validationErrorOf(() =>
        trainLinearModel({ task: 'binary', rows: rows([0.5, 1.5]), label: 'y', features }),
      ).rule,
    ).toMatch(/integer or string/);
    expect(
      validationErrorOf(() =>
        trainLinearModel({ task: 'binary', rows: rows([0, 'one']), label: 'y', features }),
      ).rule,
    ).toMatch(/one type/);
    expect(
      validationErrorOf(() =>
        trainLinearModel({ task: 'binary', rows: rows([0, 1, 2]), label: 'y', features }),
      ).rule,
    ).toMatch(/exactly two/);
  });

  it('refuses a feature value of the wrong type, naming the row and feature', () => {
    const bad = [...rows([0, 1, 0, 1]), { x: 'oops', y: 1 }];
    expect(
      validationErrorOf(() => trainLinearModel({ task: 'binary', rows: bad, label: 'y', features })).field,
    ).toBe('rows[4].x');
  });

  it('refuses collinear features without a penalty, naming l2', () => {
    const r = [1, 2, 3, 4].map((x) => ({ x, x2: 2 * x, y: x }));
    const e = validationErrorOf(() =>
      trainLinearModel({
        task: 'regression',
        rows: r,
        label: 'y',
        features: [...features, { name: 'x2', type: 'float64' }],
        params: { l2: 0 },
      }),
    );
    expect(e.field).toBe('params.l2');
  });

  it('refuses a negative penalty', () => {
    expect(
      validationErrorOf(() =>
        trainLinearModel({ task: 'binary', rows: rows([0, 1]), label: 'y', features, params: { l2: -1 } }),
      ).field,
    ).toBe('params.l2');
  });
});
