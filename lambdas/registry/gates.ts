/**
 * Promotion gates: per-model rules a version must meet before it may enter a gated stage
 * (Production by default). Configured per model in `mlops.config.ts` (`models[].gates`, validated
 * by lib/config.ts with this module's schema), evaluated against the version's stored record.
 * Plain code: no AWS SDK, so the CLI, the local runner and the Lambdas share it.
 *
 * Gates and what each reads from the version record:
 * - `metrics[]`: `metrics[metric]` must be `>= threshold` (direction `max`: higher is better) or
 *   `<= threshold` (direction `min`: lower is better). A missing metric fails the gate.
 * - `maxArtifactBytes`: the model artifact's `sizeBytes` must be `<= maxArtifactBytes`.
 * - `maxP95LatencyMs`: `metrics.p95LatencyMs` ({@link P95_LATENCY_METRIC}) must be `<=` it; missing fails.
 *
 * A failing gate refuses the transition with a {@link GateFailedError} listing every failed gate;
 * the caller may override with a reason, and the history entry records each gate's result and the
 * override.
 */
import * as z from 'zod';
import { MlopsError } from '../shared/errors.js';
import type { ModelStage } from './model-version.js';

/** The metric a version records its p95 latency in (milliseconds), read by `maxP95LatencyMs`. */
export const P95_LATENCY_METRIC = 'p95LatencyMs';

const metricName = z
  .string({ error: 'must be a string' })
  .regex(/^[A-Za-z0-9_.:/-]{1,128}$/, 'metric names must be 1-128 of A-Z a-z 0-9 _ . : / -');

const finite = z.number({ error: 'must be a finite number' });

export const metricGateSchema = z.strictObject({
  metric: metricName,
  /** `max`: higher is better (value >= threshold passes); `min`: lower is better (value <= threshold). */
  direction: z.enum(['min', 'max'], { error: 'must be min or max' }),
  threshold: finite,
});

export const modelGatesSchema = z
  .strictObject({
    metrics: z
      .array(metricGateSchema)
      .max(100, 'must list at most 100 metric gates')
      .refine(
        (gates) => new Set(gates.map((g) => `${g.metric}/${g.direction}`)).size === gates.length,
        'must not repeat a metric with the same direction',
      )
      .default([]),
    maxArtifactBytes: z
      .number({ error: 'must be a positive whole number of bytes' })
      .int('must be a positive whole number of bytes')
      .positive('must be a positive whole number of bytes')
      .optional(),
    maxP95LatencyMs: finite.positive('must be a positive number of milliseconds').optional(),
    /** Stages whose entry the gates guard. @default ['Production'] */
    stages: z
      .array(z.enum(['Staging', 'Production'], { error: 'must be Staging or Production' }))
      .min(1, 'must list at least one stage')
      .default(['Production']),
  })
  .prefault({});

export type ModelGates = z.output<typeof modelGatesSchema>;
export type ModelGatesInput = z.input<typeof modelGatesSchema>;

/** One gate's outcome for one version, as errors and history entries carry it. */
export interface GateResult {
  /** `metric:<name>`, `maxArtifactBytes` or `maxP95LatencyMs`. */
  readonly gate: string;
  /** The version's value; null when the record lacks it (which fails the gate). */
  readonly value: number | null;
  readonly threshold: number;
  /** How value must compare to threshold to pass. */
  readonly comparison: '>=' | '<=';
  readonly passed: boolean;
}

/** What of a version the gates read (a ModelVersion satisfies it). */
export interface GatedVersion {
  readonly metrics: Readonly<Record<string, number>>;
  readonly artifact: { readonly sizeBytes: number };
}

/** Whether entering `stage` is guarded by `gates`. */
export function gatesApply(gates: ModelGates | undefined, stage: ModelStage): boolean {
  return gates !== undefined && (gates.stages as readonly ModelStage[]).includes(stage);
}

/** Every gate's result for `version`, in configuration order (metric gates, size, latency). */
export function evaluateGates(gates: ModelGates, version: GatedVersion): GateResult[] {
  const results: GateResult[] = [];
  const check = (gate: string, value: number | undefined, threshold: number, comparison: '>=' | '<=') => {
    const known = typeof value === 'number' && Number.isFinite(value);
    const passed = known && (comparison === '>=' ? value >= threshold : value <= threshold);
    results.push({ gate, value: known ? value : null, threshold, comparison, passed });
  };
  for (const g of gates.metrics)
    check(`metric:${g.metric}`, version.metrics[g.metric], g.threshold, g.direction === 'max' ? '>=' : '<=');
  if (gates.maxArtifactBytes !== undefined)
    check('maxArtifactBytes', version.artifact.sizeBytes, gates.maxArtifactBytes, '<=');
  if (gates.maxP95LatencyMs !== undefined)
    check('maxP95LatencyMs', version.metrics[P95_LATENCY_METRIC], gates.maxP95LatencyMs, '<=');
  return results;
}

/** `metric:auc = 0.71 (must be >= 0.8)`, or `metric:auc is missing (must be >= 0.8)`. */
export function describeGateResult(result: GateResult): string {
  const value = result.value === null ? 'is missing' : `= ${result.value}`;
  return `${result.gate} ${value} (must be ${result.comparison} ${result.threshold})`;
}

/**
 * A version failed one or more promotion gates. `failed` lists every failed gate with its value and
 * threshold; `results` every gate evaluated. A 422: the request is well-formed but the version does
 * not qualify; retrying cannot help unless the caller overrides with a reason.
 */
export class GateFailedError extends MlopsError {
  readonly modelName: string;
  readonly version: number;
  readonly toStage: ModelStage;
  readonly failed: readonly GateResult[];
  readonly results: readonly GateResult[];

  constructor(modelName: string, version: number, toStage: ModelStage, results: readonly GateResult[]) {
    const failed = results.filter((r) => !r.passed);
    super(
      `version ${version} of ${modelName} fails ${failed.length} gate${failed.length === 1 ? '' : 's'} for ${toStage}: ${failed.map(describeGateResult).join('; ')}`,
      422,
      'GATE_FAILED',
    );
    this.name = 'GateFailedError';
    this.modelName = modelName;
    this.version = version;
    this.toStage = toStage;
    this.failed = failed;
    this.results = results;
  }
}
