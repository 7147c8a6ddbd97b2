/**
 * Fixed-horizon statistics for A/B experiments, SDK-free. Each routine reproduces a named
 * statsmodels/scipy function (recorded by test/fixtures/experiments/make_fixtures.py). Convention:
 * differences are treatment − control. Bad input throws StatisticsInputError naming the argument.
 * The always-valid (sequential) test is in sequential.ts; the decision rule in verdict.ts.
 */
import {
  chiSquareSf,
  normalCdf,
  normalPdf,
  normalQuantile,
  normalSf,
  tQuantile,
  tTwoSided,
} from './distributions.js';
import { StatisticsInputError } from './errors.js';

export interface ProportionCounts {
  controlSuccesses: number;
  controlTotal: number;
  treatmentSuccesses: number;
  treatmentTotal: number;
}

export type Interval = [lower: number, upper: number];

export interface ProportionTestResult {
  controlRate: number;
  treatmentRate: number;
  /** Pooled z, as statsmodels `proportions_ztest([xt, xc], [nt, nc])`; 0 when the pooled variance is 0. */
  z: number;
  /** Two-sided p from the pooled z; 1 when the pooled variance is 0 (statsmodels: NaN). */
  pValue: number;
  /** Treatment rate − control rate. */
  difference: number;
  /** Unpooled Wald interval, as `confint_proportions_2indep(method='wald', compare='diff')`. */
  differenceInterval: Interval;
  /** Treatment rate / control rate − 1; null when the control rate is 0. */
  relativeLift: number | null;
  /**
   * Log-ratio (Katz) interval of the rate ratio minus 1, as `confint_proportions_2indep(method='log',
   * compare='ratio')` − 1; null when either arm has zero successes (the log ratio is unbounded).
   */
  relativeLiftInterval: Interval | null;
}

export function checkAlpha(alpha: number, field = 'alpha'): void {
  if (!(alpha > 0 && alpha < 1)) throw new StatisticsInputError(field, 'must be a number in (0, 1)');
}

function checkCount(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 0) throw new StatisticsInputError(field, 'must be an integer ≥ 0');
}

function checkCounts(c: ProportionCounts): void {
  checkCount(c.controlSuccesses, 'controlSuccesses');
  checkCount(c.controlTotal, 'controlTotal');
  checkCount(c.treatmentSuccesses, 'treatmentSuccesses');
  checkCount(c.treatmentTotal, 'treatmentTotal');
  if (c.controlTotal === 0) throw new StatisticsInputError('controlTotal', 'must be > 0');
  if (c.treatmentTotal === 0) throw new StatisticsInputError('treatmentTotal', 'must be > 0');
  if (c.controlSuccesses > c.controlTotal)
    throw new StatisticsInputError('controlSuccesses', 'must be ≤ controlTotal');
  if (c.treatmentSuccesses > c.treatmentTotal)
    throw new StatisticsInputError('treatmentSuccesses', 'must be ≤ treatmentTotal');
}

/** Two-proportion z-test with Wald difference and log-ratio lift intervals at level 1 − alpha. */
export function twoProportionZTest(counts: ProportionCounts, alpha = 0.05): ProportionTestResult {
  checkCounts(counts);
  checkAlpha(alpha);
  const { controlSuccesses: xc, controlTotal: nc, treatmentSuccesses: xt, treatmentTotal: nt } = counts;
  const pc = xc / nc;
  const pt = xt / nt;
  const difference = pt - pc;
  const pooled = (xc + xt) / (nc + nt);
  const pooledVar = pooled * (1 - pooled) * (1 / nt + 1 / nc);
  const z = pooledVar > 0 ? difference / Math.sqrt(pooledVar) : 0;
  const pValue = pooledVar > 0 ? 2 * normalSf(Math.abs(z)) : 1;
  const crit = normalQuantile(1 - alpha / 2);
  const se = Math.sqrt((pt * (1 - pt)) / nt + (pc * (1 - pc)) / nc);
  const differenceInterval: Interval = [difference - crit * se, difference + crit * se];
  const relativeLift = xc > 0 ? pt / pc - 1 : null;
  let relativeLiftInterval: Interval | null = null;
  if (xc > 0 && xt > 0) {
    const logRatio = Math.log(pt / pc);
    const seLog = Math.sqrt(1 / xt - 1 / nt + 1 / xc - 1 / nc);
    relativeLiftInterval = [Math.expm1(logRatio - crit * seLog), Math.expm1(logRatio + crit * seLog)];
  }
  return {
    controlRate: pc,
    treatmentRate: pt,
    z,
    pValue,
    difference,
    differenceInterval,
    relativeLift,
    relativeLiftInterval,
  };
}

