/**
 * The feature store: an S3 offline store (Parquet under `features/<view>/date=YYYY-MM-DD/`, one
 * Glue table per view with partition projection, so Athena queries it at any scale without
 * crawlers), a DynamoDB online store (one item per view and entity, TTL enabled), and the ingestion
 * function. Feature view definitions come from the project configuration and are baked into the
 * function bundles, so the CDK app and the Lambdas read the same definitions.
 */
import { ArnFormat, Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { FeatureView } from '../lambdas/feature-store/feature-view.js';
import { parquetColumns } from '../lambdas/feature-store/parquet-codec.js';
import {
  ENV,
  FEATURE_VIEWS_DEFINE,
  featureViewPrefix,
  OFFLINE_KEYS,
  OFFLINE_PARTITION_COLUMN,
  OFFLINE_PREFIX,
  ONLINE_ITEM,
} from '../lambdas/shared/layout.js';
import { MlopsFunction } from './mlops-function.js';
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
  /**
   * Days landed batches are kept after upload (they are copied into the offline store on ingestion).
   * @default Duration.days(7)
   */
  readonly landingRetention?: Duration;
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

  constructor(scope: Construct, id: string, props: FeatureStoreProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.offlineBucket = secureBucket(this, 'Offline', {
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: `${stack.stackName}/feature-store/`,
      lifecycleRules: [
        { prefix: OFFLINE_PREFIX.landing, expiration: props.landingRetention ?? Duration.days(7) },
      ],
      removalPolicy: props.removalPolicy,
    });

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

    // Every feature-store function gets the validated views baked into its bundle (esbuild define).
    const shared = {
      define: { [FEATURE_VIEWS_DEFINE]: JSON.stringify(props.featureViews) },
      logRetention: props.logRetention,
      logRemovalPolicy: props.removalPolicy,
    };
    this.ingestFunction = new MlopsFunction(this, 'Ingest', {
      name: 'ingest-features',
      description: 'Validates a landed batch and writes it to the offline store as Parquet',
      environment: {
        [ENV.offlineBucket]: this.offlineBucket.bucketName,
        [ENV.serviceName]: 'feature-store',
      },
      ...shared,
      memorySize: 2048,
      timeout: Duration.minutes(5),
    });
    this.grantIngest(this.ingestFunction);

    this.materializeFunction = new MlopsFunction(this, 'Materialize', {
      name: 'materialize-features',
      description: 'Writes the latest value per entity since the last watermark to the online store',
      environment: {
        [ENV.offlineBucket]: this.offlineBucket.bucketName,
        [ENV.onlineTable]: this.onlineTable.tableName,
        [ENV.serviceName]: 'feature-store',
      },
      ...shared,
      memorySize: 3008,
      timeout: Duration.minutes(15),
    });
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
        [ENV.serviceName]: 'feature-store',
      },
      ...shared,
      memorySize: 10_240,
      timeout: Duration.minutes(15),
    });
    this.offlineBucket.grantRead(this.trainingSetFunction, OFFLINE_KEYS.landing);
    this.offlineBucket.grantRead(this.trainingSetFunction, OFFLINE_KEYS.features);
    this.offlineBucket.grantRead(this.trainingSetFunction, OFFLINE_KEYS.ingestion); // which files batches committed
    this.offlineBucket.grantRead(this.trainingSetFunction, OFFLINE_KEYS.datasets);
    this.offlineBucket.grantPut(this.trainingSetFunction, OFFLINE_KEYS.datasets);

    for (const view of props.featureViews.filter((v) => v.online)) {
      new events.Rule(this, `Materialize-${view.name}`, {
        description: `Materializes feature view ${view.name}`,
        schedule: events.Schedule.rate(Duration.minutes(view.materializeEveryMinutes)),
        targets: [
          new targets.LambdaFunction(this.materializeFunction, {
            event: events.RuleTargetInput.fromObject({ view: view.name }),
            retryAttempts: 2,
          }),
        ],
      });
    }

    acknowledge(
      this.ingestFunction.executionRole,
      ...prefixedBucketGrants(
        this.offlineBucket,
        [
          OFFLINE_KEYS.landing,
          OFFLINE_KEYS.features,
          OFFLINE_KEYS.quarantine,
          OFFLINE_KEYS.ingestion,
          OFFLINE_KEYS.ingestionLog,
        ],
        'Ingestion reads landed batches and writes per-batch objects whose keys derive from view and batch id',
      ),
    );
    acknowledge(
      this.materializeFunction.executionRole,
      ...prefixedBucketGrants(
        this.offlineBucket,
        [
          OFFLINE_KEYS.ingestion,
          OFFLINE_KEYS.ingestionLog,
          OFFLINE_KEYS.features,
          OFFLINE_KEYS.materialization,
        ],
        'Materialization reads manifests and feature files and keeps its watermark',
      ),
    );
    acknowledge(
      this.trainingSetFunction.executionRole,
      ...prefixedBucketGrants(
        this.offlineBucket,
        [OFFLINE_KEYS.landing, OFFLINE_KEYS.features, OFFLINE_KEYS.ingestion, OFFLINE_KEYS.datasets],
        'Training sets read entity rows, batch manifests and feature files and write datasets',
      ),
    );
  }

  /**
   * Lets `grantee` do what ingestion does: read landed batches and manifests, write feature files,
   * quarantine, manifests and log entries (the ingest function has it).
   */
  grantIngest(grantee: iam.IGrantable): iam.Grant {
    this.offlineBucket.grantRead(grantee, OFFLINE_KEYS.landing);
    this.offlineBucket.grantRead(grantee, OFFLINE_KEYS.ingestion);
    this.offlineBucket.grantRead(grantee, OFFLINE_KEYS.ingestionLog); // a rerun checks its batch's entry
    this.offlineBucket.grantPut(grantee, OFFLINE_KEYS.features);
    this.offlineBucket.grantPut(grantee, OFFLINE_KEYS.quarantine);
    this.offlineBucket.grantPut(grantee, OFFLINE_KEYS.ingestionLog);
    return this.offlineBucket.grantPut(grantee, OFFLINE_KEYS.ingestion);
  }

  /** Lets a producer land batches under `landing/` and ask the ingest function to ingest them. */
  grantLand(grantee: iam.IGrantable): iam.Grant {
    this.offlineBucket.grantPut(grantee, OFFLINE_KEYS.landing);
    const grant = this.ingestFunction.grantInvoke(grantee);
    this.acknowledgeOn(grantee, [
      ...prefixedBucketGrants(
        this.offlineBucket,
        [OFFLINE_KEYS.landing],
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
        [OFFLINE_KEYS.features],
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
