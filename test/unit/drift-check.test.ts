import { describe, expect, it } from 'vitest';
import { addToCells, createCellHistogram, gridOf, wassersteinFromCells } from '../../lambdas/drift/cells.js';
import { createDriftCheck, resolveThresholds } from '../../lambdas/drift/check.js';
import type { CheckRecord, DriftReport, NumericFeatureDrift } from '../../lambdas/drift/contract.js';
import { binSortedCounts, ksTwoSample, psiFromCounts, wasserstein1 } from '../../lambdas/drift/statistics.js';
import {
  buildReferenceProfile,
  type NumericProfile,
  type ReferenceProfile,
} from '../../lambdas/training/evaluate/reference-profile.js';
import { generateRecords, MIXED_FEATURES, referenceFrame } from '../fixtures/drift/generate.js';
import { validationErrorOf } from '../support/errors.js';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const WINDOW = { start: '2026-12-03T10:00:00Z', end: '2026-12-03T11:00:00Z' };

/** A binary classifier's reference profile over 20,000 generated rows (P(positive) = sigmoid(score)). */
function makeProfile(rows = 20_000): ReferenceProfile {
  const frame = referenceFrame(MIXED_FEATURES, rows, 1);
  const score = frame.columns.score as Float64Array;
  const probabilities = new Float64Array(rows * 2);
  for (let i = 0; i < rows; i++) {
    const p = sigmoid(score[i] as number);
    probabilities[2 * i] = 1 - p;
    probabilities[2 * i + 1] = p;
  }
  return buildReferenceProfile(
    MIXED_FEATURES.map((f) => f.input),
    frame,
    { kind: 'probability', classes: [0, 1], probabilities },
    { maxCategories: 3 }, // region's 4th value folds into other
  );
}
const PROFILE = makeProfile();

function check(records: Iterable<CheckRecord>, profile = PROFILE, thresholds = {}): DriftReport {
  const drift = createDriftCheck({ model: 'credit', version: 3, window: WINDOW, profile, thresholds });
  for (const record of records) drift.add(record);
  return drift.finish({ generatedAt: '2026-12-03T11:05:00Z' });
}

function* scored(records: Iterable<CheckRecord>): Generator<CheckRecord> {
  for (const r of records) yield { ...r, score: sigmoid(r.features.score as number) };
}

const verdicts = (report: DriftReport) => Object.fromEntries(report.features.map((f) => [f.name, f.verdict]));
const feature = (report: DriftReport, name: string) => report.features.find((f) => f.name === name);

describe('drift check end to end on generated data', () => {
  it('finds drift on the shifted features only, and in the predictions when the score moves', () => {
    const report = check(
      scored(generateRecords(MIXED_FEATURES, 5000, 2, new Set(['income', 'color', 'score']))),
    );
    expect(verdicts(report)).toEqual({
      income: 'drift',
      age: 'no-drift',
      score: 'drift',
      member: 'no-drift',
      color: 'drift',
      region: 'no-drift',
    });
    expect(report.status).toBe('checked');
    expect(report.summary).toEqual({
      features: 6,
      checked: 6,
      drifted: 3,
      driftShare: 0.5,
      datasetDrift: true,
    });
    expect(report.prediction.verdict).toBe('drift');
    expect(report.prediction.count).toBe(5000);
    expect(report.findings.filter((f) => f.code !== 'out-of-range')).toEqual([]);
  });

  it('finds no drift on unshifted data at the default thresholds', () => {
    const report = check(scored(generateRecords(MIXED_FEATURES, 5000, 3)));
    expect(Object.values(verdicts(report))).toEqual(Array(6).fill('no-drift'));
    expect(report.summary.datasetDrift).toBe(false);
    expect(report.prediction.verdict).toBe('no-drift');
    expect(report.findings).toEqual([]);
  });

  it('finds no drift on 100,000 unshifted rows: effect sizes decide, not p-values', () => {
    const report = check(scored(generateRecords(MIXED_FEATURES, 100_000, 4)));
    expect(Object.values(verdicts(report))).toEqual(Array(6).fill('no-drift'));
    for (const f of report.features) expect(f.drift?.psi).toBeLessThan(0.02);
    // The integer feature's KS p-value is tiny at this n (the reference's ties), yet no verdict follows it.
    const income = feature(report, 'income')?.drift as NumericFeatureDrift;
    expect(income.ks?.statistic).toBeLessThan(0.02);
  });

  it('gives KS and Wasserstein the values of the full reference within the sample bound', () => {
    const records = [...generateRecords(MIXED_FEATURES, 3000, 5, new Set(['income']))];
    const report = check(records);
    const drift = feature(report, 'income')?.drift as NumericFeatureDrift;
    const reference = (referenceFrame(MIXED_FEATURES, 20_000, 1).columns.income as Float64Array)
      .slice()
      .sort();
    const current = Float64Array.from(records, (r) => r.features.income as number).sort();
    const full = ksTwoSample(reference, current);
    expect(Math.abs((drift.ks?.statistic as number) - full.statistic)).toBeLessThanOrEqual(1 / 2000 + 1e-12);
    const range = (reference.at(-1) as number) - (reference[0] as number);
    expect(Math.abs((drift.wasserstein as number) - wasserstein1(reference, current))).toBeLessThanOrEqual(
      range / 2000,
    );
  });
});

