/**
 * The model registry: a DynamoDB table of model versions (allocated atomically, see
 * lambdas/registry/registry-store.ts) and a versioned S3 bucket of artifacts, with the Lambda
 * functions that register and read versions. Grant methods give other constructs least-privilege
 * access.
 */
import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { ModelGates } from '../lambdas/registry/gates.js';
import {
  ARTIFACT_KEYS,
  ENV,
  MODEL_CARD_KEYS,
  MODELS_DEFINE,
  REGISTRY_ITEM,
  TRACKING_ITEM,
} from '../lambdas/shared/layout.js';
import { MlopsFunction } from './mlops-function.js';
import { failureQueue, type Monitoring } from './monitoring.js';
import { acknowledge, type NagFinding } from './nag.js';
import { secureBucket } from './secure-bucket.js';

export interface ModelRegistryProps {
  /** Bucket that receives the artifact bucket's server access logs. */
  readonly accessLogsBucket: s3.IBucket;
  /** What happens to the table, bucket and log groups when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
  /** Days the registry functions' logs are kept. */
  readonly logRetention: logs.RetentionDays;
  /**
   * Days after which non-current artifact object versions are deleted.
   * @default Duration.days(90)
   */
  readonly noncurrentArtifactRetention?: Duration;
  /**
   * The configuration's models (validated): their promotion gates are baked into the registry
   * functions' bundles, so the transition function enforces them.
   * @default [] (every model ungated)
   */
  readonly models?: readonly { readonly name: string; readonly gates: ModelGates }[];
  /** The project's event bus: registry events (ModelVersionRegistered, …) are published to it. */
  readonly eventBus: events.IEventBus;
  /** Alarms on the registry-events failure queue. */
  readonly monitoring: Monitoring;
  /**
   * Times Lambda retries a failing batch of the registry table's stream before it gives the batch
   * to the failure queue (bisecting it on each error, so one bad record does not hold the others).
   * @default 10
   */
  readonly streamRetryAttempts?: number;
}

export class ModelRegistry extends Construct {
  /** Model versions, heads and idempotency records (pk/sk, see registry-store.ts). */
  public readonly table: dynamodb.Table;
  /**
   * Experiment tracking: experiments, runs, metric summaries and chunks, with three sparse indexes
   * (runs by experiment, by experiment and status, metric values by experiment and metric); see
   * lambdas/registry/tracking-store.ts for the design.
   */
  public readonly trackingTable: dynamodb.Table;
  /** Model artifacts under `models/<model>/`, run artifacts under `runs/`. Versioned, encrypted, SSL-only, private. */
  public readonly artifactBucket: s3.Bucket;
  /** Registers a model version (input: RegisterModelVersionInput). */
  public readonly registerFunction: MlopsFunction;
  /** Reads one model version (`{ modelName, version }` or `{ modelName, alias }`). */
  public readonly getFunction: MlopsFunction;
  /** Moves a version between stages (input: TransitionStageInput), gates checked. */
  public readonly transitionFunction: MlopsFunction;
  /** Sets, moves or deletes an alias with compare-and-set (input: SetAliasInput). */
  public readonly setAliasFunction: MlopsFunction;
  /**
   * Consumes the table's stream: publishes one registry event per committed change and rewrites
   * the model card of each version a change touches.
   */
  public readonly eventsFunction: MlopsFunction;
  /** Stream batches the events function still failed after its retries (shard and sequence range). */
  public readonly eventFailures: sqs.Queue;

