import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  chiSquareSf,
  normalCdf,
  normalQuantile,
  normalSf,
  tQuantile,
  tTwoSided,
} from '../../lambdas/experiments/distributions.js';
import { StatisticsInputError } from '../../lambdas/experiments/errors.js';
import { summarizeOutcomes } from '../../lambdas/experiments/outcomes.js';
import { SequentialTest } from '../../lambdas/experiments/sequential.js';
import {
  type GroupSummary,
  MeanVarianceAccumulator,
  type MinimumDetectableEffect,
  type ProportionCounts,
  requiredSampleSize,
  requiredSampleSizeContinuous,
  sampleRatioMismatch,
  twoProportionZTest,
  welchTTest,
} from '../../lambdas/experiments/statistics.js';
import { verdict } from '../../lambdas/experiments/verdict.js';

type Pair = [number | null, number | null];
type ProportionCase = ProportionCounts & {
  alpha: number;
  z: number | null;
  pValue: number | null;
  difference: number;
  differenceInterval: Pair;
  relativeLift: number | null;
  relativeLiftInterval: Pair | null;
};
type SizeCase = {
  minimumDetectableEffect: MinimumDetectableEffect;
  alpha: number;
  power: number;
  allocation: { control: number; treatment: number };
  effectSize: number;
  controlExact: number;
};
/** Reference values recorded by test/fixtures/experiments/make_fixtures.py (scipy, statsmodels). */
interface Fixture {
  distributions: {
    normal: { x: number; cdf: number; sf: number }[];
    normalQuantile: { p: number; x: number }[];
    tTwoSided: { t: number; df: number; p: number }[];
    tQuantile: { p: number; df: number; t: number }[];
    chiSquareSf: { x: number; k: number; p: number }[];
  };
  proportions: ProportionCase[];
  degenerateProportions: ProportionCase[];
  welch: {
    control: GroupSummary;
    treatment: GroupSummary;
    alpha: number;
    t: number;
    df: number;
    pValue: number;
    differenceInterval: [number, number];
  }[];
  welford: { values: number[]; mean: number; variance: number }[];
  srm: { observed: number[]; weights: number[]; chiSquare: number; pValue: number }[];
  sampleSize: (SizeCase & { baselineRate: number })[];
  sampleSizeContinuous: (SizeCase & { variance: number })[];
  msprt: {
    seed: number;
    tau2: number;
    alpha: number;
    peeks: (ProportionCounts & { pValue: number; interval: Pair })[];
  }[];
}
const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/experiments/reference.json', import.meta.url), 'utf8'),
) as Fixture;

/** |actual − expected| ≤ rel·max(|expected|, floor). */
function close(actual: number, expected: number | null, rel = 1e-12, floor = 1e-300): void {
  expect(expected).not.toBeNull();
  const e = expected as number;
  if (!Number.isFinite(e)) return void expect(actual).toBe(e);
  expect(Math.abs(actual - e), `${actual} vs ${e}`).toBeLessThanOrEqual(rel * Math.max(Math.abs(e), floor));
}

function statisticsErrorOf(fn: () => unknown): StatisticsInputError {
  try {
    fn();
  } catch (error) {
    if (error instanceof StatisticsInputError) return error;
    throw error;
  }
  throw new Error('expected a StatisticsInputError');
}

