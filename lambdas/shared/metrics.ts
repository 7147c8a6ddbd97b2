/**
 * The project's one metrics module: Powertools Metrics (CloudWatch Embedded Metric Format, written
 * to the function's log, so emitting costs no API call). The namespace comes from the configuration
 * (`metricsNamespace`, passed as POWERTOOLS_METRICS_NAMESPACE), the `service` dimension from
 * POWERTOOLS_SERVICE_NAME; names, units and dimensions from metric-names.ts, which the constructs'
 * `metricXxx()` methods read too. Handlers flush with middy `logMetrics(metrics)`.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { DriftReport } from '../drift/contract.js';
import {
  DIMENSIONS,
  type DimensionName,
  DRIFT_METRICS,
  FEATURE_STORE_METRICS,
  type MetricSpec,
  SERVING_METRICS,
} from './metric-names.js';

/**
 * Powertools Metrics, telling whether it publishes (POWERTOOLS_METRICS_DISABLED, POWERTOOLS_DEV):
 * the serving documents this module writes itself (see `emit`) follow the same switch.
 */
export class ProjectMetrics extends Metrics {
  get publishing(): boolean {
    return !this.isDisabled();
  }
}

/** A Metrics instance; namespace and service default to the environment (see env.ts). */
export function createMetrics(options: { namespace?: string; serviceName?: string } = {}): ProjectMetrics {
  return new ProjectMetrics(options);
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

/** Where a Metrics instance publishes: its namespace and default dimensions (`service`). */
interface Destination {
  readonly namespace: string;
  readonly defaults: Readonly<Record<string, string>>;
  /** Serialized document heads by metric names and dimension values (see {@link emit}). */
  readonly heads: Map<string, string>;
}

const destinations = new WeakMap<ProjectMetrics, Destination>();

/** Heads kept per Metrics instance; dimension values are few (models, versions, variants, codes). */
const MAX_HEADS = 512;

/**
 * The namespace and default dimensions `target` publishes under, read once from what it serializes
 * (Powertools' public API: an empty document carries both).
 */
function destinationOf(target: ProjectMetrics): Destination {
  let found = destinations.get(target);
  if (found === undefined) {
    const probe = target.singleMetric().serializeMetrics();
    const namespace = probe._aws.CloudWatchMetrics[0]?.Namespace ?? 'default_namespace';
    const defaults: Record<string, string> = {};
    for (const [key, value] of Object.entries(probe)) if (typeof value === 'string') defaults[key] = value;
    found = { namespace, defaults, heads: new Map() };
    destinations.set(target, found);
  }
  return found;
}

/**
 * Emits the values of one served request (or event) as ONE CloudWatch embedded-metric-format
 * document: each spec under its dimensions and each of its rollups, specs with the same sets sharing
 * a directive. One document per request, not one per metric and set: Powertools' single-metric
 * path cost about 10 µs per document, 9 documents a prediction, a third of the request's CPU
 * (bench/serving.bench.ts); this writes the same EMF (the spec's names, units and dimension sets)
 * in about 1 µs from a cached head. It goes to stdout as Powertools writes (its console is
 * process.stdout), and honours POWERTOOLS_METRICS_DISABLED. Non-finite values are left out (EMF
 * needs numbers). The Metrics instance's own stored metrics and dimensions are left alone.
 */
function emit(
  target: ProjectMetrics,
  entries: readonly (readonly [MetricSpec, number])[],
  values: DimensionValues,
): void {
  if (!target.publishing) return;
  const kept = entries.filter(([, value]) => Number.isFinite(value));
  if (kept.length === 0) return;
  const destination = destinationOf(target);
  const key = `${kept.map(([spec]) => spec.name).join(',')}|${values.model}|${values.version}|${values.variant}|${values.errorType}|${values.feature}`;
  let head = destination.heads.get(key);
  if (head === undefined) {
    head = documentHead(destination, kept, values);
    if (destination.heads.size >= MAX_HEADS) destination.heads.clear();
    destination.heads.set(key, head);
  }
  let body = '';
  for (const [spec, value] of kept) body += `,${JSON.stringify(spec.name)}:${value}`;
  process.stdout.write(`{"_aws":{"Timestamp":${Date.now()}${head}${body}}\n`);
}

/** Everything of the document but its timestamp and values: directives and dimension values. */
function documentHead(
  destination: Destination,
  entries: readonly (readonly [MetricSpec, number])[],
  values: DimensionValues,
): string {
  const directives = new Map<
    string,
    { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }
  >();
  const dimensions: Record<string, string> = { ...destination.defaults };
  for (const [spec] of entries) {
    const sets = [spec.dimensions, ...(spec.rollups ?? [])].map((set) => [...set]);
    for (const set of sets)
      for (const name of set) {
        if (name in destination.defaults) continue;
        const v = values[name as Exclude<DimensionName, 'service'>];
        if (v === undefined || v === '')
          throw new Error(`metric ${spec.name}: no value for dimension ${name}`);
        dimensions[name] = v;
      }
    const group = JSON.stringify(sets);
    let directive = directives.get(group);
    if (directive === undefined) {
      directive = { Namespace: destination.namespace, Dimensions: sets, Metrics: [] };
      directives.set(group, directive);
    }
    directive.Metrics.push({ Name: spec.name, Unit: spec.unit });
  }
  const dims = JSON.stringify(dimensions).slice(1, -1);
  return `,"CloudWatchMetrics":${JSON.stringify([...directives.values()])}}${dims === '' ? '' : `,${dims}`}`;
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
  target: ProjectMetrics,
  by: ServedBy,
  outcome: { readonly instances: number; readonly latencyMs: number; readonly modelLatencyMs: number },
): void {
  const values = { model: by.model, version: String(by.version), variant: by.variant };
  emit(
    target,
    [
      [SERVING_METRICS.requests, 1],
      [SERVING_METRICS.predictions, outcome.instances],
      [SERVING_METRICS.latency, outcome.latencyMs],
      [SERVING_METRICS.modelLatency, outcome.modelLatencyMs],
    ],
    values,
  );
}

/** A predict request answered with an error: by its code, and as a server error when 5xx. */
export function recordPredictError(
  target: ProjectMetrics,
  by: ServedBy,
  outcome: { readonly code: string; readonly status: number; readonly latencyMs: number },
): void {
  const values = { model: by.model, version: String(by.version), errorType: outcome.code };
  emit(
    target,
    [
      [SERVING_METRICS.requests, 1],
      [SERVING_METRICS.errors, 1],
      ...(outcome.status >= 500 ? ([[SERVING_METRICS.serverErrors, 1]] as const) : []),
      [SERVING_METRICS.latency, outcome.latencyMs],
    ],
    values,
  );
}

/**
 * A request other than a predict answered with an error (feedback, health, an unknown route or
 * model, a wrong method): by its code, and as a server error when 5xx. Predict errors are counted
 * by {@link recordPredictError} (with their version and latency), never here.
 */
export function recordRequestError(
  target: ProjectMetrics,
  by: Pick<ServedBy, 'model' | 'version'>,
  outcome: { readonly code: string; readonly status: number },
): void {
  const values = { model: by.model, version: String(by.version), errorType: outcome.code };
  emit(
    target,
    [
      [SERVING_METRICS.errors, 1],
      ...(outcome.status >= 500 ? ([[SERVING_METRICS.serverErrors, 1]] as const) : []),
    ],
    values,
  );
}

/** A function instance started serving: the cold start and the model's init time. */
export function recordColdStart(
  target: ProjectMetrics,
  by: Pick<ServedBy, 'model' | 'version'>,
  initMs: number,
): void {
  const values = { model: by.model, version: String(by.version) };
  emit(
    target,
    [
      [SERVING_METRICS.coldStarts, 1],
      [SERVING_METRICS.initDuration, initMs],
    ],
    values,
  );
}

/** A cold start that refused to serve: the artifact did not match its registered SHA-256. */
export function recordIntegrityFailure(target: ProjectMetrics, model: string): void {
  emit(target, [[SERVING_METRICS.integrityFailures, 1]], { model });
}

/** A read of the request-signing key that failed (lambdas/serving/request-ids.ts holdRequestIds). */
export function recordSigningKeyFailure(target: ProjectMetrics, model: string): void {
  emit(target, [[SERVING_METRICS.signingKeyFailures, 1]], { model });
}

/** Capture records delivered and failed (zeros are not emitted). */
export function recordCapture(
  target: ProjectMetrics,
  model: string,
  delivered: number,
  failed: number,
): void {
  emit(
    target,
    [
      ...(delivered > 0 ? ([[SERVING_METRICS.captured, delivered]] as const) : []),
      ...(failed > 0 ? ([[SERVING_METRICS.captureFailures, failed]] as const) : []),
    ],
    { model },
  );
}

/** Feedback records accepted. */
export function recordFeedback(target: ProjectMetrics, model: string, count = 1): void {
  emit(target, [[SERVING_METRICS.feedback, count]], { model });
}

/**
 * One drift check's metrics (DRIFT_METRICS): per feature PSI, KS D, JS distance (with a verdict
 * only) and null rate; per model the maxima the alarms watch, the drifted share and prediction PSI
 * (with a verdict only), the data-quality maxima (from minSamples rows), rows, findings,
 * an insufficient-data count, and model quality when labelled feedback was joined.
 */
export function recordDriftCheck(target: ProjectMetrics, report: DriftReport): void {
  const model = { model: report.model };
  const entries: [MetricSpec, number][] = [
    [DRIFT_METRICS.rowsChecked, report.rows],
    [DRIFT_METRICS.findings, report.findings.length],
    [DRIFT_METRICS.insufficient, report.status === 'checked' ? 0 : 1],
  ];
  let maxPsi = Number.NaN;
  let maxNullRise = Number.NaN;
  let maxOutOfRange = Number.NaN;
  let maxUnseen = Number.NaN;
  const max = (a: number, b: number | undefined) =>
    b === undefined || !Number.isFinite(b) ? a : Number.isNaN(a) ? b : Math.max(a, b);
  for (const feature of report.features) {
    const { quality } = feature;
    const perFeature: [MetricSpec, number][] = [];
    // Rates of a thin window are noise (one null in three rows is 33 %): from minSamples rows only.
    if (quality.rows >= report.thresholds.minSamples) {
      perFeature.push([DRIFT_METRICS.featureNullRate, quality.nullRate]);
      maxNullRise = max(maxNullRise, quality.nullRate - quality.referenceNullRate);
      maxOutOfRange = max(maxOutOfRange, quality.outOfRangeRate);
      maxUnseen = max(maxUnseen, quality.unseenRate);
    }
    const verdict = feature.verdict === 'drift' || feature.verdict === 'no-drift';
    if (verdict && feature.drift !== undefined) {
      perFeature.push([DRIFT_METRICS.featurePsi, feature.drift.psi]);
      perFeature.push([DRIFT_METRICS.featureJs, feature.drift.jensenShannon]);
      if (feature.drift.kind === 'numeric' && feature.drift.ks !== undefined)
        perFeature.push([DRIFT_METRICS.featureKs, feature.drift.ks.statistic]);
      maxPsi = max(maxPsi, feature.drift.psi);
    }
    emit(target, perFeature, { ...model, feature: feature.name });
  }
  if (report.status === 'checked') {
    entries.push(
      [DRIFT_METRICS.maxFeaturePsi, maxPsi],
      [DRIFT_METRICS.driftShare, report.summary.driftShare],
    );
    const { prediction } = report;
    if ((prediction.verdict === 'drift' || prediction.verdict === 'no-drift') && prediction.psi !== undefined)
      entries.push([DRIFT_METRICS.predictionPsi, prediction.psi]);
  }
  entries.push(
    [DRIFT_METRICS.nullRateIncrease, maxNullRise],
    [DRIFT_METRICS.outOfRangeRate, maxOutOfRange],
    [DRIFT_METRICS.unseenCategoryRate, maxUnseen],
  );
  if (report.quality !== undefined) {
    entries.push([DRIFT_METRICS.labelled, report.quality.labelled]);
    if (report.quality.value !== null) entries.push([DRIFT_METRICS.modelQuality, report.quality.value]);
    if (report.quality.relativeDrop !== null)
      entries.push([DRIFT_METRICS.qualityDrop, report.quality.relativeDrop]);
  }
  emit(target, entries, model);
}
