import { describe, expect, it } from 'vitest';
import { type AnalysisInput, analyzeCanary } from '../../lambdas/deployment/analysis.js';
import { deploymentSchema } from '../../lambdas/deployment/contract.js';

const config = deploymentSchema.parse({ minRequests: 100, maxInsufficientChecks: 2 });
const healthy = { requests: 1000, serverErrors: 1, p95: 40, p99: 80 };
const base: AnalysisInput = {
  canary: healthy,
  stable: healthy,
  predictions: { psi: 0.01, canarySamples: 500, stableSamples: 500 },
  alarmsInAlarm: [],
  attempt: 1,
  config,
  from: '2026-12-03T10:00:00.000Z',
  to: '2026-12-03T10:05:00.000Z',
};
const run = (patch: Partial<AnalysisInput>) => analyzeCanary({ ...base, ...patch });

describe('analyzeCanary', () => {
  it('passes a canary like the stable version, recording every check', () => {
    const result = run({});
    expect(result.verdict).toBe('pass');
    expect(result.checks.map((c) => c.name)).toEqual([
      'alarms',
      'requests',
      'errorRate',
      'p99Latency',
      'p95Latency',
      'predictionPsi',
      'businessMetric',
    ]);
    expect(result).toMatchObject({ attempt: 1, from: base.from, to: base.to });
  });

  it('rolls back when the 5xx rate rises by more than 0.5 points, not at 0.4', () => {
    expect(run({ canary: { ...healthy, serverErrors: 1 + 7 } }).verdict).toBe('rollback');
    expect(run({ canary: { ...healthy, serverErrors: 1 + 4 } }).verdict).toBe('pass');
    expect(run({ canary: { ...healthy, serverErrors: 8 } }).reason).toMatch(/5xx rate canary 0\.80 %/);
  });

  it('rolls back a canary failing its first requests before the sample guard is met', () => {
    const result = run({ canary: { requests: 20, serverErrors: 20 } });
    expect(result.verdict).toBe('rollback');
  });

  it('rolls back when p99 rises more than 20 % and the noise floor, not for a millisecond', () => {
    expect(run({ canary: { ...healthy, p99: 97 } }).verdict).toBe('rollback');
    expect(run({ canary: { ...healthy, p99: 95 } }).verdict).toBe('pass');
    const tiny = { ...healthy, p99: 1 };
    expect(run({ stable: tiny, canary: { ...healthy, p99: 1.5 } }).verdict).toBe('pass');
  });

  it('rolls back when the prediction PSI is above the threshold', () => {
    const result = run({ predictions: { psi: 0.4, canarySamples: 500, stableSamples: 500 } });
    expect(result.verdict).toBe('rollback');
    expect(result.reason).toMatch(/PSI .* 0\.400/);
  });

  it('rolls back at once on a watched alarm or an asked-for rollback', () => {
    expect(run({ alarmsInAlarm: ['serving-errors'] })).toMatchObject({
      verdict: 'rollback',
      reason: 'in ALARM: serving-errors',
    });
    expect(run({ rollbackRequested: { by: 'ana', reason: 'bad feedback' } })).toMatchObject({
      verdict: 'rollback',
      reason: 'rollback asked for by ana: bad feedback',
    });
  });

  it('waits while data is short, then rolls back as insufficient data (never a pass)', () => {
    const few = { requests: 40, serverErrors: 0, p95: 40, p99: 80 };
    expect(run({ canary: few, attempt: 1 }).verdict).toBe('wait');
    // maxInsufficientChecks 2: two further bakes, then the third analysis rolls back.
    expect(run({ canary: few, attempt: 2 }).verdict).toBe('wait');
    const last = run({ canary: few, attempt: 3 });
    expect(last.verdict).toBe('rollback');
    expect(last.reason).toMatch(/^insufficient data after 3 analyses: requests: canary 40/);
    expect(run({ canary: { ...healthy, p99: undefined } }).verdict).toBe('wait');
    expect(run({ predictions: { canarySamples: 10, stableSamples: 500 } }).verdict).toBe('wait');
  });

  it('does not judge predictions when capture is off, nor the business metric without feedback', () => {
    const result = run({ predictions: undefined });
    expect(result.verdict).toBe('pass');
    expect(result.checks.find((c) => c.name === 'predictionPsi')?.detail).toBe('not judged: capture is off');
  });

  it('rolls back when the positive-outcome rate drops more than 2 % of the stable one', () => {
    const business = (positives: number) => ({
      canary: { positives, total: 1000 },
      stable: { positives: 500, total: 1000 },
    });
    expect(run({ business: business(485) }).verdict).toBe('rollback');
    expect(run({ business: business(495) }).verdict).toBe('pass');
  });
});

describe('deploymentSchema', () => {
  it('defaults to 10 → 50 → 100 with the seeds’ thresholds', () => {
    const parsed = deploymentSchema.parse({});
    expect(parsed.steps).toEqual([10, 50, 100]);
    expect(parsed.thresholds).toMatchObject({
      p99IncreasePercent: 20,
      errorRateIncreasePoints: 0.5,
      businessMetricDropPercent: 2,
    });
  });

  it('refuses steps that do not rise or do not end at 100, naming the step', () => {
    const issues = (steps: number[]) => deploymentSchema.safeParse({ steps }).error?.issues ?? [];
    expect(issues([10, 10, 100])[0]).toMatchObject({
      path: ['steps', 1],
      message: 'must be above the step before it',
    });
    expect(issues([10, 50])[0]).toMatchObject({ path: ['steps', 1], message: 'the last step must be 100' });
    expect(issues([0, 100])[0]?.path).toEqual(['steps', 0]);
  });
});
