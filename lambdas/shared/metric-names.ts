/**
 * The metrics the functions emit: name, unit and dimensions, in one place that both sides import —
 * lambdas/shared/metrics.ts emits them (EMF through Powertools) and the constructs' `metricXxx()`
 * methods, alarms and dashboards read them (lib/). No SDK, no aws-cdk-lib. Change rule: add names,
 * do not rename (a renamed metric silently empties the alarms and dashboards built on the old one).
 *
 * Units are CloudWatch unit names, the same strings in Powertools' `MetricUnit` and CDK's `Unit`.
 */

/** Dimension names. `service` is Powertools' default dimension (POWERTOOLS_SERVICE_NAME). */
export const DIMENSIONS = {
  service: 'service',
  view: 'view',
  model: 'model',
  version: 'version',
  variant: 'variant',
  errorType: 'errorType',
  feature: 'feature',
} as const;
export type DimensionName = (typeof DIMENSIONS)[keyof typeof DIMENSIONS];

/** Values of the `service` dimension. */
export const SERVICES = { featureStore: 'feature-store', inference: 'inference', drift: 'drift' } as const;

export type MetricUnitName = 'Count' | 'Milliseconds' | 'Seconds' | 'None';

export interface MetricSpec {
  readonly name: string;
  readonly unit: MetricUnitName;
  /** Every dimension the metric is emitted with (CloudWatch identifies a metric by all of them). */
  readonly dimensions: readonly DimensionName[];
  /**
   * Coarser dimension sets the metric is emitted under as well (EMF: one value, several sets), so
   * an alarm can watch a model across versions while a canary compares versions.
   */
  readonly rollups?: readonly (readonly DimensionName[])[];
  /** The statistic alarms and dashboards use by default. */
  readonly statistic: 'Sum' | 'Maximum' | 'Average';
  readonly description: string;
}

const perView = [DIMENSIONS.service, DIMENSIONS.view] as const;

/** Metrics of the feature-store functions (service `feature-store`). */
export const FEATURE_STORE_METRICS = {
  rowsAccepted: {
    name: 'IngestRowsAccepted',
    unit: 'Count',
    dimensions: perView,
    statistic: 'Sum',
    description: 'Rows ingestion accepted into the offline store',
  },
  rowsRejected: {
    name: 'IngestRowsRejected',
    unit: 'Count',
    dimensions: perView,
    statistic: 'Sum',
    description: 'Rows ingestion quarantined, each with its reasons',
  },
  batchesIngested: {
    name: 'IngestBatches',
    unit: 'Count',
    dimensions: perView,
    statistic: 'Sum',
    description: 'Batches ingested (a repeated batch id counts in IngestDuplicateBatches instead)',
  },
  duplicateBatches: {
    name: 'IngestDuplicateBatches',
    unit: 'Count',
    dimensions: perView,
    statistic: 'Sum',
    description: 'Ingestions of a batch id already ingested (nothing written)',
  },
  ingestDuration: {
    name: 'IngestDuration',
    unit: 'Milliseconds',
    dimensions: perView,
    statistic: 'Maximum',
    description: 'Time one ingestion took',
  },
  recordsWritten: {
    name: 'MaterializeRecordsWritten',
    unit: 'Count',
    dimensions: perView,
    statistic: 'Sum',
    description: 'Latest values written to the online store',
  },
  recordsSkipped: {
    name: 'MaterializeRecordsSkipped',
    unit: 'Count',
    dimensions: perView,
    statistic: 'Sum',
    description: 'Records passed over because the online store already held a newer value',
  },
  recordsSetAside: {
    name: 'MaterializeRecordsSetAside',
    unit: 'Count',
    dimensions: perView,
    statistic: 'Sum',
    description: 'Records the online store could not take, set aside with their reason',
  },
  recordsExpired: {
    name: 'MaterializeRecordsExpired',
    unit: 'Count',
    dimensions: perView,
    statistic: 'Sum',
    description: 'Latest values already past their TTL, not written',
  },
  materializeDuration: {
    name: 'MaterializeDuration',
    unit: 'Milliseconds',
    dimensions: perView,
    statistic: 'Maximum',
    description: 'Time one materialization run took',
  },
  overlapsAvoided: {
    name: 'MaterializeOverlapsAvoided',
    unit: 'Count',
    dimensions: perView,
    statistic: 'Sum',
    description: 'Runs that found the view leased by a run still in progress and did nothing',
  },
  watermarkAge: {
    name: 'WatermarkAge',
    unit: 'Seconds',
    dimensions: perView,
    statistic: 'Maximum',
    description:
      'Seconds between the time up to which the view is online and the end of the run that put it there; emitted only by runs that move the watermark',
  },
  trainingSetRows: {
    name: 'TrainingSetRows',
    unit: 'Count',
    dimensions: [DIMENSIONS.service],
    statistic: 'Sum',
    description: 'Rows of the training sets built',
  },
  trainingSetDuration: {
    name: 'TrainingSetDuration',
    unit: 'Milliseconds',
    dimensions: [DIMENSIONS.service],
    statistic: 'Maximum',
    description: 'Time one training set took',
  },
} as const satisfies Record<string, MetricSpec>;

