/**
 * The canary analysis: the canary Lambda version against the stable one over the same window, from
 * what the Analyze step read (CloudWatch metric data per version, capture, alarm states). Plain code:
 * the step function, the CLI and the tests call it.
 *
 * Order of judgement:
 * 1. a rollback asked for (`mlops deploy rollback`) or a watched alarm in ALARM: roll back at once;
 * 2. any threshold broken by the data there is: roll back (error rate, p99 latency, prediction PSI,
 *    business metric) — a clear regression needs no more data;
 * 3. too little data (either version under `minRequests` requests, or latency percentiles or, with
 *    capture on, predictions missing): wait for another bake; after `maxInsufficientChecks` further
 *    bakes, roll back as "insufficient data". Too little data is never a pass;
 * 4. otherwise pass.
 * The p95 latency is reported beside the p99 but not judged; the business metric (feedback
 * outcomes' positive rate) is judged only once both versions have `minRequests` outcomes, since
 * feedback is optional and arrives late.
 */
import type { CanaryAnalysis, CanaryCheck, DeploymentConfig } from './contract.js';

/** One version's figures over the window. */
export interface VersionWindow {
  /** Predict requests answered (PredictRequests, Sum). */
  readonly requests: number;
  /** Requests answered with a 5xx (PredictServerErrors, Sum). */
  readonly serverErrors: number;
  /** PredictLatency percentiles in ms; undefined when the window has none. */
  readonly p95?: number;
  readonly p99?: number;
}

/** Prediction scores captured from each version in the window, and their PSI. */
export interface PredictionShift {
  readonly psi?: number;
  readonly canarySamples: number;
  readonly stableSamples: number;
}

/** Feedback outcomes per version in the window: positives of all outcomes. */
export interface BusinessOutcomes {
  readonly canary: { readonly positives: number; readonly total: number };
  readonly stable: { readonly positives: number; readonly total: number };
}

