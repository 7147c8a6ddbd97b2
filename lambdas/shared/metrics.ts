/**
 * The project's one metrics module: Powertools Metrics (CloudWatch Embedded Metric Format, written
 * to the function's log, so emitting costs no API call). The namespace comes from the configuration
 * (`metricsNamespace`, passed as POWERTOOLS_METRICS_NAMESPACE), the `service` dimension from
 * POWERTOOLS_SERVICE_NAME; names, units and dimensions from metric-names.ts, which the constructs'
 * `metricXxx()` methods read too. Handlers flush with middy `logMetrics(metrics)`.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DIMENSIONS, FEATURE_STORE_METRICS, type MetricSpec } from './metric-names.js';

/** A Metrics instance; namespace and service default to the environment (see env.ts). */
export function createMetrics(options: { namespace?: string; serviceName?: string } = {}): Metrics {
  return new Metrics(options);
}

/** The functions' metrics, configured from the environment at cold start. */
export const metrics = createMetrics();

function add(target: Metrics, spec: MetricSpec, value: number): void {
  target.addMetric(spec.name, spec.unit, value);
}

/** What ingestion reports (IngestResult's counts). */
export interface IngestionOutcome {
  readonly view: string;
  readonly accepted: number;
  readonly rejected: number;
  readonly duplicate: boolean;
}

/** Rows accepted and rejected, the batch (or duplicate), and the time taken; dimension `view`. */
export function recordIngestion(target: Metrics, outcome: IngestionOutcome, durationMs: number): void {
  target.addDimension(DIMENSIONS.view, outcome.view);
  if (outcome.duplicate) {
    add(target, FEATURE_STORE_METRICS.duplicateBatches, 1);
  } else {
    add(target, FEATURE_STORE_METRICS.batchesIngested, 1);
    add(target, FEATURE_STORE_METRICS.rowsAccepted, outcome.accepted);
    add(target, FEATURE_STORE_METRICS.rowsRejected, outcome.rejected);
  }
  add(target, FEATURE_STORE_METRICS.ingestDuration, durationMs);
}

/** What a materialization run reports (MaterializeResult's counts; `setAside` where the run has it). */
export interface MaterializationOutcome {
  readonly view: string;
  readonly written: number;
  readonly skipped: number;
  readonly expired: number;
  readonly setAside?: number;
  /** The run's clock: batches ingested up to here are online. */
  readonly toMs: number;
}

/**
 * Records written, skipped, set aside and expired, the time taken, and — when the run moved the
 * watermark — its age at the end of the run (the freshness alarm treats a missing value as stale).
 */
export function recordMaterialization(
  target: Metrics,
  outcome: MaterializationOutcome,
  durationMs: number,
  watermark: { readonly moved: boolean; readonly nowMs: number },
): void {
  target.addDimension(DIMENSIONS.view, outcome.view);
  add(target, FEATURE_STORE_METRICS.recordsWritten, outcome.written);
  add(target, FEATURE_STORE_METRICS.recordsSkipped, outcome.skipped);
  add(target, FEATURE_STORE_METRICS.recordsSetAside, outcome.setAside ?? 0);
  add(target, FEATURE_STORE_METRICS.recordsExpired, outcome.expired);
  add(target, FEATURE_STORE_METRICS.materializeDuration, durationMs);
  if (watermark.moved)
    add(target, FEATURE_STORE_METRICS.watermarkAge, Math.max(0, (watermark.nowMs - outcome.toMs) / 1000));
}

/** A run that found its view leased by another run and did nothing. */
export function recordOverlapAvoided(target: Metrics, view: string): void {
  target.addDimension(DIMENSIONS.view, view);
  add(target, FEATURE_STORE_METRICS.overlapsAvoided, 1);
}

/** Rows of a training set and the time it took (no view dimension: a set spans views). */
export function recordTrainingSet(target: Metrics, rowCount: number, durationMs: number): void {
  add(target, FEATURE_STORE_METRICS.trainingSetRows, rowCount);
  add(target, FEATURE_STORE_METRICS.trainingSetDuration, durationMs);
}