describe('drift check on cells (no stored window)', () => {
  it("gives the PSI and KS of the sorted window exactly, and Wasserstein within the cells' bound, over 20 seeds", () => {
    for (let seed = 30; seed < 50; seed++) {
      const shifted = new Set(seed % 2 ? ['income', 'age'] : []);
      const records = [...generateRecords(MIXED_FEATURES, 200 + seed * 50, seed, shifted)];
      const report = check(records);
      for (const p of PROFILE.features) {
        if (p.kind !== 'numeric') continue;
        const drift = feature(report, p.name)?.drift as NumericFeatureDrift;
        const values = records.map((r) => r.features[p.name]);
        const window = Float64Array.from(values, (v) => (typeof v === 'boolean' ? Number(v) : (v as number)))
          .filter((v) => Number.isFinite(v))
          .sort();
        const sample = Float64Array.from(p.sample ?? []).sort();
        expect(drift.psi, `${p.name} seed ${seed}`).toBe(
          psiFromCounts(p.counts, binSortedCounts(window, p.edges)),
        );
        const ks = ksTwoSample(sample, window, { n1: p.count });
        expect(drift.ks, `${p.name} seed ${seed}`).toEqual({ statistic: ks.statistic, pValue: ks.pValue });
        const cells = createCellHistogram(gridOf(sample, p.edges));
        for (const v of window) addToCells(cells, v);
        const { bound } = wassersteinFromCells(cells, sample);
        expect(Math.abs((drift.wasserstein as number) - wasserstein1(sample, window))).toBeLessThanOrEqual(
          bound + 1e-9,
        );
      }
    }
  });

  it('reads numeric features whatever their names (quotes, backslashes, line breaks, code-like text)', () => {
    const odd = ['a"b', 'c\\d', 'e\nf', "g'); throw new Error('x'); ('", '__proto__x', '0'];
    const features = odd.map((name, i) => ({
      input: { name, type: 'float64' as const },
      draw: (r: () => number, s: boolean) => r() + i + (s ? 0.5 : 0),
    }));
    const frame = referenceFrame(features, 2000, 71);
    const profile = buildReferenceProfile(
      features.map((f) => f.input),
      frame,
      { kind: 'score', prediction: new Float64Array(2000).fill(0.5) },
    );
    const records = [...generateRecords(features, 1500, 72, new Set([odd[1] as string]))];
    const report = check(records, profile);
    for (const [i, name] of odd.entries()) {
      const f = feature(report, name);
      expect(f?.quality.nullCount, name).toBe(0);
      expect(f?.verdict, name).toBe(i === 1 ? 'drift' : 'no-drift');
      const window = Float64Array.from(records, (r) => r.features[name] as number).sort();
      const p = profile.features[i] as NumericProfile;
      const sample = Float64Array.from(p.sample ?? []).sort();
      const drift = f?.drift as NumericFeatureDrift;
      expect(drift.ks?.statistic, name).toBe(ksTwoSample(sample, window).statistic);
    }
    expect(report.findings.filter((x) => x.code !== 'out-of-range')).toEqual([]);
  });

  it('reads records whose key lists change (reordered, missing, extra keys) as uniform ones', () => {
    const records = [...generateRecords(MIXED_FEATURES, 3000, 61, new Set(['age']))];
    const reshaped = records.map((r, i): CheckRecord => {
      const entries = Object.entries(r.features);
      if (i % 3 === 1) entries.reverse();
      if (i % 5 === 2) entries.push(['tenure', 4]);
      if (i % 7 === 3) return { features: Object.fromEntries(entries.filter(([k]) => k !== 'income')) };
      return { features: Object.fromEntries(entries) };
    });
    const expected = check(
      records.map((r, i) =>
        i % 7 === 3
          ? { features: Object.fromEntries(Object.entries(r.features).filter(([k]) => k !== 'income')) }
          : r,
      ),
    );
    const actual = check(reshaped);
    expect(actual.features).toEqual(expected.features);
    expect(feature(actual, 'income')?.quality.nullCount).toBe(records.filter((_, i) => i % 7 === 3).length);
    expect(actual.findings).toContainEqual(
      expect.objectContaining({ code: 'feature-missing-from-profile', subject: 'tenure' }),
    );
  });
});