describe('distributions against scipy', () => {
  const d = fixture.distributions;
  it('normal CDF and survival, relative 1e-12 in both tails', () => {
    for (const c of d.normal) {
      close(normalCdf(c.x), c.cdf);
      close(normalSf(c.x), c.sf);
    }
  });
  it('normal quantile to 1e-12 (and ±∞ at 0 and 1, NaN outside)', () => {
    for (const c of d.normalQuantile) close(normalQuantile(c.p), c.x);
    expect(normalQuantile(0)).toBe(Number.NEGATIVE_INFINITY);
    expect(normalQuantile(1)).toBe(Number.POSITIVE_INFINITY);
    expect(normalQuantile(1.5)).toBeNaN();
    expect(normalQuantile(Number.NaN)).toBeNaN();
    expect(normalCdf(Number.NaN)).toBeNaN();
  });
  it('Student t two-sided tail and quantile (1e-11; 1e-9 at df ≥ 1e5, where the continued fraction loses digits)', () => {
    for (const c of d.tTwoSided) close(tTwoSided(c.t, c.df), c.p, c.df >= 1e5 ? 1e-9 : 1e-11);
    for (const c of d.tQuantile) close(tQuantile(c.p, c.df), c.t, c.df >= 1e5 ? 1e-9 : 1e-11);
  });
  it('chi-square survival to 1e-12', () => {
    for (const c of d.chiSquareSf) close(chiSquareSf(c.x, c.k), c.p, 1e-12);
  });
});

describe('twoProportionZTest against statsmodels', () => {
  it('pooled z and p (proportions_ztest), Wald difference interval, log-ratio lift interval', () => {
    for (const c of fixture.proportions) {
      const r = twoProportionZTest(c, c.alpha);
      close(r.z, c.z, 1e-10);
      close(r.pValue, c.pValue, 1e-9, 1e-300);
      close(r.difference, c.difference, 1e-12, 1e-12);
      close(r.differenceInterval[0], c.differenceInterval[0], 1e-10, 1e-10);
      close(r.differenceInterval[1], c.differenceInterval[1], 1e-10, 1e-10);
      if (c.relativeLift === null) expect(r.relativeLift).toBeNull();
      else close(r.relativeLift as number, c.relativeLift, 1e-12, 1e-12);
      if (c.relativeLiftInterval === null) expect(r.relativeLiftInterval).toBeNull();
      else {
        close(r.relativeLiftInterval?.[0] as number, c.relativeLiftInterval[0], 1e-10, 1e-10);
        close(r.relativeLiftInterval?.[1] as number, c.relativeLiftInterval[1], 1e-10, 1e-10);
      }
    }
  });
  it('no variance at all (all zero or all successes in both arms): z 0 and p 1 where statsmodels gives NaN', () => {
    for (const c of fixture.degenerateProportions) {
      expect(c.pValue).toBeNull();
      const r = twoProportionZTest(c);
      expect(r.z).toBe(0);
      expect(r.pValue).toBe(1);
      expect(r.differenceInterval).toEqual(c.differenceInterval);
    }
  });
  it('bad counts are typed errors naming the field', () => {
    const ok = { controlSuccesses: 1, controlTotal: 10, treatmentSuccesses: 2, treatmentTotal: 10 };
    expect(statisticsErrorOf(() => twoProportionZTest({ ...ok, controlSuccesses: 11 })).field).toBe(
      'controlSuccesses',
    );
    expect(statisticsErrorOf(() => twoProportionZTest({ ...ok, treatmentTotal: 0 })).field).toBe(
      'treatmentTotal',
    );
    expect(statisticsErrorOf(() => twoProportionZTest({ ...ok, treatmentSuccesses: Number.NaN })).field).toBe(
      'treatmentSuccesses',
    );
    expect(statisticsErrorOf(() => twoProportionZTest({ ...ok, controlTotal: 2.5 })).field).toBe(
      'controlTotal',
    );
    expect(statisticsErrorOf(() => twoProportionZTest(ok, 1)).field).toBe('alpha');
    expect(statisticsErrorOf(() => twoProportionZTest(ok, 1)).name).toBe('StatisticsInputError');
  });
});

