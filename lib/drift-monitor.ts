/**
 * Drift and model-quality monitoring of the served models: per model an EventBridge schedule
 * (config `monitoring.schedule`, hourly by default, at most every 5 minutes) invokes the drift
 * function (lambdas/drift-check), which checks the capture window against the serving version's
 * reference profile, writes the JSON and HTML report under `reports/<model>/…` in the capture
 * bucket, and emits DRIFT_METRICS (lambdas/shared/metric-names.ts). From those metrics, and from
 * the inference metrics:
 *
 * - retraining alarms, named `<stack>/<model>/retrain/<check>` (layout.ts `retrainingAlarmName`,
 *   which the training pipeline's drift rule matches): a feature's PSI, the share of drifted
 *   features, the prediction PSI, and the model quality's drop below the version's evaluation;
 * - data-quality alarms (null rate rise, out-of-range share, unseen categories): retraining does
 *   not mend bad input, so these notify only;
 * - serving alarms: p95 latency, 5xx rate, and throughput below its anomaly-detection band;
 * - a CloudWatch dashboard per model built from the same `metricXxx()` methods.
 *
 * Every alarm notifies the project's alarm topic (lib/monitoring.ts). A check that fails (after
 * EventBridge's and Lambda's retries) lands in the failure queue, whose depth alarms.
 */
import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  checkIntervalMinutes,
  type MonitoringConfig,
  RETRAINING_CHECKS,
  windowMinutesOf,
} from '../lambdas/drift/config.js';
import type { DriftCheckEvent } from '../lambdas/drift/job.js';
import { ARTIFACT_KEYS, CAPTURE_PREFIX, ENV, retrainingAlarmName } from '../lambdas/shared/layout.js';
import { DRIFT_METRICS, type DriftMetric, SERVICES } from '../lambdas/shared/metric-names.js';
import { CAPTURE_BUFFERING, type InferenceApi } from './inference-api.js';
import { MlopsFunction } from './mlops-function.js';
import type { ModelRegistry } from './model-registry.js';
import { failureQueue, type Monitoring } from './monitoring.js';
import { acknowledge, prefixedBucketGrants } from './nag.js';
import { type DimensionValues, specMetric } from './spec-metric.js';

export interface DriftMonitorsProps {
  readonly inference: InferenceApi;
  readonly registry: ModelRegistry;
  readonly monitoring: Monitoring;
  readonly config: MonitoringConfig;
  /** The configured metrics namespace (the functions emit under it). */
  readonly metricsNamespace: string;
  /** Features per served model (their names as the capture records them), for the dashboard. */
  readonly features: ReadonlyMap<string, readonly string[]>;
  /** The stack name the retraining alarms are named under. @default Stack.of(this).stackName */
  readonly stackName?: string;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/** The drift function all served models share, and each model's {@link DriftMonitor}. */
export class DriftMonitors extends Construct {
  public readonly checkFunction: MlopsFunction;
  /** Checks that failed after their retries. */
  public readonly failures: sqs.Queue;
  /** Model name → its monitor. */
  public readonly monitors: ReadonlyMap<string, DriftMonitor>;
  private readonly namespace: string;