/** n, mean and sample variance (ddof = 1) of one group. */
export interface GroupSummary {
  n: number;
  mean: number;
  variance: number;
}

/**
 * Streaming mean and variance (Welford), O(1) memory: 10M outcomes are summarised in one pass over a
 * Float64Array without arrays of objects. `merge` combines two partial accumulators (Chan et al.).
 */
export class MeanVarianceAccumulator {
  n = 0;
  /** The first value seen: the recurrences run on x − shift, so a large common offset costs no digits. */
  private shift = 0;
  /** Mean of x − shift. */
  private shiftedMean = 0;
  /** Sum of squared deviations from the mean. */
  m2 = 0;

  /** An accumulator from raw moments: n values, their shift, the mean of x − shift and the sum of squared deviations. */
  static fromMoments(n: number, shift: number, shiftedMean: number, m2: number): MeanVarianceAccumulator {
    const acc = new MeanVarianceAccumulator();
    acc.n = n;
    acc.shift = shift;
    acc.shiftedMean = shiftedMean;
    acc.m2 = m2;
    return acc;
  }

  get mean(): number {
    return this.n === 0 ? 0 : this.shift + this.shiftedMean;
  }

  push(x: number): void {
    if (!Number.isFinite(x)) throw new StatisticsInputError('value', 'must be a finite number');
    if (this.n === 0) this.shift = x;
    this.n++;
    const y = x - this.shift;
    const delta = y - this.shiftedMean;
    this.shiftedMean += delta / this.n;
    this.m2 += delta * (y - this.shiftedMean);
  }

  /** Adds values[i] for every i with groups[i] === group (all of them when groups is omitted). */
  pushMany(values: Float64Array, groups?: Uint8Array, group = 0): void {
    if (groups !== undefined && groups.length !== values.length)
      throw new StatisticsInputError('groups', 'must have one entry per value');
    let { n, shift, shiftedMean: mean, m2 } = this;
    for (let i = 0; i < values.length; i++) {
      if (groups !== undefined && groups[i] !== group) continue;
      const x = values[i] as number;
      if (!Number.isFinite(x)) throw new StatisticsInputError(`values[${i}]`, 'must be a finite number');
      if (n === 0) shift = x;
      n++;
      const y = x - shift;
      const delta = y - mean;
      mean += delta / n;
      m2 += delta * (y - mean);
    }
    this.n = n;
    this.shift = shift;
    this.shiftedMean = mean;
    this.m2 = m2;
  }

  merge(other: MeanVarianceAccumulator): void {
    if (other.n === 0) return;
    if (this.n === 0) this.shift = other.shift;
    const n = this.n + other.n;
    // Difference of the two means, taken in this accumulator's shifted frame.
    const otherMean = other.shift - this.shift + other.shiftedMean;
    const delta = otherMean - this.shiftedMean;
    this.m2 += other.m2 + (delta * delta * this.n * other.n) / n;
    this.shiftedMean += (delta * other.n) / n;
    this.n = n;
  }

  /** Sample variance (ddof = 1); NaN below two observations. */
  get variance(): number {
    return this.n > 1 ? this.m2 / (this.n - 1) : Number.NaN;
  }

  summary(): GroupSummary {
    return { n: this.n, mean: this.mean, variance: this.variance };
  }
}

export interface WelchResult {
  t: number;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  /** Two-sided p, as scipy `ttest_ind_from_stats(..., equal_var=False)`. */
  pValue: number;
  /** Treatment mean − control mean. */
  difference: number;
  standardError: number;
  /** difference ± t_{1−α/2, df}·SE. */
  differenceInterval: Interval;
}

