/**
 * The metrics the functions emit: name, unit and dimensions, in one place that both sides import —
 * lambdas/shared/metrics.ts emits them (EMF through Powertools) and the constructs' `metricXxx()`
 * methods, alarms and dashboards read them (lib/). No SDK, no aws-cdk-lib. Change rule: add names,
 * do not rename (a renamed metric silently empties the alarms and dashboards built on the old one).
 *
 * Units are CloudWatch unit names, the same strings in Powertools' `MetricUnit` and CDK's `Unit`.
 */

/** Dimension names. `service` is Powertools' default dimension (POWERTOOLS_SERVICE_NAME). */
export const DIMENSIONS = { service: 'service', view: 'view' } as const;
export type DimensionName = (typeof DIMENSIONS)[keyof typeof DIMENSIONS];

/** Values of the `service` dimension. */
export const SERVICES = { featureStore: 'feature-store' } as const;

export type MetricUnitName = 'Count' | 'Milliseconds' | 'Seconds';

export interface MetricSpec {
  readonly name: string;
  readonly unit: MetricUnitName;
  /** Every dimension the metric is emitted with (CloudWatch identifies a metric by all of them). */
  readonly dimensions: readonly DimensionName[];
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