  constructor(scope: Construct, id: string, props: DriftMonitorsProps) {
    super(scope, id);
    const { inference, registry } = props;
    this.namespace = props.metricsNamespace;
    this.failures = failureQueue(this, 'Failures', 'drift checks that failed after their retries');
    props.monitoring.alarmOnDeadLetters(this.failures);
    this.checkFunction = new MlopsFunction(this, 'Check', {
      name: 'drift-check',
      description:
        'Drift check of a capture window against the serving version reference profile: report, metrics',
      // A window of a million records: its numeric columns sorted in memory, CPU with the memory.
      memorySize: 3008,
      timeout: Duration.minutes(15),
      asyncFailure: { queue: this.failures },
      logRetention: props.logRetention,
      logRemovalPolicy: props.removalPolicy,
      environment: {
        [ENV.registryTable]: registry.table.tableName,
        [ENV.artifactBucket]: registry.artifactBucket.bucketName,
        [ENV.captureBucket]: inference.captureBucket.bucketName,
        [ENV.serviceName]: SERVICES.drift,
      },
    });
    const fn = this.checkFunction;
    registry.grantGetVersion(fn);
    registry.grantReadArtifacts(fn);
    inference.captureBucket.grantRead(fn, `${CAPTURE_PREFIX.capture}*`);
    // Reports are written, and the latest-report pointer read before it is moved (lambdas/drift/report-store.ts).
    inference.captureBucket.grantRead(fn, `${CAPTURE_PREFIX.reports}*`);
    inference.captureBucket.grantPut(fn, `${CAPTURE_PREFIX.reports}*`);
    acknowledge(
      fn.executionRole,
      ...prefixedBucketGrants(
        inference.captureBucket,
        {
          read: [`${CAPTURE_PREFIX.capture}*`, `${CAPTURE_PREFIX.reports}*`],
          put: [`${CAPTURE_PREFIX.reports}*`],
        },
        'reading capture and writing drift reports',
      ),
      ...prefixedBucketGrants(
        registry.artifactBucket,
        { read: [ARTIFACT_KEYS.models] },
        "The drift check reads the serving version's reference profile; keys are content-addressed, so not known in advance",
      ),
    );

    const monitors = new Map<string, DriftMonitor>();
    const stackName = props.stackName ?? Stack.of(this).stackName;
    for (const name of inference.models.keys())
      monitors.set(
        name,
        new DriftMonitor(this, `Model${name.replace(/[^A-Za-z0-9]/g, '')}`, {
          model: name,
          monitors: this,
          inference,
          monitoring: props.monitoring,
          config: props.config,
          features: props.features.get(name) ?? [],
          stackName,
        }),
      );
    this.monitors = monitors;
  }

  /** A drift metric of `model` (and `feature` for the per-feature ones), as the drift function emits it. */
  metric(key: DriftMetric, where: DimensionValues, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return specMetric(this.namespace, SERVICES.drift, DRIFT_METRICS[key], where, props);
  }

  /** A feature's PSI against its reference bins. Unit: None; default statistic: Maximum. */
  metricFeaturePsi(model: string, feature: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('featurePsi', { model, feature }, props);
  }

  /** A numeric feature's KS D against the reference sample. Unit: None; default statistic: Maximum. */
  metricFeatureKs(model: string, feature: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('featureKs', { model, feature }, props);
  }

  /** A feature's Jensen–Shannon distance (base 2). Unit: None; default statistic: Maximum. */
  metricFeatureJs(model: string, feature: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('featureJs', { model, feature }, props);
  }

  /** A feature's null (or invalid) share in the window. Unit: None; default statistic: Maximum. */
  metricFeatureNullRate(model: string, feature: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('featureNullRate', { model, feature }, props);
  }

  /** The largest feature PSI of a check (the feature-psi alarm). Unit: None; default statistic: Maximum. */
  metricMaxFeaturePsi(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('maxFeaturePsi', { model }, props);
  }

  /** Share of checked features that drifted. Unit: None; default statistic: Maximum. */
  metricDriftShare(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('driftShare', { model }, props);
  }

  /** PSI of the predictions' scores. Unit: None; default statistic: Maximum. */
  metricPredictionPsi(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('predictionPsi', { model }, props);
  }

  /** The largest rise of a null rate over the reference's. Unit: None; default statistic: Maximum. */
  metricNullRateIncrease(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('nullRateIncrease', { model }, props);
  }

  /** The largest out-of-range share of a numeric feature. Unit: None; default statistic: Maximum. */
  metricOutOfRangeRate(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('outOfRangeRate', { model }, props);
  }

  /** The largest share of unseen categories. Unit: None; default statistic: Maximum. */
  metricUnseenCategoryRate(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('unseenCategoryRate', { model }, props);
  }

