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
 * Latency: the p99 is judged once both versions have answered P99_MIN_REQUESTS requests (fewer
 * make it their few largest values); until then the p95 is judged by the same rule. The business metric (feedback
 * outcomes' positive rate) is judged only once both versions have `minRequests` outcomes, since
 * feedback is optional and arrives late.
 *
 * Noise: two versions of the same quality differ by chance, and a threshold on point estimates
 * alone rolls back healthy canaries often (at 100 requests each, a +0.5-point error-rate rule, a
 * −2 % outcome rule and a 0.25 PSI rule fired on 18 %, 49 % and 24 % of identical pairs). So a
 * rate rolls back only when it breaks its threshold AND the difference is significant (one-sided
 * two-proportion z-test at {@link ROLLBACK_ALPHA}); PSI only above the larger of its threshold and
 * the 99th percentile PSI reaches by chance at these sample sizes ((1/n + 1/m) · χ²₀.₉₉(9) for 10
 * bins). A canary that answers nothing while the stable version answers plenty (it crashes or
 * times out before it can report) rolls back at once.
 */
import { normalSf } from '../experiments/distributions.js';
import type { CanaryAnalysis, CanaryCheck, DeploymentConfig } from './contract.js';

/** Requests each version needs before its p99 is judged (below, the p95 is). */
export const P99_MIN_REQUESTS = 500;

/** One-sided significance a rate's regression must reach to roll back. */
export const ROLLBACK_ALPHA = 0.01;
/** χ²₀.₉₉ with 9 degrees of freedom: PSI's chance spread on 10 bins is (1/n + 1/m) times this. */
const CHI_SQUARE_99_9DF = 21.666;

/** One-sided p-value that proportion a (x/n) exceeds proportion b (y/m) (unpooled z). */
export function increasePValue(x: number, n: number, y: number, m: number): number {
  if (n === 0) return 1;
  const a = x / n;
  const b = m === 0 ? 0 : y / m;
  const variance = (a * (1 - a)) / n + (m === 0 ? 0 : (b * (1 - b)) / m);
  if (variance === 0) return a > b ? 0 : 1;
  return normalSf((a - b) / Math.sqrt(variance));
}

/** The PSI two samples of these sizes from one distribution stay under 99 % of the time (10 bins). */
export function psiNoiseFloor(n: number, m: number): number {
  return (1 / n + 1 / m) * CHI_SQUARE_99_9DF;
}

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
  /** The canary's share of traffic in this step, percent (what its request count should be). */
  readonly weight?: number;
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
  const weight = input.weight;
  if (weight !== undefined && weight > 0 && weight < 100 && canary.requests === 0) {
    const expected = (stable.requests * weight) / (100 - weight);
    if (expected >= 10)
      regressions.push(
        `the canary answered no requests while the stable version answered ${stable.requests} (about ${Math.round(expected)} expected at ${weight} %): it fails before it can report (crash, timeout)`,
      );
  }

  // Error rate: judged on what there is (a canary failing its first requests needs no more data).
  if (canary.requests > 0) {
    const canaryRate = canary.serverErrors / canary.requests;
    const stableRate = stable.requests > 0 ? stable.serverErrors / stable.requests : 0;
    const limit = thresholds.errorRateIncreasePoints / 100;
    const broken =
      canaryRate - stableRate > limit &&
      increasePValue(canary.serverErrors, canary.requests, stable.serverErrors, stable.requests) <
        ROLLBACK_ALPHA;
    // Few requests: only a clear breach counts before the sample guard is met.
    const judged = enough || (broken && canary.serverErrors >= Math.min(minRequests, 10));
    const detail = `5xx rate canary ${pct(canaryRate)} vs stable ${pct(stableRate)} (rollback above +${thresholds.errorRateIncreasePoints} points, if significant)`;
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

  // The p99 of fewer than P99_MIN_REQUESTS requests is their few largest values: until both versions
  // have that many, the same rule judges the p95 instead, and the p99 is reported only.
  const p99Judged = canary.requests >= P99_MIN_REQUESTS && stable.requests >= P99_MIN_REQUESTS;
  const latencyRule = (
    name: 'p99Latency' | 'p95Latency',
    c: number | undefined,
    st: number | undefined,
    judged: boolean,
  ) => {
    const label = name === 'p99Latency' ? 'p99' : 'p95';
    if (c === undefined || st === undefined) {
      if (judged && enough) missing.push(`${label} latency: canary ${ms(c)}, stable ${ms(st)}`);
      checks.push({ name, passed: !judged, detail: `${label} canary ${ms(c)} vs stable ${ms(st)}` });
      return;
    }
    const broken =
      c > st * (1 + thresholds.p99IncreasePercent / 100) && c - st >= thresholds.latencyNoiseFloorMs;
    const detail = `${label} canary ${ms(c)} vs stable ${ms(st)} (${judged ? `rollback above +${thresholds.p99IncreasePercent} % and +${thresholds.latencyNoiseFloorMs} ms` : `reported; judged from ${P99_MIN_REQUESTS} requests each`})`;
    if (judged && enough && broken) regressions.push(detail);
    checks.push({
      name,
      passed: !(judged && enough && broken),
      canary: c,
      stable: st,
      limit: thresholds.p99IncreasePercent,
      detail,
    });
  };
  latencyRule('p99Latency', canary.p99, stable.p99, p99Judged);
  latencyRule('p95Latency', canary.p95, stable.p95, !p99Judged);

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
    const limit = Math.max(thresholds.predictionPsi, psiNoiseFloor(shift.canarySamples, shift.stableSamples));
    const detail = `PSI of the canary's predictions against the stable's ${shift.psi.toFixed(3)} (rollback above ${limit.toFixed(3)}: ${thresholds.predictionPsi}, or chance at ${shift.canarySamples} and ${shift.stableSamples} samples)`;
    if (shift.psi > limit) regressions.push(detail);
    checks.push({
      name: 'predictionPsi',
      passed: shift.psi <= limit,
      canary: shift.psi,
      limit,
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
    const broken =
      s > 0 &&
      (s - c) / s > thresholds.businessMetricDropPercent / 100 &&
      increasePValue(
        outcomes.stable.positives,
        outcomes.stable.total,
        outcomes.canary.positives,
        outcomes.canary.total,
      ) < ROLLBACK_ALPHA;
    const detail = `positive outcomes canary ${pct(c)} vs stable ${pct(s)} (rollback below −${thresholds.businessMetricDropPercent} % of stable, if significant)`;
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
