import { describe, expect, it } from 'vitest';
import { type AnalysisInput, analyzeCanary } from '../../lambdas/deployment/analysis.js';
import { deploymentSchema } from '../../lambdas/deployment/contract.js';
import { populationStabilityIndex } from '../../lambdas/drift/psi.js';
import { prng } from '../support/random.js';

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

  it('judges the p95 instead of the p99 until both versions have 500 requests', () => {
    const few = { requests: 200, serverErrors: 0, p95: 40, p99: 80 };
    // A p99 from 200 requests is their two largest values: reported, not judged.
    expect(run({ canary: { ...few, p99: 400 }, stable: few }).verdict).toBe('pass');
    expect(run({ canary: { ...few, p95: 60 }, stable: few }).verdict).toBe('rollback');
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

  it('rolls back when the positive-outcome rate drops more than 2 % of the stable one, significantly', () => {
    const business = (positives: number, total: number) => ({
      canary: { positives, total },
      stable: { positives: total / 2, total },
    });
    expect(run({ business: business(48_500, 100_000) }).verdict).toBe('rollback');
    expect(run({ business: business(49_500, 100_000) }).verdict).toBe('pass');
    // The same 3 % drop on 1,000 outcomes each is within chance (p ≈ 0.25): not a regression.
    expect(run({ business: business(485, 1000) }).verdict).toBe('pass');
  });

  it('rolls back at once a canary that answers nothing while the stable version answers plenty', () => {
    const result = run({ canary: { requests: 0, serverErrors: 0 }, weight: 10, attempt: 1 });
    expect(result.verdict).toBe('rollback');
    expect(result.reason).toMatch(/answered no requests while the stable version answered 1000/);
    // Too little traffic for that to mean anything: wait.
    expect(
      run({ canary: { requests: 0, serverErrors: 0 }, stable: { ...healthy, requests: 50 }, weight: 10 })
        .verdict,
    ).toBe('wait');
  });

  it('rolls back fewer than 5 % of healthy canaries: 2,000 pairs from one distribution at the smallest samples (~125 vs ~950)', () => {
    const rand = prng(2026);
    const binomial = (n: number, p: number) => {
      let k = 0;
      for (let i = 0; i < n; i++) if (rand() < p) k++;
      return k;
    };
    const defaults = deploymentSchema.parse({});
    /** Nearest-rank percentiles of n latencies from one long-tailed distribution (as the emulator computes them). */
    const latencies = (n: number) => {
      const values = Array.from({ length: n }, () => 15 + 10 * -Math.log(1 - rand())).sort((a, b) => a - b);
      const at = (q: number) => values[Math.max(0, Math.ceil(q * n) - 1)] as number;
      return { p95: at(0.95), p99: at(0.99) };
    };
    let rollbacks = 0;
    for (let i = 0; i < 2000; i++) {
      const requests = { canary: 100 + Math.floor(rand() * 50), stable: 900 + Math.floor(rand() * 100) };
      const scores = (n: number) => Array.from({ length: n }, () => rand());
      const result = analyzeCanary({
        ...base,
        config: defaults,
        weight: 10,
        canary: {
          requests: requests.canary,
          serverErrors: binomial(requests.canary, 0.002),
          ...latencies(requests.canary),
        },
        stable: {
          requests: requests.stable,
          serverErrors: binomial(requests.stable, 0.002),
          ...latencies(requests.stable),
        },
        predictions: {
          psi: populationStabilityIndex(scores(requests.stable), scores(requests.canary)),
          canarySamples: requests.canary,
          stableSamples: requests.stable,
        },
        business: {
          canary: { positives: binomial(requests.canary, 0.3), total: requests.canary },
          stable: { positives: binomial(requests.stable, 0.3), total: requests.stable },
        },
      });
      if (result.verdict === 'rollback') rollbacks++;
    }
    // Measured 0.044 (p95 0.024, outcomes 0.015, PSI 0.006); point thresholds alone rolled back most of them.
    expect(rollbacks / 2000).toBeLessThan(0.05);
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

  it('refuses settings whose slowest rollout outgrows the workflow: 7 days, 2,000 approval polls', () => {
    const issues = (input: Record<string, unknown>) => deploymentSchema.safeParse(input).error?.issues ?? [];
    expect(issues({ approvalPollSeconds: 10 })[0]?.path).toEqual(['approvalPollSeconds']);
    expect(issues({ approvalPollSeconds: 44 })).toEqual([]);
    expect(issues({ bakeSeconds: 80_000 })[0]?.path).toEqual(['bakeSeconds']);
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