  constructor(scope: Construct, id: string, props: ModelRegistryProps) {
    super(scope, id);

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: REGISTRY_ITEM.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: REGISTRY_ITEM.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: false,
      // The registry-events consumer reads every change with both images (what changed, from what).
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
      removalPolicy: props.removalPolicy,
    });

    this.trackingTable = new dynamodb.Table(this, 'TrackingTable', {
      partitionKey: { name: TRACKING_ITEM.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TRACKING_ITEM.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: false,
      removalPolicy: props.removalPolicy,
    });
    const string = dynamodb.AttributeType.STRING;
    for (const [indexName, partition, sort] of [
      [TRACKING_ITEM.experimentIndex, TRACKING_ITEM.experimentKey, TRACKING_ITEM.startKey],
      [TRACKING_ITEM.statusIndex, TRACKING_ITEM.statusKey, TRACKING_ITEM.startKey],
      [TRACKING_ITEM.metricIndex, TRACKING_ITEM.metricKey, TRACKING_ITEM.metricSort],
    ] as const)
      this.trackingTable.addGlobalSecondaryIndex({
        indexName,
        partitionKey: { name: partition, type: string },
        sortKey: { name: sort, type: string },
        projectionType: dynamodb.ProjectionType.ALL,
      });

    this.artifactBucket = secureBucket(this, 'Artifacts', {
      versioned: true,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: `${Stack.of(this).stackName}/model-artifacts/`,
      lifecycleRules: [
        { noncurrentVersionExpiration: props.noncurrentArtifactRetention ?? Duration.days(90) },
      ],
      removalPolicy: props.removalPolicy,
    });

    const environment = {
      [ENV.registryTable]: this.table.tableName,
      [ENV.artifactBucket]: this.artifactBucket.bucketName,
      [ENV.trackingTable]: this.trackingTable.tableName,
      [ENV.serviceName]: 'model-registry',
    };
    const shared = {
      environment,
      logRetention: props.logRetention,
      logRemovalPolicy: props.removalPolicy,
      define: { [MODELS_DEFINE]: JSON.stringify(props.models ?? []) },
    };
    this.registerFunction = new MlopsFunction(this, 'RegisterModelVersion', {
      ...shared,
      name: 'register-model-version',
      description:
        'Registers a model version: validates, checks the artifact, allocates the version atomically',
    });
    this.grantRegister(this.registerFunction);
    this.grantLinkRuns(this.registerFunction);

    this.getFunction = new MlopsFunction(this, 'GetModelVersion', {
      name: 'get-model-version',
      ...shared,
      description: 'Reads one model version from the registry, by number or by alias',
    });
    this.grantGetVersion(this.getFunction);

    this.transitionFunction = new MlopsFunction(this, 'TransitionModelStage', {
      ...shared,
      name: 'transition-model-stage',
      description: 'Moves a model version between stages in one transaction, checking promotion gates',
    });
    this.grantTransition(this.transitionFunction);

    this.setAliasFunction = new MlopsFunction(this, 'SetModelAlias', {
      ...shared,
      name: 'set-model-alias',
      description: 'Sets, moves or deletes a model alias with compare-and-set',
    });
    this.grantSetAlias(this.setAliasFunction);

    acknowledge(this.registerFunction.executionRole, this.artifactObjectsFinding());

    this.eventFailures = failureQueue(this, 'EventFailures', 'registry stream batches not published');
    props.monitoring.alarmOnDeadLetters(this.eventFailures);
    this.eventsFunction = new MlopsFunction(this, 'RegistryEvents', {
      ...shared,
      name: 'registry-events',
      environment: { ...environment, [ENV.eventBus]: props.eventBus.eventBusName },
      timeout: Duration.minutes(1),
      description:
        'Publishes one registry event per committed registry change (from the table stream) and rewrites model cards',
    });
    this.eventsFunction.addEventSource(
      new DynamoEventSource(this.table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        retryAttempts: props.streamRetryAttempts ?? 10,
        onFailure: new SqsDlq(this.eventFailures),
      }),
    );
    props.eventBus.grantPutEventsTo(this.eventsFunction);
    this.grantWriteCards(this.eventsFunction);
    // The card reads the version (GetItem) and its stage and alias histories (Query).
    this.table.grant(this.eventsFunction, 'dynamodb:GetItem', 'dynamodb:Query');
    acknowledge(
      this.eventsFunction.executionRole,
      {
        id: `IAM5[Resource::<${Stack.of(this).getLogicalId(this.artifactBucket.node.defaultChild as s3.CfnBucket)}.Arn>/${MODEL_CARD_KEYS}]`,
        reason:
          'Model cards are rewritten for any model and version the registry holds: models/*/versions/*/model-card.md, nothing else.',
      },
      {
        id: 'IAM5[Resource::*]',
        reason:
          'dynamodb:ListStreams (granted with the stream event source) takes no resource but *; the stream reads themselves are on this table stream only.',
      },
    );
  }

  /** Lets `grantee` write model cards (`models/<model>/versions/<v>/model-card.md`) and no other key. */
  grantWriteCards(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:PutObject'],
      resourceArns: [this.artifactBucket.arnForObjects(MODEL_CARD_KEYS)],
    });
  }

  /** The one IAM5 finding s3:GetObject on `models/*` raises: content-addressed keys are not known in advance. */
  private artifactObjectsFinding(): NagFinding {
    const cfn = this.artifactBucket.node.defaultChild as s3.CfnBucket;
    return {
      id: `IAM5[Resource::<${Stack.of(this).getLogicalId(cfn)}.Arn>/${ARTIFACT_KEYS.models}]`,
      reason:
        'Registration reads (HeadObject/GetObject) the checksum of any artifact under models/: keys are content-addressed, so not known in advance.',
    };
  }

  /** Lets `grantee` read registry metadata (versions, heads): gets, queries and scans. */
  grantReadMetadata(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadData(grantee);
  }

  /**
   * Lets `grantee` read single items (one version by model and number, or by alias: the alias item,
   * then the version; see lambdas/registry/alias-reader.ts): GetItem only.
   */
  grantGetVersion(grantee: iam.IGrantable): iam.Grant {
    return this.table.grant(grantee, 'dynamodb:GetItem');
  }

  /** Lets `grantee` read model artifacts (and check them against the registry). */
  grantReadArtifacts(grantee: iam.IGrantable): iam.Grant {
    return this.artifactBucket.grantRead(grantee, ARTIFACT_KEYS.models);
  }

  /** Lets `grantee` upload artifacts under `models/` (trainers). */
  grantWriteArtifacts(grantee: iam.IGrantable): iam.Grant {
    return this.artifactBucket.grantPut(grantee, ARTIFACT_KEYS.models);
  }

  /**
   * Lets `grantee` register versions and nothing more: GetItem (head, token, version), PutItem and
   * UpdateItem (the allocation transaction's parts; TransactWriteItems is authorized per part) on
   * the table, and s3:GetObject (HeadObject and GetObject) plus s3:GetObjectVersion (the checksum
   * fallback reads the exact version it headed) on artifacts under `models/`.
   */
  grantRegister(grantee: iam.IGrantable): iam.Grant {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resourceArns: [this.artifactBucket.arnForObjects(ARTIFACT_KEYS.models)],
    });
    return this.table.grant(grantee, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem');
  }

  /**
   * Lets `grantee` move versions between stages and nothing more: GetItem (version, head), and the
   * transaction's parts — UpdateItem (version, head's productionVersion, an archived predecessor),
   * PutItem (history entries, the new stage's index item) and DeleteItem (the old stage's index item).
   */
  grantTransition(grantee: iam.IGrantable): iam.Grant {
    return this.table.grant(
      grantee,
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
    );
  }

  /**
   * Lets `grantee` set, move and delete aliases and nothing more: GetItem (the alias), and the
   * transaction's parts — PutItem (alias item, alias history entry), UpdateItem (the versions'
   * alias sets) and ConditionCheckItem (the target version exists: a TransactWriteItems
   * ConditionCheck needs its own action, which the emulator does not enforce).
   */
  grantSetAlias(grantee: iam.IGrantable): iam.Grant {
    return this.table.grant(
      grantee,
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:ConditionCheckItem',
    );
  }

  /** Lets `grantee` read stage and alias history (CLI, auditors): Query on the table. */
  grantReadHistory(grantee: iam.IGrantable): iam.Grant {
    return this.table.grant(grantee, 'dynamodb:Query');
  }

  /**
   * Lets `grantee` track experiments and nothing more: GetItem, PutItem, UpdateItem and
   * ConditionCheckItem on the tracking table (runs are created and metric batches logged in
   * transactions of those parts), Query (a metric's chunks), and s3:PutObject under `runs/`.
   */
  grantTrack(grantee: iam.IGrantable): iam.Grant {
    this.artifactBucket.grantPut(grantee, ARTIFACT_KEYS.runs);
    return iam.Grant.addToPrincipal({
      grantee,
      actions: [
        'dynamodb:ConditionCheckItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ],
      resourceArns: [this.trackingTable.tableArn],
    });
  }

  /**
   * Lets `grantee` read tracking data: GetItem, BatchGetItem and Query on the tracking table and its
   * indexes (list, search, compare, metric history), and run artifacts under `runs/`.
   */
  grantReadTracking(grantee: iam.IGrantable): iam.Grant {
    this.artifactBucket.grantRead(grantee, ARTIFACT_KEYS.runs);
    return this.trackingTable.grant(grantee, 'dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query');
  }

  /**
   * Lets `grantee` (the register function) link a registered version to its run: GetItem (the run
   * exists) and UpdateItem (its `registeredVersions`, in the registration's transaction) on the
   * tracking table's items, not its indexes.
   */
  grantLinkRuns(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      resourceArns: [this.trackingTable.tableArn],
    });
  }
}