describe('drift check edge cases', () => {
  it('records an empty window as no-data with a finding, every feature without a verdict', () => {
    const report = check([]);
    expect(report.status).toBe('no-data');
    expect(report.rows).toBe(0);
    expect(report.findings.map((f) => f.code)).toEqual(['empty-window']);
    expect(new Set(Object.values(verdicts(report)))).toEqual(new Set(['insufficient-data']));
    expect(report.prediction).toEqual({ verdict: 'insufficient-data', count: 0 });
    expect(report.summary).toMatchObject({ checked: 0, driftShare: 0, datasetDrift: false });
  });

  it('computes the statistics of one row but gives no verdict below minSamples', () => {
    const report = check(scored(generateRecords(MIXED_FEATURES, 1, 6)));
    expect(report.status).toBe('insufficient-data');
    for (const f of report.features) {
      expect(f.verdict).toBe('insufficient-data');
      expect(Number.isFinite(f.drift?.psi)).toBe(true);
    }
    expect(report.prediction.verdict).toBe('insufficient-data');
  });

  it('treats an all-null feature as insufficient data with a null-rate finding, still checking the rest', () => {
    const records = [...generateRecords(MIXED_FEATURES, 1000, 7)].map((r) => ({
      features: { ...r.features, income: null },
    }));
    const report = check(records);
    const income = feature(report, 'income');
    expect(income?.verdict).toBe('insufficient-data');
    expect(income?.drift).toBeUndefined();
    expect(income?.quality).toMatchObject({ rows: 1000, nullCount: 1000, nullRate: 1, invalidCount: 0 });
    expect(report.findings).toEqual([expect.objectContaining({ code: 'null-rate', subject: 'income' })]);
    expect(feature(report, 'age')?.verdict).toBe('no-drift');
  });

  it('counts NaN as null and strings or infinities in a numeric feature as invalid', () => {
    const base = [...generateRecords(MIXED_FEATURES, 1000, 8)];
    const records = base.map((r, i) => ({
      features: {
        ...r.features,
        age:
          i % 10 === 0
            ? Number.NaN
            : i % 10 === 1
              ? 'forty'
              : i % 10 === 2
                ? Number.POSITIVE_INFINITY
                : r.features.age,
      } as CheckRecord['features'],
    }));
    const age = feature(check(records), 'age');
    expect(age?.quality).toMatchObject({ nullCount: 300, invalidCount: 200, nullRate: 0.3 });
    expect(age?.verdict).toBe('no-drift');
  });

  it('sees a constant feature: PSI 0 on the same constant; a move shows in KS and out-of-range', () => {
    const constant = {
      ...MIXED_FEATURES[0],
      input: { name: 'one', type: 'float64' as const },
      draw: () => 1,
    };
    const features = [constant, ...MIXED_FEATURES.slice(1)];
    const frame = referenceFrame(features, 2000, 9);
    const profile = buildReferenceProfile(
      features.map((f) => f.input),
      frame,
      { kind: 'score', prediction: new Float64Array(2000).fill(0.5) },
    );
    const same = feature(check(generateRecords(features, 600, 10), profile), 'one');
    expect(same?.verdict).toBe('no-drift');
    expect(same?.drift).toMatchObject({ psi: 0, ks: { statistic: 0, pValue: 1 }, wasserstein: 0 });
    const moved = check(
      [...generateRecords(features, 600, 10)].map((r) => ({ features: { ...r.features, one: 2 } })),
      profile,
    );
    const movedDrift = feature(moved, 'one')?.drift as NumericFeatureDrift;
    expect(movedDrift.ks?.statistic).toBe(1);
    expect(feature(moved, 'one')?.quality.outOfRangeRate).toBe(1);
    expect(moved.findings).toContainEqual(expect.objectContaining({ code: 'out-of-range', subject: 'one' }));
  });

  it('counts a new category as unseen (a folded one is not), with its PSI bin and a finding', () => {
    const records = [...generateRecords(MIXED_FEATURES, 1000, 11)].map((r, i) => ({
      features: { ...r.features, color: i % 20 === 0 ? 'magenta' : (r.features.color as string) },
    }));
    const report = check(records);
    const color = feature(report, 'color');
    expect(color?.quality).toMatchObject({ unseenCount: 50, unseenRate: 0.05, unseenValues: ['magenta'] });
    expect(color?.drift?.bins.labels?.slice(-2)).toEqual(['other', 'unseen']);
    expect(color?.drift?.bins.current.at(-1)).toBeCloseTo(0.05, 12);
    expect(report.findings).toContainEqual(
      expect.objectContaining({ code: 'unseen-categories', subject: 'color' }),
    );
    // region's least frequent value was folded into "other" by the profile: not unseen.
    expect(feature(report, 'region')?.quality.unseenCount).toBe(0);
  });

  it('finds a name outside the profile that appears only late in the window, in one record of ten (key lists sampled past the first 1,024)', () => {
    const records = [...generateRecords(MIXED_FEATURES, 6000, 13)].map((r, i) =>
      i >= 3000 && i % 10 === 7 ? { features: { ...r.features, late_column: 1 } } : r,
    );
    const report = check(records);
    expect(report.findings).toContainEqual(
      expect.objectContaining({ code: 'feature-missing-from-profile', subject: 'late_column' }),
    );
  });

  it('reports features missing from the profile or the window as findings and checks the rest', () => {
    const records = [...generateRecords(MIXED_FEATURES, 800, 12)].map((r) => {
      const { age: _, ...rest } = r.features;
      return { features: { ...rest, tenure: 3 } };
    });
    const report = check(records);
    expect(feature(report, 'age')).toMatchObject({ verdict: 'not-checked' });
    expect(feature(report, 'age')?.drift).toBeUndefined();
    expect(report.findings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'feature-missing-from-window', subject: 'age' }),
        expect.objectContaining({ code: 'feature-missing-from-profile', subject: 'tenure' }),
      ]),
    );
    expect(report.summary).toMatchObject({ features: 6, checked: 5 });
  });

  it('leaves KS and Wasserstein out for a profile without a reference sample, saying why', () => {
    const older = {
      ...PROFILE,
      features: PROFILE.features.map((f) => (f.kind === 'numeric' ? { ...f, sample: undefined } : f)),
    };
    const report = check(generateRecords(MIXED_FEATURES, 600, 13), older);
    const income = feature(report, 'income')?.drift as NumericFeatureDrift;
    expect(income.ks).toBeUndefined();
    expect(income.wasserstein).toBeUndefined();
    expect(Number.isFinite(income.psi)).toBe(true);
    expect(
      report.findings.filter((f) => f.code === 'reference-sample-missing').map((f) => f.subject),
    ).toEqual(['income', 'age', 'score', 'member']);
  });

  it('keeps findings added by the reader (a malformed file) in the report', () => {
    const drift = createDriftCheck({ model: 'credit', version: 3, window: WINDOW, profile: PROFILE });
    drift.addFinding({ code: 'malformed-file', subject: 'capture/x.jsonl', message: 'not JSON lines' });
    expect(drift.finish().findings).toContainEqual(expect.objectContaining({ code: 'malformed-file' }));
  });

  it('refuses bad thresholds, naming the field', () => {
    expect(validationErrorOf(() => resolveThresholds({ minSamples: 0 })).field).toBe('thresholds.minSamples');
    expect(validationErrorOf(() => resolveThresholds({ featurePsi: -1 })).field).toBe(
      'thresholds.featurePsi',
    );
    expect(validationErrorOf(() => resolveThresholds({ driftShare: 2 })).field).toBe('thresholds.driftShare');
    expect(resolveThresholds({ minSamples: 10 }).minSamples).toBe(10);
  });
});