describe('Welch t-test against scipy ttest_ind_from_stats', () => {
  it('t, df, p and the t interval of the difference', () => {
    for (const c of fixture.welch) {
      const r = welchTTest(c.control, c.treatment, c.alpha);
      close(r.t, c.t, 1e-12);
      close(r.df, c.df, 1e-12);
      close(r.pValue, c.pValue, r.df >= 1e5 ? 1e-9 : 1e-10);
      close(r.differenceInterval[0], c.differenceInterval[0], 1e-10, 1e-6);
      close(r.differenceInterval[1], c.differenceInterval[1], 1e-10, 1e-6);
    }
  });
  it('zero variance in both groups, fewer than two observations, NaN means: typed errors', () => {
    const g = { n: 10, mean: 1, variance: 0 };
    expect(statisticsErrorOf(() => welchTTest(g, { ...g, mean: 2 })).field).toBe('variance');
    expect(statisticsErrorOf(() => welchTTest({ ...g, n: 1 }, g)).field).toBe('control.n');
    expect(statisticsErrorOf(() => welchTTest(g, { ...g, mean: Number.NaN })).field).toBe('treatment.mean');
    expect(statisticsErrorOf(() => welchTTest(g, { ...g, variance: -1 })).field).toBe('treatment.variance');
  });
});

describe('MeanVarianceAccumulator (Welford) against numpy', () => {
  it('mean and ddof=1 variance, also at an offset of 1e9 and for constant data', () => {
    for (const c of fixture.welford) {
      const acc = new MeanVarianceAccumulator();
      acc.pushMany(Float64Array.from(c.values));
      close(acc.mean, c.mean, 1e-13, 1e-13);
      close(acc.variance, c.variance, 1e-9, 1e-12);
      const half = Math.floor(c.values.length / 2);
      const a = new MeanVarianceAccumulator();
      const b = new MeanVarianceAccumulator();
      for (const v of c.values.slice(0, half)) a.push(v);
      b.pushMany(Float64Array.from(c.values.slice(half)));
      a.merge(b);
      close(a.mean, c.mean, 1e-13, 1e-13);
      close(a.variance, c.variance, 1e-9, 1e-12);
    }
  });
  it('groups select the rows of one arm; empty input leaves n 0 and variance NaN; NaN values throw', () => {
    const acc = new MeanVarianceAccumulator();
    acc.pushMany(Float64Array.of(1, 100, 3), Uint8Array.of(0, 1, 0), 0);
    expect(acc.summary()).toEqual({ n: 2, mean: 2, variance: 2 });
    const empty = new MeanVarianceAccumulator();
    empty.pushMany(new Float64Array(0));
    expect(empty.n).toBe(0);
    expect(empty.variance).toBeNaN();
    expect(statisticsErrorOf(() => acc.pushMany(Float64Array.of(1, Number.NaN))).field).toBe('values[1]');
    expect(statisticsErrorOf(() => acc.pushMany(Float64Array.of(1), Uint8Array.of(0, 1))).field).toBe(
      'groups',
    );
  });
});

describe('sampleRatioMismatch against scipy chisquare', () => {
  it('statistic and p; mismatch when p < 0.001', () => {
    for (const c of fixture.srm) {
      const r = sampleRatioMismatch(c.observed, c.weights);
      close(r.chiSquare, c.chiSquare, 1e-10, 1e-12);
      close(r.pValue, c.pValue, 1e-10, 1e-300);
      expect(r.mismatch).toBe(c.pValue < 0.001);
    }
    expect(sampleRatioMismatch([5000, 5400], [50, 50]).mismatch).toBe(true);
    expect(sampleRatioMismatch([5000, 5100], [50, 50]).mismatch).toBe(false);
    expect(sampleRatioMismatch([5000, 5100], [50, 50], 0.5).mismatch).toBe(true);
  });
  it('wrong shape, zero or negative weights, all-zero counts: typed errors', () => {
    expect(statisticsErrorOf(() => sampleRatioMismatch([1, 2], [1])).field).toBe('expectedWeights');
    expect(statisticsErrorOf(() => sampleRatioMismatch([1], [1])).field).toBe('observed');
    expect(statisticsErrorOf(() => sampleRatioMismatch([1, 2], [1, 0])).field).toBe('expectedWeights[1]');
    expect(statisticsErrorOf(() => sampleRatioMismatch([0, 0], [1, 1])).field).toBe('observed');
    expect(statisticsErrorOf(() => sampleRatioMismatch([-1, 3], [1, 1])).field).toBe('observed[0]');
  });
});

