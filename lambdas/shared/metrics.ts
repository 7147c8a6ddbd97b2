/**
 * The project's one metrics module: Powertools Metrics (CloudWatch Embedded Metric Format, written
 * to the function's log, so emitting costs no API call). The namespace comes from the configuration
 * (`metricsNamespace`, passed as POWERTOOLS_METRICS_NAMESPACE), the `service` dimension from
 * POWERTOOLS_SERVICE_NAME; names, units and dimensions from metric-names.ts, which the constructs'
 * `metricXxx()` methods read too. Handlers flush with middy `logMetrics(metrics)`.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import {
  DIMENSIONS,
  type DimensionName,
  FEATURE_STORE_METRICS,
  type MetricSpec,
  SERVING_METRICS,
} from './metric-names.js';

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

/** Dimension values of a serving metric (`service` is the Metrics instance's default dimension). */
type DimensionValues = Partial<Record<Exclude<DimensionName, 'service'>, string>>;

/**
 * The single-metric emitter of each Metrics instance, made once: building one per value costs
 * more than the prediction it counts. It publishes on every addMetric and clears its dimensions
 * after, and carries the instance's default dimensions (`service`) as they were when made.
 */
const emitters = new WeakMap<Metrics, Metrics>();

function emitterOf(target: Metrics): Metrics {
  let single = emitters.get(target);
  if (single === undefined) {
    single = target.singleMetric();
    emitters.set(target, single);
  }
  return single;
}

/**
 * Emits one value of `spec` under its dimensions and under each of its rollups. Each dimension set
 * goes out as its own EMF document (a single metric): Powertools warns on every key that two sets
 * of one document share, so one document per set keeps the log clean, and CloudWatch sums the same.
 * The Metrics instance's own stored metrics and dimensions are left alone.
 */
function emit(target: Metrics, spec: MetricSpec, value: number, values: DimensionValues): void {
  const single = emitterOf(target);
  for (const set of [spec.dimensions, ...(spec.rollups ?? [])]) {
    const dimensions: Record<string, string> = {};
    for (const name of set) {
      if (name === DIMENSIONS.service) continue;
      const v = values[name];
      if (v === undefined || v === '') throw new Error(`metric ${spec.name}: no value for dimension ${name}`);
      dimensions[name] = v;
    }
    single.addDimensions(dimensions);
    single.addMetric(spec.name, spec.unit, value);
  }
}

/** The model version a metric names: the registry version, or `none` when no model loaded. */
export const NO_VERSION = 'none';

/** Which function answered: the model, its registry version and the A/B variant. */
export interface ServedBy {
  readonly model: string;
  /** The registry version; {@link NO_VERSION} when the model could not be loaded. */
  readonly version: number | string;
  readonly variant: string;
}

/** A predict request answered: request count, instances scored, latency and model latency. */
export function recordPrediction(
  target: Metrics,
  by: ServedBy,
  outcome: { readonly instances: number; readonly latencyMs: number; readonly modelLatencyMs: number },
): void {
  const values = { model: by.model, version: String(by.version), variant: by.variant };
  emit(target, SERVING_METRICS.requests, 1, values);
  emit(target, SERVING_METRICS.predictions, outcome.instances, values);
  emit(target, SERVING_METRICS.latency, outcome.latencyMs, values);
  emit(target, SERVING_METRICS.modelLatency, outcome.modelLatencyMs, values);
}

/** A predict request answered with an error: by its code, and as a server error when 5xx. */
export function recordPredictError(
  target: Metrics,
  by: ServedBy,
  outcome: { readonly code: string; readonly status: number; readonly latencyMs: number },
): void {
  const values = { model: by.model, version: String(by.version), errorType: outcome.code };
  emit(target, SERVING_METRICS.requests, 1, values);
  emit(target, SERVING_METRICS.errors, 1, values);
  if (outcome.status >= 500) emit(target, SERVING_METRICS.serverErrors, 1, values);
  emit(target, SERVING_METRICS.latency, outcome.latencyMs, values);
}

/**
 * A request other than a predict answered with an error (feedback, health, an unknown route or
 * model, a wrong method): by its code, and as a server error when 5xx. Predict errors are counted
 * by {@link recordPredictError} (with their version and latency), never here.
 */
export function recordRequestError(
  target: Metrics,
  by: Pick<ServedBy, 'model' | 'version'>,
  outcome: { readonly code: string; readonly status: number },
): void {
  const values = { model: by.model, version: String(by.version), errorType: outcome.code };
  emit(target, SERVING_METRICS.errors, 1, values);
  if (outcome.status >= 500) emit(target, SERVING_METRICS.serverErrors, 1, values);
}

/** A function instance started serving: the cold start and the model's init time. */
export function recordColdStart(
  target: Metrics,
  by: Pick<ServedBy, 'model' | 'version'>,
  initMs: number,
): void {
  const values = { model: by.model, version: String(by.version) };
  emit(target, SERVING_METRICS.coldStarts, 1, values);
  emit(target, SERVING_METRICS.initDuration, initMs, values);
}

/** A cold start that refused to serve: the artifact did not match its registered SHA-256. */
export function recordIntegrityFailure(target: Metrics, model: string): void {
  emit(target, SERVING_METRICS.integrityFailures, 1, { model });
}

/** Capture records delivered and failed (zeros are not emitted). */
export function recordCapture(target: Metrics, model: string, delivered: number, failed: number): void {
  if (delivered > 0) emit(target, SERVING_METRICS.captured, delivered, { model });
  if (failed > 0) emit(target, SERVING_METRICS.captureFailures, failed, { model });
}

/** Feedback records accepted. */
export function recordFeedback(target: Metrics, model: string, count = 1): void {
  emit(target, SERVING_METRICS.feedback, count, { model });
}
