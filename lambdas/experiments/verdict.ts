/**
 * The experiment's decision, in order (the first rule that applies wins):
 * 1. sample-ratio mismatch → "invalid" (the split is broken; no conclusion is trustworthy);
 * 2. a guardrail significantly harmed (always-valid p < α and its interval wholly on the harmful side
 *    beyond its tolerance) → "don't ship" (stopping for harm is safe at any time with mSPRT);
 * 3. fewer units than the minimum sample in any arm → "keep running" (novelty effects, early noise);
 * 4. primary significant in the desired direction → "ship"; in the other direction → "don't ship";
 * 5. not significant: past the maximum duration → "don't ship" (no detectable effect), else
 *    "keep running".
 */
import type { Interval, SrmResult } from './statistics.js';

export type Decision = 'ship' | "don't ship" | 'keep running' | 'invalid';

export interface MetricResult {
  name: string;
  /** Always-valid p-value of the difference (treatment − control). */
  pValue: number;
  /** Confidence sequence of the difference. */
  interval: Interval;
}

export interface GuardrailResult extends MetricResult {
  /** Which change is harmful (e.g. "increase" for latency or errors). */
  harmful: 'increase' | 'decrease';
  /** Harm tolerated before the guardrail trips, in the metric's units (≥ 0; default 0). */
  tolerance?: number;
}

export interface VerdictInput {
  alpha: number;
  srm: SrmResult;
  primary: MetricResult & { desired: 'increase' | 'decrease' };
  guardrails?: readonly GuardrailResult[];
  /** Units per arm so far, and the minimum before any ship/don't-ship on the primary metric. */
  unitsPerArm: readonly number[];
  minimumSamplePerArm: number;
  elapsedDays: number;
  maxDurationDays: number;
}

export interface Verdict {
  decision: Decision;
  reason: string;
}

export function verdict(input: VerdictInput): Verdict {
  const { alpha, srm, primary } = input;
  if (srm.mismatch)
    return {
      decision: 'invalid',
      reason: `sample ratio mismatch (p = ${srm.pValue.toPrecision(3)} < ${srm.threshold})`,
    };
  for (const g of input.guardrails ?? []) {
    const tolerance = g.tolerance ?? 0;
    const harmed = g.harmful === 'increase' ? g.interval[0] > tolerance : g.interval[1] < -tolerance;
    if (g.pValue < alpha && harmed)
      return {
        decision: "don't ship",
        reason: `guardrail ${g.name} harmed (p = ${g.pValue.toPrecision(3)})`,
      };
  }
  const fewest = Math.min(...input.unitsPerArm);
  if (fewest < input.minimumSamplePerArm)
    return {
      decision: 'keep running',
      reason: `${fewest} units in the smallest arm, minimum ${input.minimumSamplePerArm}`,
    };
  if (primary.pValue < alpha) {
    const up = primary.interval[0] > 0;
    const down = primary.interval[1] < 0;
    const good = primary.desired === 'increase' ? up : down;
    const bad = primary.desired === 'increase' ? down : up;
    if (good)
      return { decision: 'ship', reason: `${primary.name} improved (p = ${primary.pValue.toPrecision(3)})` };
    if (bad)
      return {
        decision: "don't ship",
        reason: `${primary.name} worsened (p = ${primary.pValue.toPrecision(3)})`,
      };
  }
  if (input.elapsedDays >= input.maxDurationDays)
    return {
      decision: "don't ship",
      reason: `no significant effect on ${primary.name} within ${input.maxDurationDays} days`,
    };
  return {
    decision: 'keep running',
    reason: `${primary.name} not yet significant (p = ${primary.pValue.toPrecision(3)})`,
  };
}