describe('requiredSampleSize against statsmodels NormalIndPower.solve_power', () => {
  it("proportions (Cohen's h) and continuous metrics (Cohen's d), unequal allocation", () => {
    for (const c of fixture.sampleSize) {
      const r = requiredSampleSize(c);
      close(r.effectSize, c.effectSize, 1e-12);
      close(r.controlExact, c.controlExact, 1e-6);
      expect(r.control).toBe(Math.ceil(c.controlExact - 1e-6));
      expect(r.total).toBe(r.control + r.treatment);
    }
    for (const c of fixture.sampleSizeContinuous) {
      const r = requiredSampleSizeContinuous(c);
      close(r.controlExact, c.controlExact, 1e-6);
    }
  });
  it('baseline outside (0, 1), effect leaving (0, 1), zero effect, relative MDE without baseline mean: typed errors', () => {
    const base = { alpha: 0.05, power: 0.8, allocation: { control: 50, treatment: 50 } };
    const mde = { absolute: 0.01 };
    expect(
      statisticsErrorOf(() => requiredSampleSize({ ...base, baselineRate: 0, minimumDetectableEffect: mde }))
        .field,
    ).toBe('baselineRate');
    expect(
      statisticsErrorOf(() =>
        requiredSampleSize({ ...base, baselineRate: 0.995, minimumDetectableEffect: mde }),
      ).field,
    ).toBe('minimumDetectableEffect');
    expect(
      statisticsErrorOf(() =>
        requiredSampleSize({ ...base, baselineRate: 0.1, minimumDetectableEffect: { relative: 0 } }),
      ).field,
    ).toBe('minimumDetectableEffect');
    expect(
      statisticsErrorOf(() =>
        requiredSampleSizeContinuous({ ...base, variance: 1, minimumDetectableEffect: { relative: 0.1 } }),
      ).field,
    ).toBe('baselineMean');
    expect(
      statisticsErrorOf(() =>
        requiredSampleSize({ ...base, power: 1, baselineRate: 0.1, minimumDetectableEffect: mde }),
      ).field,
    ).toBe('power');
  });
});

describe('SequentialTest (mSPRT) against an independent Python implementation', () => {
  it('always-valid p and confidence sequence at every peek', () => {
    for (const c of fixture.msprt) {
      const test = new SequentialTest({ alpha: c.alpha, tau2: c.tau2 });
      for (const peek of c.peeks) {
        const r = test.updateProportions(peek);
        close(r.pValue, peek.pValue, 1e-10, 1e-300);
        if (peek.interval[0] === null) expect(r.interval[0]).toBe(Number.NEGATIVE_INFINITY);
        else close(r.interval[0], peek.interval[0], 1e-10, 1e-12);
        if (peek.interval[1] === null) expect(r.interval[1]).toBe(Number.POSITIVE_INFINITY);
        else close(r.interval[1], peek.interval[1], 1e-10, 1e-12);
      }
    }
  });
  it('τ² from the MDE; no τ², zero τ², bad counts: typed errors; zero variance is skipped', () => {
    expect(new SequentialTest({ minimumDetectableEffect: 0.02 }).tau2).toBeCloseTo(4e-4, 15);
    expect(statisticsErrorOf(() => new SequentialTest({})).field).toBe('tau2');
    expect(statisticsErrorOf(() => new SequentialTest({ tau2: 0 })).field).toBe('tau2');
    const t = new SequentialTest({ tau2: 1e-4 });
    expect(
      t.updateProportions({
        controlSuccesses: 0,
        controlTotal: 500,
        treatmentSuccesses: 0,
        treatmentTotal: 500,
      }).pValue,
    ).toBe(1);
    expect(t.result().peeks).toBe(0);
    expect(
      statisticsErrorOf(() =>
        t.updateProportions({
          controlSuccesses: 9,
          controlTotal: 5,
          treatmentSuccesses: 0,
          treatmentTotal: 5,
        }),
      ).field,
    ).toBe('controlSuccesses');
    expect(statisticsErrorOf(() => t.update(Number.NaN, 1)).field).toBe('estimate');
  });
});

