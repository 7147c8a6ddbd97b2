/**
 * The feature store: an S3 offline store (Parquet under `features/<view>/date=YYYY-MM-DD/`, one
 * Glue table per view with partition projection, so Athena queries it at any scale without
 * crawlers), a DynamoDB online store (one item per view and entity, TTL enabled), and the ingestion
 * function. Feature view definitions come from the project configuration and are baked into the
 * function bundles, so the CDK app and the Lambdas read the same definitions.
 */
import { ArnFormat, Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { FeatureView } from '../lambdas/feature-store/feature-view.js';
import { parquetColumns } from '../lambdas/feature-store/parquet-codec.js';
import { LEASE_TABLE_KEY, LEASE_TTL_ATTRIBUTE } from '../lambdas/feature-store/view-lease.js';
import {
  ENV,
  FEATURE_VIEWS_DEFINE,
  featureViewPrefix,
  landingViewPrefix,
  OFFLINE_KEYS,
  OFFLINE_PARTITION_COLUMN,
  OFFLINE_PREFIX,
  ONLINE_ITEM,
} from '../lambdas/shared/layout.js';
import {
  DIMENSIONS,
  FEATURE_STORE_METRICS,
  type FeatureStoreMetric,
  SERVICES,
} from '../lambdas/shared/metric-names.js';
import type { MlopsConfig } from './config.js';
import { MlopsFunction } from './mlops-function.js';
import { failureQueue, type Monitoring } from './monitoring.js';
import { acknowledge, invokeQualifiedFunction, type NagFinding, prefixedBucketGrants } from './nag.js';
import { secureBucket } from './secure-bucket.js';

export interface FeatureStoreProps {
  /** The validated feature view definitions (configuration `featureViews`). */
  readonly featureViews: readonly FeatureView[];
  /** Bucket that receives the offline bucket's server access logs. */
  readonly accessLogsBucket: s3.IBucket;
  /** What happens to the stores and log groups when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /** Days the functions' logs are kept. */
  readonly logRetention: logs.RetentionDays;
  /** Lifecycle of the offline bucket's prefixes (configuration `storage`). */
  readonly storage: MlopsConfig['storage'];
  /** CloudWatch namespace of the functions' metrics (configuration `metricsNamespace`). */
  readonly metricsNamespace: string;
  /** Alarm topic and standard alarms: failure queues and feature freshness are watched through it. */
  readonly monitoring: Monitoring;
}

export class FeatureStore extends Construct {
  public readonly offlineBucket: s3.Bucket;
  /** One item per view and entity: pk = `<view>#<entity key>`. */
  public readonly onlineTable: dynamodb.Table;
  public readonly database: glue.CfnDatabase;
  /** Glue tables by feature view name. */
  public readonly tables: ReadonlyMap<string, glue.CfnTable>;
  /** Ingests a batch landed under `landing/` (event: { view, batchId, format, sourceKey }). */
  public readonly ingestFunction: MlopsFunction;
  /** Materializes one online view (event: { view }); each online view has its own schedule. */
  public readonly materializeFunction: MlopsFunction;
  /** Builds a point-in-time training set (event: { entityRowsKey, featureRefs, name? }). */
  public readonly trainingSetFunction: MlopsFunction;
  /** One lease item per view, so materialization of a view never overlaps itself. */
  public readonly leaseTable: dynamodb.Table;
  /** Failed ingestions (on-failure destination) and undeliverable landing events (rule DLQ). */
  public readonly ingestFailures: sqs.Queue;
  /** Failed materializations (on-failure destination) and undeliverable schedule events (rule DLQ). */
  public readonly materializeFailures: sqs.Queue;
  /** Feature freshness alarms by online view name. */
  public readonly freshnessAlarms: ReadonlyMap<string, cloudwatch.Alarm>;
  private readonly metricsNamespace: string;

  constructor(scope: Construct, id: string, props: FeatureStoreProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.metricsNamespace = props.metricsNamespace;
    const { storage } = props;

    // Versioned: an overwrite or delete (a rerun, a bug, a role that can put) keeps the old version
    // for `noncurrentVersionExpirationDays`.
    this.offlineBucket = secureBucket(this, 'Offline', {
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: `${stack.stackName}/feature-store/`,
      versioned: true,
      lifecycleRules: [
        { noncurrentVersionExpiration: Duration.days(storage.noncurrentVersionExpirationDays) },
        { prefix: OFFLINE_PREFIX.landing, expiration: Duration.days(storage.landingExpirationDays) },
        { prefix: OFFLINE_PREFIX.quarantine, expiration: Duration.days(storage.quarantineExpirationDays) },
        // Files of a batch that failed before its commit: a rerun of the landed batch finishes or
        // replaces them, so they live as long as landed batches do.
        { prefix: OFFLINE_PREFIX.staging, expiration: Duration.days(storage.landingExpirationDays) },
        {
          prefix: OFFLINE_PREFIX.datasets,
          transitions: [
            {
              storageClass: s3.StorageClass.INFREQUENT_ACCESS,
              transitionAfter: Duration.days(storage.datasetsInfrequentAccessDays),
            },
          ],
          ...(storage.datasetsExpirationDays === null
            ? {}
            : { expiration: Duration.days(storage.datasetsExpirationDays) }),
        },
      ],
      removalPolicy: props.removalPolicy,
    });
    // Object-created events go to EventBridge (the landing rule below starts ingestions). Set on the
    // bucket resource itself: the `eventBridgeEnabled` prop would add a custom-resource Lambda.
    (this.offlineBucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };

    this.onlineTable = new dynamodb.Table(this, 'Online', {
      partitionKey: { name: ONLINE_ITEM.partitionKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: ONLINE_ITEM.ttl,
      removalPolicy: props.removalPolicy,
    });

    const databaseName = `${stack.stackName.toLowerCase().replace(/[^a-z0-9]/g, '_')}_features`;
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: stack.account,
      databaseInput: { name: databaseName, description: 'serverless-mlops offline feature store' },
    });

    const tables = new Map<string, glue.CfnTable>();
    for (const view of props.featureViews) {
      const location = `s3://${this.offlineBucket.bucketName}/${featureViewPrefix(view.name)}`;
      const table = new glue.CfnTable(this, `Table-${view.name}`, {
        catalogId: stack.account,
        databaseName,
        tableInput: {
          name: view.name,
          description: view.description || `Feature view ${view.name}`,
          tableType: 'EXTERNAL_TABLE',
          parameters: {
            classification: 'parquet',
            owner: view.owner,
            'projection.enabled': 'true',
            [`projection.${OFFLINE_PARTITION_COLUMN}.type`]: 'date',
            [`projection.${OFFLINE_PARTITION_COLUMN}.format`]: 'yyyy-MM-dd',
            // Ingestion accepts event times from 2000 to a day past the ingestion (row-validation.ts).
            [`projection.${OFFLINE_PARTITION_COLUMN}.range`]: '2000-01-01,NOW+1DAYS',
            [`projection.${OFFLINE_PARTITION_COLUMN}.interval`]: '1',
            [`projection.${OFFLINE_PARTITION_COLUMN}.interval.unit`]: 'DAYS',
            'storage.location.template': `${location}${OFFLINE_PARTITION_COLUMN}=\${${OFFLINE_PARTITION_COLUMN}}/`,
          },
          partitionKeys: [{ name: OFFLINE_PARTITION_COLUMN, type: 'string' }],
          storageDescriptor: {
            location,
            inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
            outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
            serdeInfo: {
              serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
            },
            columns: parquetColumns(view).map((c) => ({ name: c.name, type: c.glueType })),
          },
        },
      });
      table.node.addDependency(this.database);
      tables.set(view.name, table);
    }
    this.tables = tables;

    this.leaseTable = new dynamodb.Table(this, 'Leases', {
      partitionKey: { name: LEASE_TABLE_KEY, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: LEASE_TTL_ATTRIBUTE,
      removalPolicy: props.removalPolicy,
    });

    this.ingestFailures = failureQueue(this, 'IngestFailures', 'failed ingestions and landing events');
    this.materializeFailures = failureQueue(
      this,
      'MaterializeFailures',
      'failed materializations and schedule events',
    );
    props.monitoring.alarmOnDeadLetters(this.ingestFailures);
    props.monitoring.alarmOnDeadLetters(this.materializeFailures);

    // Every feature-store function gets the validated views baked into its bundle (esbuild define).
    const shared = {
      define: { [FEATURE_VIEWS_DEFINE]: JSON.stringify(props.featureViews) },
      logRetention: props.logRetention,
      logRemovalPolicy: props.removalPolicy,
      metricsNamespace: props.metricsNamespace,
    };
    this.ingestFunction = new MlopsFunction(this, 'Ingest', {
      name: 'ingest-features',
      description: 'Validates a landed batch and writes it to the offline store as Parquet',
      environment: {
        [ENV.offlineBucket]: this.offlineBucket.bucketName,
        [ENV.serviceName]: SERVICES.featureStore,
      },
      ...shared,
      memorySize: 2048,
      timeout: Duration.minutes(5),
      asyncFailure: { queue: this.ingestFailures },
    });
    this.grantIngest(this.ingestFunction);

    this.materializeFunction = new MlopsFunction(this, 'Materialize', {
      name: 'materialize-features',
      description: 'Writes the latest value per entity since the last watermark to the online store',
      environment: {
        [ENV.offlineBucket]: this.offlineBucket.bucketName,
        [ENV.onlineTable]: this.onlineTable.tableName,
        [ENV.leaseTable]: this.leaseTable.tableName,
        [ENV.serviceName]: SERVICES.featureStore,
      },
      ...shared,
      memorySize: 3008,
      timeout: Duration.minutes(15),
      // A schedule fires again soon; a retry of a run that failed would only compete with it.
      asyncFailure: { queue: this.materializeFailures, retryAttempts: 0 },
    });
    this.leaseTable.grant(this.materializeFunction, 'dynamodb:PutItem', 'dynamodb:DeleteItem');
    this.offlineBucket.grantRead(this.materializeFunction, OFFLINE_KEYS.ingestion);
    this.offlineBucket.grantRead(this.materializeFunction, OFFLINE_KEYS.ingestionLog);
    this.offlineBucket.grantRead(this.materializeFunction, OFFLINE_KEYS.features);
    this.offlineBucket.grantRead(this.materializeFunction, OFFLINE_KEYS.materialization);
    this.offlineBucket.grantPut(this.materializeFunction, OFFLINE_KEYS.materialization);
    // Conditional Puts inside TransactWriteItems: PutItem is the only action they need.
    this.onlineTable.grant(this.materializeFunction, 'dynamodb:PutItem');
    this.trainingSetFunction = new MlopsFunction(this, 'BuildTrainingSet', {
      name: 'build-training-set',
      description: 'Builds a point-in-time-correct training set from the offline store',
      environment: {
        [ENV.offlineBucket]: this.offlineBucket.bucketName,
        [ENV.serviceName]: SERVICES.featureStore,
      },
      ...shared,
      memorySize: 10_240,
      timeout: Duration.minutes(15),
    });
    this.offlineBucket.grantRead(this.trainingSetFunction, OFFLINE_KEYS.landing);
    this.grantBuildTrainingSets(this.trainingSetFunction);

    // A batch landed under landing/<view>/ starts its ingestion (asynchronously); one that cannot be
    // ingested (bad key, bad file) ends in the failure queue, whose alarm says so.
    const views = props.featureViews.map((v) => v.name);
    if (views.length > 0) {
      new events.Rule(this, 'Landed', {
        description: 'Ingests each batch landed under landing/<view>/',
        eventPattern: {
          source: ['aws.s3'],
          detailType: ['Object Created'],
          detail: {
            bucket: { name: [this.offlineBucket.bucketName] },
            object: { key: views.map((view) => ({ prefix: landingViewPrefix(view) })) },
          },
        },
        targets: [
          new targets.LambdaFunction(this.ingestFunction, {
            deadLetterQueue: this.ingestFailures,
            retryAttempts: 8,
            maxEventAge: Duration.hours(24),
          }),
        ],
      });
    }

    const freshness = new Map<string, cloudwatch.Alarm>();
    for (const view of props.featureViews.filter((v) => v.online)) {
      new events.Rule(this, `Materialize-${view.name}`, {
        description: `Materializes feature view ${view.name}`,
        schedule: events.Schedule.rate(Duration.minutes(view.materializeEveryMinutes)),
        targets: [
          new targets.LambdaFunction(this.materializeFunction, {
            event: events.RuleTargetInput.fromObject({ view: view.name }),
            deadLetterQueue: this.materializeFailures,
            retryAttempts: 2,
            maxEventAge: Duration.minutes(Math.max(1, view.materializeEveryMinutes)),
          }),
        ],
      });
      freshness.set(view.name, props.monitoring.notify(this.freshnessAlarm(view)));
    }
    this.freshnessAlarms = freshness;

    acknowledge(
      this.ingestFunction.executionRole,
      ...prefixedBucketGrants(
        this.offlineBucket,
        {
          read: [
            OFFLINE_KEYS.landing,
            OFFLINE_KEYS.ingestion,
            OFFLINE_KEYS.ingestionLog,
            OFFLINE_KEYS.staging,
          ],
          put: [
            OFFLINE_KEYS.features,
            OFFLINE_KEYS.quarantine,
            OFFLINE_KEYS.ingestion,
            OFFLINE_KEYS.ingestionLog,
            OFFLINE_KEYS.staging,
          ],
          delete: [OFFLINE_KEYS.staging],
        },
        'Ingestion reads landed batches and writes per-batch objects whose keys derive from view and batch id',
      ),
    );
    acknowledge(
      this.materializeFunction.executionRole,
      ...prefixedBucketGrants(
        this.offlineBucket,
        {
          read: [
            OFFLINE_KEYS.ingestion,
            OFFLINE_KEYS.ingestionLog,
            OFFLINE_KEYS.features,
            OFFLINE_KEYS.materialization,
          ],
          put: [OFFLINE_KEYS.materialization],
        },
        'Materialization reads manifests and feature files and keeps its watermark',
      ),
    );
    acknowledge(
      this.trainingSetFunction.executionRole,
      ...prefixedBucketGrants(
        this.offlineBucket,
        {
          read: [OFFLINE_KEYS.landing, OFFLINE_KEYS.features, OFFLINE_KEYS.ingestion, OFFLINE_KEYS.datasets],
          put: [OFFLINE_KEYS.datasets],
        },
        'Training sets read entity rows, batch manifests and feature files and write datasets',
      ),
    );
  }

  /**
   * ALARM when the view's online values fall behind: no successful materialization within two
   * schedule intervals (missing data is breaching), or a run whose watermark age at its end exceeds
   * one interval. Periods are at most a day and the whole window at most 7 days (CloudWatch's
   * limits), so views scheduled less often than every 3.5 days are checked over 7 days.
   */
  private freshnessAlarm(view: FeatureView): cloudwatch.Alarm {
    const day = 24 * 60;
    const windowMinutes = 2 * view.materializeEveryMinutes;
    const periodMinutes = Math.min(windowMinutes, day);
    const periods = Math.min(Math.ceil(windowMinutes / periodMinutes), 7);
    return new cloudwatch.Alarm(this, `Freshness-${view.name}`, {
      alarmDescription: `Feature view ${view.name} is stale: no materialization in ${periods * periodMinutes} minutes, or the online store lags by more than its ${view.materializeEveryMinutes}-minute schedule (see ${this.materializeFailures.node.path})`,
      metric: this.metricWatermarkAge(view.name, { period: Duration.minutes(periodMinutes) }),
      threshold: view.materializeEveryMinutes * 60,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: periods,
      datapointsToAlarm: periods,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
  }

  /**
   * A feature-store metric as the functions emit it (lambdas/shared/metric-names.ts): the
   * configured namespace, dimensions `service` and (for per-view metrics) `view`, the metric's
   * default statistic; `props` overrides period, statistic, label and so on.
   */
  metric(
    key: FeatureStoreMetric,
    view: string | undefined,
    props?: cloudwatch.MetricOptions,
  ): cloudwatch.Metric {
    const spec = FEATURE_STORE_METRICS[key];
    const perView = (spec.dimensions as readonly string[]).includes(DIMENSIONS.view);
    if (perView && view === undefined) throw new Error(`${spec.name} is per view: name the view`);
    return new cloudwatch.Metric({
      namespace: this.metricsNamespace,
      metricName: spec.name,
      unit: spec.unit as cloudwatch.Unit,
      statistic: spec.statistic,
      ...props,
      dimensionsMap: {
        [DIMENSIONS.service]: SERVICES.featureStore,
        ...(perView && view !== undefined ? { [DIMENSIONS.view]: view } : {}),
        ...props?.dimensionsMap,
      },
    });
  }

  /** Rows ingestion accepted into the view. Unit: Count; default statistic: Sum. */
  metricRowsAccepted(view: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('rowsAccepted', view, props);
  }

  /** Rows ingestion quarantined for the view. Unit: Count; default statistic: Sum. */
  metricRowsRejected(view: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('rowsRejected', view, props);
  }

  /** Batches ingested into the view. Unit: Count; default statistic: Sum. */
  metricBatchesIngested(view: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('batchesIngested', view, props);
  }

  /** Ingestions of a batch id already ingested. Unit: Count; default statistic: Sum. */
  metricDuplicateBatches(view: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('duplicateBatches', view, props);
  }

  /** Time one ingestion took. Unit: Milliseconds; default statistic: Maximum. */
  metricIngestDuration(view: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ingestDuration', view, props);
  }

  /** Latest values written online. Unit: Count; default statistic: Sum. */
  metricRecordsWritten(view: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('recordsWritten', view, props);
  }

  /** Records passed over as older than the online value. Unit: Count; default statistic: Sum. */
  metricRecordsSkipped(view: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('recordsSkipped', view, props);
  }

  /** Records the online store could not take, set aside. Unit: Count; default statistic: Sum. */
  metricRecordsSetAside(view: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('recordsSetAside', view, props);
  }

  /** Latest values already expired, not written. Unit: Count; default statistic: Sum. */
  metricRecordsExpired(view: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('recordsExpired', view, props);
  }

  /** Time one materialization run took. Unit: Milliseconds; default statistic: Maximum. */
  metricMaterializeDuration(view: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('materializeDuration', view, props);
  }

  /** Runs that found the view leased by another and did nothing. Unit: Count; default statistic: Sum. */
  metricOverlapsAvoided(view: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('overlapsAvoided', view, props);
  }

  /**
   * How far the online store lags, at the end of each run that moved the watermark (absent when no
   * run succeeded). Unit: Seconds; default statistic: Maximum.
   */
  metricWatermarkAge(view: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('watermarkAge', view, props);
  }

  /** Rows of the training sets built. Unit: Count; default statistic: Sum. */
  metricTrainingSetRows(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('trainingSetRows', undefined, props);
  }

  /** Time one training set took. Unit: Milliseconds; default statistic: Maximum. */
  metricTrainingSetDuration(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('trainingSetDuration', undefined, props);
  }

  /**
   * Lets `grantee` do what ingestion does: read landed batches and manifests, write feature files,
   * quarantine, manifests and log entries (the ingest function has it).
   */
  grantIngest(grantee: iam.IGrantable): iam.Grant {
    this.offlineBucket.grantRead(grantee, OFFLINE_KEYS.landing);
    this.offlineBucket.grantRead(grantee, OFFLINE_KEYS.ingestion);
    this.offlineBucket.grantRead(grantee, OFFLINE_KEYS.ingestionLog); // a rerun checks its batch's entry
    // Files are staged, then copied under features/ once the manifest commits, and the staged copy deleted.
    this.offlineBucket.grantRead(grantee, OFFLINE_KEYS.staging);
    this.offlineBucket.grantPut(grantee, OFFLINE_KEYS.staging);
    this.offlineBucket.grantDelete(grantee, OFFLINE_KEYS.staging);
    this.offlineBucket.grantPut(grantee, OFFLINE_KEYS.features);
    this.offlineBucket.grantPut(grantee, OFFLINE_KEYS.quarantine);
    this.offlineBucket.grantPut(grantee, OFFLINE_KEYS.ingestionLog);
    return this.offlineBucket.grantPut(grantee, OFFLINE_KEYS.ingestion);
  }

  /**
   * Lets `grantee` build point-in-time training sets: read feature files and ingestion manifests
   * (which files batches committed), read and write `datasets/` (a set already built is reused).
   */
  grantBuildTrainingSets(grantee: iam.IGrantable): iam.Grant {
    this.offlineBucket.grantRead(grantee, OFFLINE_KEYS.features);
    this.offlineBucket.grantRead(grantee, OFFLINE_KEYS.ingestion);
    this.grantReadTrainingSets(grantee);
    return this.offlineBucket.grantPut(grantee, OFFLINE_KEYS.datasets);
  }

  /** Lets `grantee` read built training sets (and the SageMaker channels written beside them) under `datasets/`. */
  grantReadTrainingSets(grantee: iam.IGrantable): iam.Grant {
    return this.offlineBucket.grantRead(grantee, OFFLINE_KEYS.datasets);
  }

  /** Lets a producer land batches under `landing/` and ask the ingest function to ingest them. */
  grantLand(grantee: iam.IGrantable): iam.Grant {
    this.offlineBucket.grantPut(grantee, OFFLINE_KEYS.landing);
    const grant = this.ingestFunction.grantInvoke(grantee);
    this.acknowledgeOn(grantee, [
      ...prefixedBucketGrants(
        this.offlineBucket,
        { put: [OFFLINE_KEYS.landing] },
        'Producers land batches under landing/',
      ),
      invokeQualifiedFunction(this.ingestFunction),
    ]);
    return grant;
  }

  /** Lets `grantee` read the offline store: feature files, and the Glue database and tables over them. */
  grantReadOffline(grantee: iam.IGrantable): iam.Grant {
    const stack = Stack.of(this);
    const glueArn = (resource: string) =>
      stack.formatArn({
        service: 'glue',
        resource,
        resourceName: undefined,
        arnFormat: ArnFormat.NO_RESOURCE_NAME,
      });
    iam.Grant.addToPrincipal({
      grantee,
      actions: [
        'glue:GetDatabase',
        'glue:GetTable',
        'glue:GetTables',
        'glue:GetPartition',
        'glue:GetPartitions',
      ],
      resourceArns: [
        glueArn('catalog'),
        glueArn(`database/${this.database.ref}`),
        glueArn(`table/${this.database.ref}/*`),
      ],
    });
    const grant = this.offlineBucket.grantRead(grantee, OFFLINE_KEYS.features);
    const database = `<${Stack.of(this).getLogicalId(this.database)}>`;
    this.acknowledgeOn(grantee, [
      ...prefixedBucketGrants(
        this.offlineBucket,
        { read: [OFFLINE_KEYS.features] },
        'Readers of the offline store read feature files',
      ),
      {
        id: `IAM5[Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/${database}/*]`,
        reason: 'Read-only access to the Glue tables of the feature store database, one per feature view.',
      },
    ]);
    return grant;
  }

  /**
   * The prefix-scoped wildcards of these grants, acknowledged on the grantee (when it is a construct)
   * so a cdk-nag-checked app stays clean; the grant methods are the reason they are acceptable.
   */
  private acknowledgeOn(grantee: iam.IGrantable, findings: NagFinding[]): void {
    if (Construct.isConstruct(grantee)) acknowledge(grantee, ...findings);
    const role = (grantee as { role?: unknown }).role;
    if (Construct.isConstruct(role)) acknowledge(role, ...findings);
  }

  /** Lets `grantee` read the online store. */
  grantReadOnline(grantee: iam.IGrantable): iam.Grant {
    return this.onlineTable.grantReadData(grantee);
  }
}