  /** Prediction records a check read. Unit: Count; default statistic: Sum. */
  metricRowsChecked(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('rowsChecked', { model }, props);
  }

  /** Checks without a verdict. Unit: Count; default statistic: Sum. */
  metricInsufficientChecks(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('insufficient', { model }, props);
  }

  /** Data-quality findings of the checks. Unit: Count; default statistic: Sum. */
  metricFindings(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('findings', { model }, props);
  }

  /** Model quality on labelled feedback. Unit: None; default statistic: Average. */
  metricModelQuality(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('modelQuality', { model }, props);
  }

  /** Relative drop of the quality below the evaluation. Unit: None; default statistic: Maximum. */
  metricQualityDrop(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('qualityDrop', { model }, props);
  }

  /** Predictions joined to a label. Unit: Count; default statistic: Sum. */
  metricLabelledPredictions(model: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('labelled', { model }, props);
  }
}

interface DriftMonitorProps {
  readonly model: string;
  readonly monitors: DriftMonitors;
  readonly inference: InferenceApi;
  readonly monitoring: Monitoring;
  readonly config: MonitoringConfig;
  readonly features: readonly string[];
  readonly stackName: string;
}

/** One model's schedule, alarms and dashboard (see the file header). */
export class DriftMonitor extends Construct {
  public readonly schedule: events.Rule;
  /** Alarms whose ALARM starts a retraining (named under the retraining prefix). */
  public readonly retrainingAlarms: cloudwatch.Alarm[] = [];
  public readonly dataQualityAlarms: cloudwatch.Alarm[] = [];
  public readonly servingAlarms: cloudwatch.Alarm[] = [];
  /** Alarms when no check ran in two schedule intervals. */
  public readonly heartbeatAlarm: cloudwatch.Alarm;
  public readonly dashboard: cloudwatch.Dashboard;
  private readonly props: DriftMonitorProps;