export interface AnalysisInput {
  readonly canary: VersionWindow;
  readonly stable: VersionWindow;
  /** Undefined when capture is off (nothing to compare): the check is recorded as not judged. */
  readonly predictions?: PredictionShift;
  readonly business?: BusinessOutcomes;
  /** Watched alarms now in ALARM. */
  readonly alarmsInAlarm: readonly string[];
  readonly rollbackRequested?: { readonly by: string; readonly reason: string };
  /** This step's analyses so far, this one included (1 the first time). */
  readonly attempt: number;
  readonly config: Pick<DeploymentConfig, 'thresholds' | 'minRequests' | 'maxInsufficientChecks'>;
  readonly from: string;
  readonly to: string;
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
const ms = (x: number | undefined) => (x === undefined ? 'none' : `${x.toFixed(1)} ms`);

/** The verdict on one step of a canary (see the file header for the order of judgement). */
export function analyzeCanary(input: AnalysisInput): CanaryAnalysis {
  const { canary, stable, config } = input;
  const { thresholds, minRequests } = config;
  const window = { from: input.from, to: input.to, attempt: input.attempt };
  const checks: CanaryCheck[] = [];

  if (input.rollbackRequested !== undefined) {
    const detail = `rollback asked for by ${input.rollbackRequested.by}: ${input.rollbackRequested.reason}`;
    checks.push({ name: 'manual', passed: false, detail });
    return { verdict: 'rollback', reason: detail, checks, ...window };
  }
  const alarms: CanaryCheck = {
    name: 'alarms',
    passed: input.alarmsInAlarm.length === 0,
    detail:
      input.alarmsInAlarm.length === 0
        ? 'no watched alarm in ALARM'
        : `in ALARM: ${input.alarmsInAlarm.join(', ')}`,
  };
  checks.push(alarms);
  if (!alarms.passed) return { verdict: 'rollback', reason: alarms.detail, checks, ...window };

  const missing: string[] = [];
  const regressions: string[] = [];
  const enough = canary.requests >= minRequests && stable.requests >= minRequests;
  checks.push({
    name: 'requests',
    passed: enough,
    canary: canary.requests,
    stable: stable.requests,
    limit: minRequests,
    detail: `canary ${canary.requests}, stable ${stable.requests} requests (at least ${minRequests} each)`,
  });
  if (!enough)
    missing.push(`requests: canary ${canary.requests}, stable ${stable.requests} of ${minRequests} each`);

  // Error rate: judged on what there is (a canary failing its first requests needs no more data).
  if (canary.requests > 0) {
    const canaryRate = canary.serverErrors / canary.requests;
    const stableRate = stable.requests > 0 ? stable.serverErrors / stable.requests : 0;
    const limit = thresholds.errorRateIncreasePoints / 100;
    const broken = canaryRate - stableRate > limit;
    // Few requests: only a clear breach counts before the sample guard is met.
    const judged = enough || (broken && canary.serverErrors >= Math.min(minRequests, 10));
    const detail = `5xx rate canary ${pct(canaryRate)} vs stable ${pct(stableRate)} (rollback above +${thresholds.errorRateIncreasePoints} points)`;
    if (judged && broken) regressions.push(detail);
    checks.push({
      name: 'errorRate',
      passed: !(judged && broken),
      canary: canaryRate,
      stable: stableRate,
      limit: thresholds.errorRateIncreasePoints,
      detail,
    });
  }

  if (canary.p99 !== undefined && stable.p99 !== undefined) {
    const increase = canary.p99 - stable.p99;
    const broken =
      canary.p99 > stable.p99 * (1 + thresholds.p99IncreasePercent / 100) &&
      increase >= thresholds.latencyNoiseFloorMs;
    const detail = `p99 canary ${ms(canary.p99)} vs stable ${ms(stable.p99)} (rollback above +${thresholds.p99IncreasePercent} % and +${thresholds.latencyNoiseFloorMs} ms)`;
    if (enough && broken) regressions.push(detail);
    checks.push({
      name: 'p99Latency',
      passed: !(enough && broken),
      canary: canary.p99,
      stable: stable.p99,
      limit: thresholds.p99IncreasePercent,
      detail,
    });
  } else if (enough) missing.push(`p99 latency: canary ${ms(canary.p99)}, stable ${ms(stable.p99)}`);
  checks.push({
    name: 'p95Latency',
    passed: true,
    ...(canary.p95 === undefined ? {} : { canary: canary.p95 }),
    ...(stable.p95 === undefined ? {} : { stable: stable.p95 }),
    detail: `p95 canary ${ms(canary.p95)} vs stable ${ms(stable.p95)} (reported, not judged)`,
  });

  const shift = input.predictions;
  if (shift === undefined) {
    checks.push({ name: 'predictionPsi', passed: true, detail: 'not judged: capture is off' });
  } else if (
    shift.psi === undefined ||
    shift.canarySamples < minRequests ||
    shift.stableSamples < minRequests
  ) {
    checks.push({
      name: 'predictionPsi',
      passed: false,
      detail: `captured predictions: canary ${shift.canarySamples}, stable ${shift.stableSamples} of ${minRequests} each`,
    });
    missing.push(
      `captured predictions: canary ${shift.canarySamples}, stable ${shift.stableSamples} of ${minRequests} each`,
    );
  } else {
    const detail = `PSI of the canary's predictions against the stable's ${shift.psi.toFixed(3)} (rollback above ${thresholds.predictionPsi})`;
    if (shift.psi > thresholds.predictionPsi) regressions.push(detail);
    checks.push({
      name: 'predictionPsi',
      passed: shift.psi <= thresholds.predictionPsi,
      canary: shift.psi,
      limit: thresholds.predictionPsi,
      detail,
    });
  }

  const outcomes = input.business;
  if (
    outcomes !== undefined &&
    outcomes.canary.total >= minRequests &&
    outcomes.stable.total >= minRequests
  ) {
    const c = outcomes.canary.positives / outcomes.canary.total;
    const s = outcomes.stable.positives / outcomes.stable.total;
    const broken = s > 0 && (s - c) / s > thresholds.businessMetricDropPercent / 100;
    const detail = `positive outcomes canary ${pct(c)} vs stable ${pct(s)} (rollback below −${thresholds.businessMetricDropPercent} % of stable)`;
    if (broken) regressions.push(detail);
    checks.push({
      name: 'businessMetric',
      passed: !broken,
      canary: c,
      stable: s,
      limit: thresholds.businessMetricDropPercent,
      detail,
    });
  } else {
    checks.push({
      name: 'businessMetric',
      passed: true,
      detail: `not judged: feedback outcomes canary ${outcomes?.canary.total ?? 0}, stable ${outcomes?.stable.total ?? 0} of ${minRequests} each`,
    });
  }

  if (regressions.length > 0)
    return { verdict: 'rollback', reason: regressions.join('; '), checks, ...window };
  if (missing.length > 0) {
    const waits = input.attempt - 1;
    if (waits >= config.maxInsufficientChecks)
      return {
        verdict: 'rollback',
        reason: `insufficient data after ${input.attempt} analyses: ${missing.join('; ')}`,
        checks,
        ...window,
      };
    return { verdict: 'wait', reason: `waiting for data: ${missing.join('; ')}`, checks, ...window };
  }
  return { verdict: 'pass', reason: 'all checks passed', checks, ...window };
}
