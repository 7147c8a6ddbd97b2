/**
 * An experiment's analysis from its counters (experiment-store.ts), SDK-free:
 *   - sample-ratio mismatch of the units per variant against the allocation (assignments when the
 *     serving path reported them, else the outcomes counted);
 *   - conversion: two-proportion z-test with the Wald interval of the difference and the log-ratio
 *     interval of the relative lift (fixed horizon, for reading), and the mSPRT always-valid p-value
 *     and confidence sequence (what the decision uses, so the report may be read at any time);
 *   - the continuous value (when outcomes carried numbers): Welch's t from n, Σx and Σx²;
 *   - guardrails on either metric, by mSPRT;
 *   - the verdict (verdict.ts) and progress against the required sample size and maximum duration.
 *
 * The counters hold only the current totals, so the mSPRT p-value is the one at this peek (not the
 * running minimum over earlier peeks): always valid, and at least as conservative as the running one.
 */
import { StatisticsInputError } from './errors.js';
import type { Experiment, ExperimentMetric, VariantCounters } from './experiment-store.js';
import { type SequentialResult, SequentialTest } from './sequential.js';
import {
  type GroupSummary,
  type Interval,
  type ProportionTestResult,
  type SrmResult,
  sampleRatioMismatch,
  twoProportionZTest,
  type WelchResult,
  welchTTest,
} from './statistics.js';
import { type GuardrailResult, type Verdict, verdict } from './verdict.js';

const DAY_MS = 86_400_000;
/** p below which the split is called mismatched (the usual SRM threshold). */
export const SRM_THRESHOLD = 0.001;
/** Units per arm before the mSPRT reads a peek (sequential.ts's default). */
export const SEQUENTIAL_MINIMUM_SAMPLE = 100;
/**
 * τ² of a guardrail on the continuous value without a tolerance: an effect of a tenth of a standard
 * deviation (τ² = variance / 100), the usual scale of a harmful shift worth catching.
 */
const VALUE_TAU_SHARE = 0.01;

export interface ArmSummary {
  variant: string;
  /** Units used for the sample-ratio check. */
  units: number;
  assignments: number;
  outcomes: number;
  positives: number;
  conversionRate: number | null;
  /** Mean and sample variance of the numeric outcomes (null below two). */
  value: GroupSummary | null;
}

export interface GuardrailReport extends GuardrailResult {
  metric: ExperimentMetric;
  estimate: number | null;
}

export interface ExperimentReport {
  experimentId: string;
  model: string;
  status: Experiment['status'];
  arms: [control: ArmSummary, treatment: ArmSummary];
  /** Which counter the SRM check used. */
  srmUnits: 'assignments' | 'outcomes';
  srm: SrmResult;
  /** Fixed-horizon two-proportion test (null until both arms have outcomes). */
  conversion: ProportionTestResult | null;
  /** Always-valid test of the conversion difference. */
  sequential: SequentialResult;
  /** Welch's t on the numeric outcomes (null unless both arms have two or more). */
  value: WelchResult | null;
  guardrails: GuardrailReport[];
  verdict: Verdict;
  progress: {
    /** Outcomes per arm against the required sample per arm (the smaller fraction), 0 to 1+. */
    sampleFraction: number;
    requiredPerArm: { control: number; treatment: number };
    elapsedDays: number;
    maxDurationDays: number;
  };
}

const share = (a: number, b: number): number | null => (b > 0 ? a / b : null);

function valueSummary(c: VariantCounters): GroupSummary | null {
  if (c.values < 2) return null;
  const mean = c.sum / c.values;
  const variance = Math.max(0, (c.sumSq - c.sum * mean) / (c.values - 1));
  return { n: c.values, mean, variance };
}

function armOf(c: VariantCounters, srmUnits: 'assignments' | 'outcomes'): ArmSummary {
  return {
    variant: c.variant,
    units: c[srmUnits],
    assignments: c.assignments,
    outcomes: c.outcomes,
    positives: c.positives,
    conversionRate: share(c.positives, c.outcomes),
    value: valueSummary(c),
  };
}

function proportions(control: VariantCounters, treatment: VariantCounters) {
  return {
    controlSuccesses: control.positives,
    controlTotal: control.outcomes,
    treatmentSuccesses: treatment.positives,
    treatmentTotal: treatment.outcomes,
  };
}