function checkSummary(g: GroupSummary, field: string): void {
  if (!Number.isInteger(g.n) || g.n < 2)
    throw new StatisticsInputError(`${field}.n`, 'must be an integer ≥ 2');
  if (!Number.isFinite(g.mean)) throw new StatisticsInputError(`${field}.mean`, 'must be a finite number');
  if (!(Number.isFinite(g.variance) && g.variance >= 0))
    throw new StatisticsInputError(`${field}.variance`, 'must be a finite number ≥ 0');
}

/** Welch's unequal-variance t-test from each group's n, mean and sample variance. */
export function welchTTest(control: GroupSummary, treatment: GroupSummary, alpha = 0.05): WelchResult {
  checkSummary(control, 'control');
  checkSummary(treatment, 'treatment');
  checkAlpha(alpha);
  const vc = control.variance / control.n;
  const vt = treatment.variance / treatment.n;
  if (vc + vt === 0)
    throw new StatisticsInputError(
      'variance',
      'at least one group must have a positive variance (the t statistic is undefined)',
    );
  const standardError = Math.sqrt(vc + vt);
  const difference = treatment.mean - control.mean;
  const t = difference / standardError;
  const df = ((vc + vt) * (vc + vt)) / ((vc * vc) / (control.n - 1) + (vt * vt) / (treatment.n - 1));
  const crit = tQuantile(1 - alpha / 2, df);
  return {
    t,
    df,
    pValue: tTwoSided(t, df),
    difference,
    standardError,
    differenceInterval: [difference - crit * standardError, difference + crit * standardError],
  };
}

export interface SrmResult {
  chiSquare: number;
  pValue: number;
  /** p < threshold: the observed split is not the configured one, and no conclusion may be drawn. */
  mismatch: boolean;
  threshold: number;
}

/**
 * Sample-ratio-mismatch check: Pearson chi-square of the observed unit counts against the expected
 * split, as scipy `chisquare(observed, total·shares)`. `expectedWeights` are positive and normalised
 * by their sum (percentages or shares both work).
 */
export function sampleRatioMismatch(
  observed: readonly number[],
  expectedWeights: readonly number[],
  threshold = 0.001,
): SrmResult {
  if (observed.length < 2) throw new StatisticsInputError('observed', 'must hold at least two counts');
  if (expectedWeights.length !== observed.length)
    throw new StatisticsInputError('expectedWeights', 'must have one weight per observed count');
  checkAlpha(threshold, 'threshold');
  observed.forEach((c, i) => {
    checkCount(c, `observed[${i}]`);
  });
  let weightSum = 0;
  expectedWeights.forEach((w, i) => {
    if (!(Number.isFinite(w) && w > 0))
      throw new StatisticsInputError(`expectedWeights[${i}]`, 'must be a finite number > 0');
    weightSum += w;
  });
  const total = observed.reduce((a, b) => a + b, 0);
  if (total === 0) throw new StatisticsInputError('observed', 'must not all be zero');
  let chiSquare = 0;
  for (let i = 0; i < observed.length; i++) {
    const expected = (total * (expectedWeights[i] as number)) / weightSum;
    const d = (observed[i] as number) - expected;
    chiSquare += (d * d) / expected;
  }
  const pValue = chiSquareSf(chiSquare, observed.length - 1);
  return { chiSquare, pValue, mismatch: pValue < threshold, threshold };
}

/** Power of the two-sided normal test at effect size d and effective n, as statsmodels `normal_power`. */
function normalPower(d: number, nEff: number, crit: number): number {
  const shift = Math.abs(d) * Math.sqrt(nEff);
  return normalSf(crit - shift) + normalCdf(-crit - shift);
}

/**
 * Control-arm n solving power(d, n) = power, as statsmodels `NormalIndPower().solve_power(effect_size=d,
 * alpha, power, ratio=treatment/control, alternative='two-sided')` (both tails; Newton from the
 * one-tail closed form). Returns the unrounded n.
 */