  constructor(scope: Construct, id: string, props: DriftMonitorProps) {
    super(scope, id);
    this.props = props;
    const { model, config, monitors, inference } = props;
    const windowMinutes = windowMinutesOf(config);
    const input: DriftCheckEvent = {
      model,
      windowMinutes,
      lagSeconds: CAPTURE_BUFFERING.interval.toSeconds() + 60,
      thresholds: config.thresholds,
      minLabelled: config.minLabelled,
      labelLookbackHours: config.labelLookbackHours,
    };
    this.schedule = new events.Rule(this, 'Schedule', {
      description: `Drift check of ${model}'s capture every ${config.schedule}`,
      schedule: events.Schedule.expression(config.schedule),
      enabled: config.enabled,
      targets: [
        new targets.LambdaFunction(monitors.checkFunction, {
          // The scheduled time ends the window: a retried delivery checks the same window.
          event: events.RuleTargetInput.fromObject({ ...input, time: events.EventField.time }),
          retryAttempts: 2,
          maxEventAge: Duration.hours(1),
          deadLetterQueue: monitors.failures,
        }),
      ],
    });

    // One check per schedule interval: an alarm period of one interval sees one check's value, and
    // recovers at the next check (a period of a longer window would hold an ALARM past recovery).
    const period = Duration.minutes(checkIntervalMinutes(config));
    const drift = (key: DriftMetric, feature?: string) =>
      monitors.metric(key, { model, ...(feature === undefined ? {} : { feature }) }, { period });
    const t = config.thresholds;
    const retrain = (check: string, metric: cloudwatch.IMetric, threshold: number, description: string) => {
      const alarm = props.monitoring.notify(
        new cloudwatch.Alarm(
          this,
          `Retrain${check.replace(/(^|-)(\w)/g, (_, __, c: string) => c.toUpperCase())}`,
          {
            alarmName: retrainingAlarmName(props.stackName, model, check),
            alarmDescription: description,
            metric,
            threshold,
            comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluationPeriods: 1,
            // No check, or a thin window, is no evidence of drift.
            treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
          },
        ),
      );
      this.retrainingAlarms.push(alarm);
      return alarm;
    };
    retrain(
      RETRAINING_CHECKS.featurePsi,
      monitors.metricMaxFeaturePsi(model, { period }),
      t.featurePsi,
      `A feature of ${model} drifted: PSI above ${t.featurePsi} against the reference profile (see the drift report)`,
    );
    retrain(
      RETRAINING_CHECKS.driftShare,
      monitors.metricDriftShare(model, { period }),
      t.driftShare,
      `Over ${t.driftShare * 100}% of ${model}'s features drifted in one window`,
    );
    retrain(
      RETRAINING_CHECKS.predictionPsi,
      monitors.metricPredictionPsi(model, { period }),
      t.predictionPsi,
      `${model}'s predictions drifted: PSI above ${t.predictionPsi} against the reference predictions`,
    );
    retrain(
      RETRAINING_CHECKS.modelQuality,
      monitors.metricQualityDrop(model, { period }),
      config.qualityDrop,
      `${model}'s quality on labelled feedback fell over ${config.qualityDrop * 100}% below its evaluation`,
    );

    const quality = (id: string, key: DriftMetric, threshold: number, description: string) => {
      const alarm = props.monitoring.notify(
        new cloudwatch.Alarm(this, id, {
          alarmDescription: description,
          metric: drift(key),
          threshold,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
      this.dataQualityAlarms.push(alarm);
    };
    quality(
      'NullRateAlarm',
      'nullRateIncrease',
      t.nullRateIncrease,
      `A feature of ${model} is null ${t.nullRateIncrease * 100} points more often than in its reference data`,
    );
    quality(
      'OutOfRangeAlarm',
      'outOfRangeRate',
      t.outOfRangeRate,
      `Over ${t.outOfRangeRate * 100}% of a numeric feature of ${model} fell outside the reference's range`,
    );
    quality(
      'UnseenCategoriesAlarm',
      'unseenCategoryRate',
      t.unseenCategoryRate,
      `Over ${t.unseenCategoryRate * 100}% of a categorical feature of ${model} took values never seen in training`,
    );

    // A monitor that stops checking is silent otherwise (every drift alarm treats missing data as
    // not breaching): no check at all in two intervals alarms.
    this.heartbeatAlarm = props.monitoring.notify(
      new cloudwatch.Alarm(this, 'NoCheckAlarm', {
        alarmDescription: `No drift check of ${model} ran in two intervals (${config.schedule}): see the drift function's log and failure queue`,
        metric: monitors.metricRowsChecked(model, { period, statistic: cloudwatch.Stats.SAMPLE_COUNT }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 2,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    );
    const servingPeriod = Duration.minutes(5);
    const serving = config.serving;
    this.servingAlarms.push(
      props.monitoring.notify(
        new cloudwatch.Alarm(this, 'LatencyP95Alarm', {
          alarmDescription: `${model}'s p95 predict latency inside the function exceeded ${serving.latencyP95Ms} ms for 15 minutes`,
          metric: inference.metricLatency(model, { period: servingPeriod, statistic: 'p95' }),
          threshold: serving.latencyP95Ms,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 3,
          datapointsToAlarm: 3,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      ),
      props.monitoring.notify(
        new cloudwatch.Alarm(this, 'ErrorRateAlarm', {
          alarmDescription: `Over ${serving.errorRatePercent}% of ${model}'s predict requests answered 5xx in 5 minutes`,
          metric: new cloudwatch.MathExpression({
            expression: 'IF(requests > 0, 100 * FILL(serverErrors, 0) / requests, 0)',
            usingMetrics: {
              requests: inference.metricRequests(model, { period: servingPeriod }),
              serverErrors: inference.metricServerErrors(model, { period: servingPeriod }),
            },
            period: servingPeriod,
            label: `${model} 5xx %`,
          }),
          threshold: serving.errorRatePercent,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      ),
      props.monitoring.notify(
        new cloudwatch.AnomalyDetectionAlarm(this, 'ThroughputAlarm', {
          alarmDescription: `${model}'s predict requests fell below their expected band (${serving.throughputBandStdDevs} standard deviations) for 15 minutes`,
          metric: inference.metricRequests(model, { period: servingPeriod }),
          stdDevs: serving.throughputBandStdDevs,
          comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_LOWER_THRESHOLD,
          evaluationPeriods: 3,
          datapointsToAlarm: 3,
          // No requests at all is the lowest throughput there is.
          treatMissingData: cloudwatch.TreatMissingData.BREACHING,
        }),
      ),
    );
    this.dashboard = this.buildDashboard();
  }

  private buildDashboard(): cloudwatch.Dashboard {
    const { model, monitors, inference, features, config } = this.props;
    const period = Duration.minutes(checkIntervalMinutes(config));
    const drift = (key: DriftMetric, feature?: string) =>
      monitors.metric(
        key,
        { model, ...(feature === undefined ? {} : { feature }) },
        { period, ...(feature === undefined ? {} : { label: feature }) },
      );
    const perFeature = (key: DriftMetric) => features.map((f) => drift(key, f));
    const servingPeriod = Duration.minutes(5);
    const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []) =>
      new cloudwatch.GraphWidget({ title, left, right, width: 8, height: 6 });
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${this.props.stackName}-${model}`.replace(/[^A-Za-z0-9_-]/g, '-'),
    });
    dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: `${model}: alarms`,
        alarms: [
          ...this.retrainingAlarms,
          ...this.dataQualityAlarms,
          this.heartbeatAlarm,
          ...this.servingAlarms,
        ],
        width: 24,
        height: 4,
      }),
    );
    dashboard.addWidgets(
      graph(
        'Requests and errors',
        [
          inference.metricRequests(model, { period: servingPeriod }),
          inference.metricPredictions(model, { period: servingPeriod }),
        ],
        [
          inference.metricErrors(model, { period: servingPeriod }),
          inference.metricServerErrors(model, { period: servingPeriod }),
        ],
      ),
      graph('Latency (ms)', [
        inference.metricLatency(model, { period: servingPeriod, statistic: 'p50' }),
        inference.metricLatency(model, { period: servingPeriod, statistic: 'p95' }),
        inference.metricLatency(model, { period: servingPeriod, statistic: 'p99' }),
        inference.metricModelLatency(model, { period: servingPeriod, statistic: 'p95' }),
      ]),
      graph(
        'Instances and capture',
        [
          inference.metricColdStarts(model, { period: servingPeriod }),
          inference.metricIntegrityFailures(model, { period: servingPeriod }),
          inference.metricCaptured(model, { period: servingPeriod }),
          inference.metricCaptureFailures(model, { period: servingPeriod }),
          inference.metricFeedback(model, { period: servingPeriod }),
        ],
        [inference.metricInitDuration(model, { period: servingPeriod })],
      ),
    );
    dashboard.addWidgets(
      graph("Drift: the alarms' values", [
        drift('maxFeaturePsi'),
        drift('predictionPsi'),
        drift('driftShare'),
      ]),
      graph('Feature PSI', perFeature('featurePsi')),
      graph('Feature KS D and JS distance', [...perFeature('featureKs'), ...perFeature('featureJs')]),
    );
    dashboard.addWidgets(
      graph('Data quality', [
        drift('nullRateIncrease'),
        drift('outOfRangeRate'),
        drift('unseenCategoryRate'),
      ]),
      graph('Feature null rate', perFeature('featureNullRate')),
      graph('Checks', [drift('rowsChecked'), drift('labelled')], [drift('insufficient'), drift('findings')]),
    );
    dashboard.addWidgets(graph('Model quality', [drift('modelQuality')], [drift('qualityDrop')]));
    return dashboard;
  }
}