function sequentialOf(
  experiment: Experiment,
  metric: ExperimentMetric,
  control: VariantCounters,
  treatment: VariantCounters,
  tau2?: number,
): SequentialResult {
  const test = new SequentialTest({
    alpha: experiment.alpha,
    ...(tau2 !== undefined ? { tau2 } : { minimumDetectableEffect: experiment.minimumDetectableEffect }),
    minimumSample: SEQUENTIAL_MINIMUM_SAMPLE,
  });
  if (metric === 'conversion') return test.updateProportions(proportions(control, treatment));
  const c = valueSummary(control);
  const t = valueSummary(treatment);
  return c === null || t === null ? test.result() : test.updateMeans(c, t);
}

const NO_INTERVAL: Interval = [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];

/** The experiment's report from its counters (control first), at `now`. */
export function experimentReport(
  experiment: Experiment,
  counters: readonly VariantCounters[],
  now: Date = new Date(),
): ExperimentReport {
  const control = counters.find((c) => c.variant === 'control');
  const treatment = counters.find((c) => c.variant === 'treatment');
  if (control === undefined || treatment === undefined)
    throw new StatisticsInputError('counters', 'must hold the control and the treatment variant');
  const srmUnits = control.assignments + treatment.assignments > 0 ? 'assignments' : 'outcomes';
  const observed: [number, number] = [control[srmUnits], treatment[srmUnits]];
  const srm: SrmResult =
    observed[0] + observed[1] > 0
      ? sampleRatioMismatch(observed, [100 - experiment.allocation, experiment.allocation], SRM_THRESHOLD)
      : { chiSquare: 0, pValue: 1, mismatch: false, threshold: SRM_THRESHOLD };
  const conversion =
    control.outcomes > 0 && treatment.outcomes > 0
      ? twoProportionZTest(proportions(control, treatment), experiment.alpha)
      : null;
  const sequential = sequentialOf(experiment, 'conversion', control, treatment);
  const controlValue = valueSummary(control);
  const treatmentValue = valueSummary(treatment);
  let value: WelchResult | null = null;
  if (controlValue !== null && treatmentValue !== null && controlValue.variance + treatmentValue.variance > 0)
    value = welchTTest(controlValue, treatmentValue, experiment.alpha);

  const guardrails: GuardrailReport[] = experiment.guardrails.map((g) => {
    let tau2: number | undefined;
    if (g.metric === 'value') {
      const pooled = ((controlValue?.variance ?? 0) + (treatmentValue?.variance ?? 0)) / 2;
      tau2 = g.tolerance !== undefined && g.tolerance > 0 ? g.tolerance ** 2 : pooled * VALUE_TAU_SHARE;
    } else if (g.tolerance !== undefined && g.tolerance > 0) tau2 = g.tolerance ** 2;
    const result =
      tau2 === 0
        ? new SequentialTest({ alpha: experiment.alpha, tau2: 1 }).result()
        : sequentialOf(experiment, g.metric, control, treatment, tau2);
    return {
      name: g.metric,
      metric: g.metric,
      harmful: g.harmful,
      ...(g.tolerance !== undefined ? { tolerance: g.tolerance } : {}),
      pValue: result.pValue,
      interval: result.peeks > 0 ? result.interval : NO_INTERVAL,
      estimate: result.peeks > 0 ? result.estimate : null,
    };
  });

  const end = experiment.stoppedAt !== undefined ? Date.parse(experiment.stoppedAt) : now.getTime();
  const elapsedDays = Math.max(0, (end - Date.parse(experiment.createdAt)) / DAY_MS);
  const required = experiment.requiredSample;
  const decision = verdict({
    alpha: experiment.alpha,
    srm,
    primary: {
      name: 'conversion',
      pValue: sequential.pValue,
      interval: sequential.peeks > 0 ? sequential.interval : NO_INTERVAL,
      desired: experiment.minimumDetectableEffect > 0 ? 'increase' : 'decrease',
    },
    guardrails,
    unitsPerArm: [control.outcomes, treatment.outcomes],
    minimumSamplePerArm: Math.min(required.control, required.treatment),
    elapsedDays,
    maxDurationDays: experiment.maxDurationDays,
  });
  return {
    experimentId: experiment.id,
    model: experiment.model,
    status: experiment.status,
    arms: [armOf(control, srmUnits), armOf(treatment, srmUnits)],
    srmUnits,
    srm,
    conversion,
    sequential,
    value,
    guardrails,
    verdict: decision,
    progress: {
      sampleFraction: Math.min(control.outcomes / required.control, treatment.outcomes / required.treatment),
      requiredPerArm: { control: required.control, treatment: required.treatment },
      elapsedDays,
      maxDurationDays: experiment.maxDurationDays,
    },
  };
}