describe('verdict', () => {
  const srmOk = { chiSquare: 0.1, pValue: 0.75, mismatch: false, threshold: 0.001 };
  const base = {
    alpha: 0.05,
    srm: srmOk,
    primary: {
      name: 'conversion',
      pValue: 0.001,
      interval: [0.002, 0.01] as [number, number],
      desired: 'increase' as const,
    },
    unitsPerArm: [20_000, 20_000],
    minimumSamplePerArm: 10_000,
    elapsedDays: 5,
    maxDurationDays: 14,
  };
  it('ship, don’t ship, keep running, invalid — each rule', () => {
    expect(verdict(base).decision).toBe('ship');
    expect(verdict({ ...base, srm: { ...srmOk, pValue: 1e-6, mismatch: true } }).decision).toBe('invalid');
    expect(verdict({ ...base, primary: { ...base.primary, interval: [-0.01, -0.002] } }).decision).toBe(
      "don't ship",
    );
    expect(verdict({ ...base, unitsPerArm: [20_000, 900] }).decision).toBe('keep running');
    expect(
      verdict({ ...base, primary: { ...base.primary, pValue: 0.3, interval: [-0.01, 0.02] } }).decision,
    ).toBe('keep running');
    expect(
      verdict({
        ...base,
        elapsedDays: 14,
        primary: { ...base.primary, pValue: 0.3, interval: [-0.01, 0.02] },
      }).decision,
    ).toBe("don't ship");
    const harmed = {
      name: 'p99',
      pValue: 0.01,
      interval: [5, 9] as [number, number],
      harmful: 'increase' as const,
    };
    const v = verdict({ ...base, guardrails: [harmed] });
    expect(v).toEqual({ decision: "don't ship", reason: expect.stringContaining('p99') });
    expect(verdict({ ...base, guardrails: [{ ...harmed, tolerance: 10 }] }).decision).toBe('ship');
  });
});

describe('summarizeOutcomes', () => {
  it('one pass gives each arm the counts and the same moments as a per-arm accumulator', () => {
    const n = 10_000;
    const arm = new Uint8Array(n);
    const converted = new Uint8Array(n);
    const value = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      arm[i] = i % 3;
      converted[i] = (i * 7919) % 10 === 0 ? 1 : 0;
      value[i] = 1e6 + Math.sin(i);
    }
    const arms = summarizeOutcomes({ arm, converted, value }, 3);
    for (let a = 0; a < 3; a++) {
      const reference = new MeanVarianceAccumulator();
      reference.pushMany(value, arm, a);
      expect(arms[a]?.total).toBe(reference.n);
      expect(arms[a]?.successes).toBe(converted.filter((c, i) => c === 1 && arm[i] === a).length);
      close(arms[a]?.value.mean as number, reference.mean, 1e-15);
      close(arms[a]?.value.variance as number, reference.variance, 1e-12);
    }
  });
  it('mismatched column lengths and arms out of range: typed errors', () => {
    const cols = { arm: Uint8Array.of(0, 1), converted: Uint8Array.of(0, 1), value: Float64Array.of(1, 2) };
    expect(statisticsErrorOf(() => summarizeOutcomes({ ...cols, value: Float64Array.of(1) }, 2)).field).toBe(
      'value',
    );
    expect(statisticsErrorOf(() => summarizeOutcomes(cols, 1)).field).toBe('arm[1]');
    expect(
      statisticsErrorOf(() => summarizeOutcomes({ ...cols, value: Float64Array.of(1, Number.NaN) }, 2)).field,
    ).toBe('value[1]');
  });
});