export type FeatureStoreMetric = keyof typeof FEATURE_STORE_METRICS;

const perModel = [DIMENSIONS.service, DIMENSIONS.model] as const;
const perVersion = [DIMENSIONS.service, DIMENSIONS.model, DIMENSIONS.version] as const;

/**
 * Metrics of the inference functions (service `inference`). Request-level metrics carry the model
 * and the serving version (`version` = the registry version, so two Lambda versions in a canary
 * are told apart), rolled up per model for the model's alarms.
 */
export const SERVING_METRICS = {
  latency: {
    name: 'PredictLatency',
    unit: 'Milliseconds',
    dimensions: perVersion,
    rollups: [perModel],
    statistic: 'Average',
    description: 'Time from request to response inside the function (parse, features, model, capture)',
  },
  modelLatency: {
    name: 'ModelLatency',
    unit: 'Milliseconds',
    dimensions: perVersion,
    rollups: [perModel],
    statistic: 'Average',
    description: 'Time the ONNX session took for one request (its whole batch)',
  },
  predictions: {
    name: 'Predictions',
    unit: 'Count',
    dimensions: [DIMENSIONS.service, DIMENSIONS.model, DIMENSIONS.version, DIMENSIONS.variant],
    rollups: [perModel, perVersion],
    statistic: 'Sum',
    description: 'Instances scored (a batch of 100 counts 100)',
  },
  requests: {
    name: 'PredictRequests',
    unit: 'Count',
    dimensions: perVersion,
    rollups: [perModel],
    statistic: 'Sum',
    description: 'Predict requests answered, successful or not',
  },
  errors: {
    name: 'PredictErrors',
    unit: 'Count',
    dimensions: [DIMENSIONS.service, DIMENSIONS.model, DIMENSIONS.version, DIMENSIONS.errorType],
    rollups: [perModel, perVersion],
    statistic: 'Sum',
    description: 'Requests answered with an error, by error code (4xx and 5xx alike)',
  },
  serverErrors: {
    name: 'PredictServerErrors',
    unit: 'Count',
    dimensions: perVersion,
    rollups: [perModel],
    statistic: 'Sum',
    description: 'Requests answered with a 5xx (the function or a dependency failed)',
  },
  coldStarts: {
    name: 'ColdStarts',
    unit: 'Count',
    dimensions: perVersion,
    rollups: [perModel],
    statistic: 'Sum',
    description: 'Function instances started (model loaded and warmed up)',
  },
  initDuration: {
    name: 'ModelInitDuration',
    unit: 'Milliseconds',
    dimensions: perVersion,
    rollups: [perModel],
    statistic: 'Maximum',
    description: 'Time to download, verify, load and warm up the model at cold start',
  },
  integrityFailures: {
    name: 'ModelIntegrityFailures',
    unit: 'Count',
    dimensions: perModel,
    statistic: 'Sum',
    description: 'Cold starts that refused to serve: the artifact did not match its registered SHA-256',
  },
  signingKeyFailures: {
    name: 'RequestSigningKeyFailures',
    unit: 'Count',
    dimensions: perModel,
    statistic: 'Sum',
    description:
      'Reads of the request-signing key that failed (at cold start: predict and feedback answer 502; on a refresh: the keys held go on)',
  },
  captured: {
    name: 'CaptureRecords',
    unit: 'Count',
    dimensions: perModel,
    statistic: 'Sum',
    description: 'Records delivered to the capture stream',
  },
  captureFailures: {
    name: 'CaptureFailures',
    unit: 'Count',
    dimensions: perModel,
    statistic: 'Sum',
    description: 'Records the capture stream did not take (the prediction was answered regardless)',
  },
  feedback: {
    name: 'FeedbackRecords',
    unit: 'Count',
    dimensions: perModel,
    statistic: 'Sum',
    description: 'Feedback records accepted',
  },
} as const satisfies Record<string, MetricSpec>;

