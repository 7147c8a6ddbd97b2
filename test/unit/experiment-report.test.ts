import { describe, expect, it } from 'vitest';
import type { Experiment, VariantCounters } from '../../lambdas/experiments/experiment-store.js';
import { experimentReport } from '../../lambdas/experiments/report.js';
import { requiredSampleSize, twoProportionZTest } from '../../lambdas/experiments/statistics.js';

const sample = requiredSampleSize({
  alpha: 0.05,
  power: 0.8,
  baselineRate: 0.1,
  allocation: { control: 50, treatment: 50 },
  minimumDetectableEffect: { absolute: 0.02 },
});

const experiment = (extra: Partial<Experiment> = {}): Experiment => ({
  id: 'churn-ab-1',
  model: 'churn',
  control: 1,
  treatment: 2,
  allocation: 50,
  unitKey: 'userId',
  primaryMetric: 'conversion',
  guardrails: [],
  minimumDetectableEffect: 0.02,
  baselineRate: 0.1,
  alpha: 0.05,
  power: 0.8,
  maxDurationDays: 14,
  requiredSample: { control: sample.control, treatment: sample.treatment, total: sample.total },
  status: 'running',
  createdAt: '2026-12-01T00:00:00.000Z',
  createdBy: 'alice',
  ...extra,
});

const NOW = new Date('2026-12-03T00:00:00.000Z'); // two days in

const arm = (
  variant: 'control' | 'treatment',
  outcomes: number,
  positives: number,
  extra: Partial<VariantCounters> = {},
): VariantCounters => ({
  variant,
  assignments: 0,
  outcomes,
  positives,
  values: 0,
  sum: 0,
  sumSq: 0,
  ...extra,
});

describe('experimentReport', () => {
  it('ships on a clear lift once both arms have the required sample', () => {
    const report = experimentReport(
      experiment(),
      [arm('control', 10_000, 1000), arm('treatment', 10_000, 1300)],
      NOW,
    );
    expect(report.verdict.decision).toBe('ship');
    expect(report.srm.mismatch).toBe(false);
    expect(report.sequential.pValue).toBeLessThan(0.001);
    expect(report.sequential.interval[0]).toBeGreaterThan(0);
    // The fixed-horizon test is the statistics module's, on the same counts.
    expect(report.conversion).toEqual(
      twoProportionZTest({
        controlSuccesses: 1000,
        controlTotal: 10_000,
        treatmentSuccesses: 1300,
        treatmentTotal: 10_000,
      }),
    );
    expect(report.conversion?.relativeLift).toBeCloseTo(0.3, 12);
    expect(report.progress.sampleFraction).toBeCloseTo(10_000 / sample.control, 12);
    expect(report.progress.elapsedDays).toBeCloseTo(2, 12);
  });

  it('a sample-ratio mismatch blocks the verdict, however clear the lift', () => {
    const report = experimentReport(
      experiment(),
      [
        arm('control', 10_000, 1000, { assignments: 52_000 }),
        arm('treatment', 10_000, 1300, { assignments: 48_000 }),
      ],
      NOW,
    );
    expect(report.srmUnits).toBe('assignments');
    expect(report.srm.mismatch).toBe(true);
    expect(report.verdict.decision).toBe('invalid');
    // The same split on the configured 52/48 allocation is fine.
    const matched = experimentReport(
      experiment({ allocation: 48 }),
      [
        arm('control', 10_000, 1000, { assignments: 52_000 }),
        arm('treatment', 10_000, 1300, { assignments: 48_000 }),
      ],
      NOW,
    );
    expect(matched.srm.mismatch).toBe(false);
  });

  it('keeps running below the required sample, even when the difference looks significant', () => {
    const report = experimentReport(
      experiment(),
      [arm('control', 1500, 150), arm('treatment', 1500, 240)],
      NOW,
    );
    expect(report.sequential.pValue).toBeLessThan(0.05);
    expect(report.verdict.decision).toBe('keep running');
    expect(report.verdict.reason).toMatch(/minimum/);
    expect(report.progress.sampleFraction).toBeLessThan(1);
  });

  it("don't ship when the treatment is worse, or nothing shows by the maximum duration", () => {
    const worse = experimentReport(
      experiment(),
      [arm('control', 10_000, 1300), arm('treatment', 10_000, 1000)],
      NOW,
    );
    expect(worse.verdict.decision).toBe("don't ship");
    const flat = [arm('control', 10_000, 1000), arm('treatment', 10_000, 1010)];
    expect(experimentReport(experiment(), flat, NOW).verdict.decision).toBe('keep running');
    expect(experimentReport(experiment(), flat, new Date('2026-12-20T00:00:00Z')).verdict.decision).toBe(
      "don't ship",
    );
  });

  it('reads the continuous value with Welch and trips a harmed value guardrail', () => {
    // Control values mean 10 (sd ~ 2), treatment mean 9 on 10,000 each.
    const moments = (n: number, mean: number, sd: number) => ({
      values: n,
      sum: n * mean,
      sumSq: (n - 1) * sd * sd + n * mean * mean,
    });
    const counters = [
      arm('control', 10_000, 1000, moments(10_000, 10, 2)),
      arm('treatment', 10_000, 1300, moments(10_000, 9, 2)),
    ];
    const report = experimentReport(
      experiment({ guardrails: [{ metric: 'value', harmful: 'decrease' }] }),
      counters,
      NOW,
    );
    expect(report.value?.difference).toBeCloseTo(-1, 9);
    expect(report.arms[0].value?.variance).toBeCloseTo(4, 6);
    expect(report.value?.pValue).toBeLessThan(1e-10);
    expect(report.guardrails[0]).toMatchObject({ metric: 'value', harmful: 'decrease' });
    expect(report.guardrails[0]?.pValue).toBeLessThan(0.05);
    expect(report.verdict).toMatchObject({ decision: "don't ship" });
    expect(report.verdict.reason).toMatch(/guardrail value/);
    // Without the guardrail the conversion lift ships.
    expect(experimentReport(experiment(), counters, NOW).verdict.decision).toBe('ship');
  });

  it('reports an experiment without outcomes as keep running', () => {
    const report = experimentReport(experiment(), [arm('control', 0, 0), arm('treatment', 0, 0)], NOW);
    expect(report.conversion).toBeNull();
    expect(report.value).toBeNull();
    expect(report.verdict.decision).toBe('keep running');
  });
});
