/**
 * Always-valid inference by the mixture sequential probability ratio test (mSPRT; Johari, Pekelis &
 * Walsh 2017, "Always valid inference: continuous monitoring of A/B tests"), normal mixture with
 * variance τ² over the true difference θ. At a peek with estimate θ̂ₙ (treatment − control) and
 * estimated variance Vₙ of θ̂ₙ:
 *
 *   Λₙ = √(Vₙ/(Vₙ+τ²)) · exp(θ̂ₙ² τ² / (2 Vₙ (Vₙ+τ²))),   pₙ = min(pₙ₋₁, 1/Λₙ)   (p₀ = 1),
 *
 * and the (1 − α) confidence sequence is the running intersection of
 *   θ̂ₙ ± √( Vₙ(Vₙ+τ²)/τ² · (2 ln(1/α) + ln((Vₙ+τ²)/Vₙ)) ).
 * pₙ may be read after every unit without inflating the false-positive rate beyond α.
 *
 * τ²: the prior scale of the effect, in squared units of the difference. The default is the square
 * of the minimum detectable effect (absolute), which JPW's analysis shows is near-optimal for
 * detecting effects of that size; pass `tau2` to override. Peeks before `minimumSample` units per
 * arm are not used (the plug-in variance is unreliable there); default 100.
 */
import { StatisticsInputError } from './errors.js';
import type { GroupSummary, Interval, ProportionCounts } from './statistics.js';
import { checkAlpha } from './statistics.js';

export interface SequentialOptions {
  alpha?: number;
  /** Mixing variance τ² (> 0). Either this or minimumDetectableEffect. */
  tau2?: number;
  /** Absolute MDE on the difference; τ² = MDE² when tau2 is not given. */
  minimumDetectableEffect?: number;
  /** Units per arm below which a peek is ignored. */
  minimumSample?: number;
}

export interface SequentialResult {
  estimate: number;
  variance: number;
  /** Always-valid two-sided p-value (non-increasing over peeks). */
  pValue: number;
  /** Running-intersection confidence sequence at level 1 − α. */
  interval: Interval;
  /** pValue < α: the difference is significant, however often the test was peeked at. */
  significant: boolean;
  peeks: number;
}

/** ln Λ for one peek. */
export function msprtLogLikelihoodRatio(estimate: number, variance: number, tau2: number): number {
  return (
    0.5 * Math.log(variance / (variance + tau2)) +
    (estimate * estimate * tau2) / (2 * variance * (variance + tau2))
  );
}

/** Half-width of the (1 − α) mSPRT confidence interval at one peek. */
export function msprtHalfWidth(variance: number, tau2: number, alpha: number): number {
  return Math.sqrt(
    ((variance * (variance + tau2)) / tau2) *
      (2 * Math.log(1 / alpha) + Math.log((variance + tau2) / variance)),
  );
}

export class SequentialTest {
  readonly alpha: number;
  readonly tau2: number;
  readonly minimumSample: number;
  private pValue = 1;
  private lower = Number.NEGATIVE_INFINITY;
  private upper = Number.POSITIVE_INFINITY;
  private estimate = Number.NaN;
  private variance = Number.NaN;
  private peeks = 0;

  constructor(options: SequentialOptions) {
    this.alpha = options.alpha ?? 0.05;
    checkAlpha(this.alpha);
    const mde = options.minimumDetectableEffect;
    const tau2 = options.tau2 ?? (mde === undefined ? undefined : mde * mde);
    if (tau2 === undefined) throw new StatisticsInputError('tau2', 'give tau2 or minimumDetectableEffect');
    if (!(Number.isFinite(tau2) && tau2 > 0))
      throw new StatisticsInputError('tau2', 'must be a finite number > 0');
    this.tau2 = tau2;
    this.minimumSample = options.minimumSample ?? 100;
    if (!(Number.isInteger(this.minimumSample) && this.minimumSample >= 2))
      throw new StatisticsInputError('minimumSample', 'must be an integer ≥ 2');
  }

  /** Feeds the cumulative counts of a conversion metric at this peek (unpooled variance). */
  updateProportions(c: ProportionCounts): SequentialResult {
    const { controlSuccesses: xc, controlTotal: nc, treatmentSuccesses: xt, treatmentTotal: nt } = c;
    for (const [v, f] of [
      [xc, 'controlSuccesses'],
      [nc, 'controlTotal'],
      [xt, 'treatmentSuccesses'],
      [nt, 'treatmentTotal'],
    ] as const)
      if (!Number.isInteger(v) || v < 0) throw new StatisticsInputError(f, 'must be an integer ≥ 0');
    if (xc > nc) throw new StatisticsInputError('controlSuccesses', 'must be ≤ controlTotal');
    if (xt > nt) throw new StatisticsInputError('treatmentSuccesses', 'must be ≤ treatmentTotal');
    if (Math.min(nc, nt) < this.minimumSample) return this.result();
    const pc = xc / nc;
    const pt = xt / nt;
    return this.update(pt - pc, (pt * (1 - pt)) / nt + (pc * (1 - pc)) / nc);
  }

  /** Feeds the cumulative summaries of a continuous metric at this peek. */
  updateMeans(control: GroupSummary, treatment: GroupSummary): SequentialResult {
    for (const [g, f] of [
      [control, 'control'],
      [treatment, 'treatment'],
    ] as const) {
      if (!Number.isFinite(g.mean)) throw new StatisticsInputError(`${f}.mean`, 'must be a finite number');
      if (g.n >= 2 && !(g.variance >= 0))
        throw new StatisticsInputError(`${f}.variance`, 'must be a number ≥ 0');
    }
    if (Math.min(control.n, treatment.n) < this.minimumSample) return this.result();
    return this.update(
      treatment.mean - control.mean,
      control.variance / control.n + treatment.variance / treatment.n,
    );
  }

  /** Feeds one peek's estimate of the difference and its variance. A zero variance carries no information and is skipped. */
  update(estimate: number, variance: number): SequentialResult {
    if (!Number.isFinite(estimate)) throw new StatisticsInputError('estimate', 'must be a finite number');
    if (!(Number.isFinite(variance) && variance >= 0))
      throw new StatisticsInputError('variance', 'must be a finite number ≥ 0');
    if (variance === 0) return this.result();
    this.peeks++;
    this.estimate = estimate;
    this.variance = variance;
    const logLambda = msprtLogLikelihoodRatio(estimate, variance, this.tau2);
    this.pValue = Math.min(this.pValue, Math.min(1, Math.exp(-logLambda)));
    const half = msprtHalfWidth(variance, this.tau2, this.alpha);
    this.lower = Math.max(this.lower, estimate - half);
    this.upper = Math.min(this.upper, estimate + half);
    return this.result();
  }

  result(): SequentialResult {
    return {
      estimate: this.estimate,
      variance: this.variance,
      pValue: this.pValue,
      interval: [this.lower, this.upper],
      significant: this.pValue < this.alpha,
      peeks: this.peeks,
    };
  }
}