export type ServingMetric = keyof typeof SERVING_METRICS;

const perFeature = [DIMENSIONS.service, DIMENSIONS.model, DIMENSIONS.feature] as const;

/**
 * Metrics of the drift function (service `drift`), one value per check of a window (the DriftMonitor
 * schedule). Drift metrics are emitted only with a verdict (enough rows, lambdas/drift/contract.ts
 * `minSamples`): an alarm on them never fires on a thin window, and `DriftCheckInsufficient` shows
 * the blind spots. Data-quality rates are emitted whenever the window held rows. Model-level maxima
 * carry "any feature" alarms without an alarm per feature; per-feature values feed the dashboard.
 */
export const DRIFT_METRICS = {
  featurePsi: {
    name: 'FeaturePsi',
    unit: 'None',
    dimensions: perFeature,
    statistic: 'Maximum',
    description: "The feature's PSI against the reference profile's bins",
  },
  featureKs: {
    name: 'FeatureKsStatistic',
    unit: 'None',
    dimensions: perFeature,
    statistic: 'Maximum',
    description: 'Two-sample Kolmogorov–Smirnov D of a numeric feature against the reference',
  },
  featureJs: {
    name: 'FeatureJsDistance',
    unit: 'None',
    dimensions: perFeature,
    statistic: 'Maximum',
    description: 'Jensen–Shannon distance (base 2) of the feature against the reference bins',
  },
  featureNullRate: {
    name: 'FeatureNullRate',
    unit: 'None',
    dimensions: perFeature,
    statistic: 'Maximum',
    description: "Share of the window's records with the feature null, missing or invalid",
  },
  maxFeaturePsi: {
    name: 'MaxFeaturePsi',
    unit: 'None',
    dimensions: perModel,
    statistic: 'Maximum',
    description: 'The largest feature PSI of the check (the "any feature drifted" alarm)',
  },
  driftShare: {
    name: 'DriftedFeatureShare',
    unit: 'None',
    dimensions: perModel,
    statistic: 'Maximum',
    description: 'Share of the checked features that drifted',
  },
  predictionPsi: {
    name: 'PredictionPsi',
    unit: 'None',
    dimensions: perModel,
    statistic: 'Maximum',
    description: "PSI of the window's prediction scores against the reference predictions",
  },
  nullRateIncrease: {
    name: 'MaxNullRateIncrease',
    unit: 'None',
    dimensions: perModel,
    statistic: 'Maximum',
    description: "The largest rise of a feature's null rate over its reference null rate",
  },
  outOfRangeRate: {
    name: 'MaxOutOfRangeRate',
    unit: 'None',
    dimensions: perModel,
    statistic: 'Maximum',
    description: "The largest share of a numeric feature's values outside the reference's [min, max]",
  },
  unseenCategoryRate: {
    name: 'MaxUnseenCategoryRate',
    unit: 'None',
    dimensions: perModel,
    statistic: 'Maximum',
    description: "The largest share of a categorical feature's values the reference never saw",
  },
  rowsChecked: {
    name: 'DriftCheckRows',
    unit: 'Count',
    dimensions: perModel,
    statistic: 'Sum',
    description: 'Prediction records of the served version the check read',
  },
  insufficient: {
    name: 'DriftCheckInsufficient',
    unit: 'Count',
    dimensions: perModel,
    statistic: 'Sum',
    description: 'Checks that gave no verdict: the window held fewer rows than minSamples (or none)',
  },
  findings: {
    name: 'DriftCheckFindings',
    unit: 'Count',
    dimensions: perModel,
    statistic: 'Sum',
    description: 'Data-quality findings of the check (malformed capture, missing features, …)',
  },
  modelQuality: {
    name: 'ModelQuality',
    unit: 'None',
    dimensions: perModel,
    statistic: 'Average',
    description: "The window's model quality from labelled feedback (AUC, accuracy or RMSE)",
  },
  qualityDrop: {
    name: 'ModelQualityDrop',
    unit: 'None',
    dimensions: perModel,
    statistic: 'Maximum',
    description: "Relative drop of the model quality below the version's evaluation",
  },
  labelled: {
    name: 'LabelledPredictions',
    unit: 'Count',
    dimensions: perModel,
    statistic: 'Sum',
    description: 'Captured predictions joined to a feedback outcome in the window',
  },
} as const satisfies Record<string, MetricSpec>;

export type DriftMetric = keyof typeof DRIFT_METRICS;