export function solveNormalIndPower(effectSize: number, alpha: number, power: number, ratio: number): number {
  if (!(Number.isFinite(effectSize) && effectSize !== 0))
    throw new StatisticsInputError('effectSize', 'must be a finite nonzero number');
  checkAlpha(alpha);
  if (!(power > alpha / 2 && power < 1)) throw new StatisticsInputError('power', 'must be in (alpha/2, 1)');
  if (!(ratio > 0 && Number.isFinite(ratio)))
    throw new StatisticsInputError('allocation', 'must give a positive treatment/control ratio');
  const crit = normalQuantile(1 - alpha / 2);
  const factor = 1 + 1 / ratio; // n_eff = n1 / factor
  let nEff = ((crit + normalQuantile(power)) / effectSize) ** 2;
  const d = Math.abs(effectSize);
  for (let i = 0; i < 50; i++) {
    const f = normalPower(d, nEff, crit) - power;
    const s = d * Math.sqrt(nEff);
    const slope = ((normalPdf(crit - s) - normalPdf(crit + s)) * d) / (2 * Math.sqrt(nEff));
    const step = f / slope;
    nEff -= step;
    if (Math.abs(step) < 1e-12 * nEff) break;
  }
  return nEff * factor;
}

/** Minimum detectable effect, spelled out: an absolute difference, or relative to the baseline. */
export type MinimumDetectableEffect = { absolute: number } | { relative: number };

export interface SampleSizeInput {
  alpha: number;
  power: number;
  /** Percent of units in control and in treatment (e.g. 50/50, 90/10). */
  allocation: { control: number; treatment: number };
  minimumDetectableEffect: MinimumDetectableEffect;
}

export interface SampleSizeResult {
  /** Units needed in each arm (rounded up). */
  control: number;
  treatment: number;
  total: number;
  /** The standardized effect size used (Cohen's h for proportions, Cohen's d for means). */
  effectSize: number;
  /** Unrounded control n, as statsmodels' `nobs1`. */
  controlExact: number;
}

function mdeAbsolute(mde: MinimumDetectableEffect, baseline: number): number {
  const value = 'absolute' in mde ? mde.absolute : mde.relative * baseline;
  if (!(Number.isFinite(value) && value !== 0))
    throw new StatisticsInputError('minimumDetectableEffect', 'must be a finite nonzero number');
  return value;
}

function sizes(effectSize: number, input: SampleSizeInput): SampleSizeResult {
  const { control, treatment } = input.allocation;
  if (!(control > 0 && treatment > 0))
    throw new StatisticsInputError('allocation', 'both shares must be > 0');
  const controlExact = solveNormalIndPower(effectSize, input.alpha, input.power, treatment / control);
  const c = Math.ceil(controlExact - 1e-9);
  const t = Math.ceil((controlExact * treatment) / control - 1e-9);
  return { control: c, treatment: t, total: c + t, effectSize, controlExact };
}

/**
 * Per-arm sample size for a conversion rate: Cohen's h = 2·asin√p_t − 2·asin√p_c with
 * p_t = baseline + MDE (absolute) or baseline·(1 + MDE) (relative), as statsmodels
 * `proportion_effectsize(p_t, p_c)` then `NormalIndPower().solve_power`.
 */
export function requiredSampleSize(input: SampleSizeInput & { baselineRate: number }): SampleSizeResult {
  const p = input.baselineRate;
  if (!(p > 0 && p < 1)) throw new StatisticsInputError('baselineRate', 'must be in (0, 1)');
  const pt = p + mdeAbsolute(input.minimumDetectableEffect, p);
  if (!(pt > 0 && pt < 1))
    throw new StatisticsInputError('minimumDetectableEffect', 'baselineRate + effect must stay in (0, 1)');
  const h = 2 * Math.asin(Math.sqrt(pt)) - 2 * Math.asin(Math.sqrt(p));
  return sizes(h, input);
}

/** Per-arm sample size for a continuous metric: Cohen's d = MDE / σ (relative MDE needs baselineMean). */
export function requiredSampleSizeContinuous(
  input: SampleSizeInput & { variance: number; baselineMean?: number },
): SampleSizeResult {
  if (!(Number.isFinite(input.variance) && input.variance > 0))
    throw new StatisticsInputError('variance', 'must be a finite number > 0');
  if ('relative' in input.minimumDetectableEffect && input.baselineMean === undefined)
    throw new StatisticsInputError('baselineMean', 'is required with a relative minimumDetectableEffect');
  const delta = mdeAbsolute(input.minimumDetectableEffect, input.baselineMean ?? 0);
  return sizes(delta / Math.sqrt(input.variance), input);
}
