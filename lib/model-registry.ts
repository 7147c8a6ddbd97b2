/**
 * The model registry: a DynamoDB table of model versions (allocated atomically, see
 * lambdas/registry/registry-store.ts) and a versioned S3 bucket of artifacts, with the Lambda
 * functions that register and read versions. Grant methods give other constructs least-privilege
 * access.
 */
import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ARTIFACT_KEYS, ENV, REGISTRY_ITEM } from '../lambdas/shared/layout.js';
import { MlopsFunction } from './mlops-function.js';
import { acknowledge, prefixedBucketGrants } from './nag.js';
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
}

export class ModelRegistry extends Construct {
  /** Model versions, heads and idempotency records (pk/sk, see registry-store.ts). */
  public readonly table: dynamodb.Table;
  /** Model artifacts under `models/<model>/`. Versioned, encrypted, SSL-only, private. */
  public readonly artifactBucket: s3.Bucket;
  /** Registers a model version (input: RegisterModelVersionInput). */
  public readonly registerFunction: MlopsFunction;
  /** Reads one model version (`{ modelName, version }`). */
  public readonly getFunction: MlopsFunction;

  constructor(scope: Construct, id: string, props: ModelRegistryProps) {
    super(scope, id);

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: REGISTRY_ITEM.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: REGISTRY_ITEM.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: false,
      removalPolicy: props.removalPolicy,
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
      [ENV.serviceName]: 'model-registry',
    };
    const shared = { environment, logRetention: props.logRetention, logRemovalPolicy: props.removalPolicy };
    this.registerFunction = new MlopsFunction(this, 'RegisterModelVersion', {
      ...shared,
      name: 'register-model-version',
      description:
        'Registers a model version: validates, checks the artifact, allocates the version atomically',
    });
    this.grantRegister(this.registerFunction);

    this.getFunction = new MlopsFunction(this, 'GetModelVersion', {
      name: 'get-model-version',
      ...shared,
      description: 'Reads one model version from the registry',
    });
    this.grantReadMetadata(this.getFunction);

    acknowledge(
      this.registerFunction.executionRole,
      ...prefixedBucketGrants(
        this.artifactBucket,
        { read: [ARTIFACT_KEYS.models] },
        'Registration checks the checksum of any artifact under models/; keys are content-addressed per model',
      ),
    );
  }

  /** Lets `grantee` read registry metadata (versions, heads). */
  grantReadMetadata(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadData(grantee);
  }

  /** Lets `grantee` read model artifacts (and check them against the registry). */
  grantReadArtifacts(grantee: iam.IGrantable): iam.Grant {
    return this.artifactBucket.grantRead(grantee, ARTIFACT_KEYS.models);
  }

  /** Lets `grantee` upload artifacts under `models/` (trainers). */
  grantWriteArtifacts(grantee: iam.IGrantable): iam.Grant {
    return this.artifactBucket.grantPut(grantee, ARTIFACT_KEYS.models);
  }

  /** Lets `grantee` register versions: read/write metadata and read artifact checksums. */
  grantRegister(grantee: iam.IGrantable): iam.Grant {
    this.grantReadArtifacts(grantee);
    return this.table.grantReadWriteData(grantee);
  }
}
