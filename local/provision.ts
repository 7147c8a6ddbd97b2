/**
 * Creates on the emulator the data-plane resources a synthesized template declares (S3 buckets;
 * DynamoDB tables with their key schema, indexes, streams, TTL and point-in-time recovery), from
 * the template itself, so tests run against the real definitions. Other resources (functions,
 * roles, state machines) get deterministic physical names and ARNs so intrinsics resolve; the
 * harness runs them in-process.
 */
import { createHash } from 'node:crypto';
import {
  type AttributeDefinition,
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  type KeySchemaElement,
  ResourceInUseException,
  UpdateContinuousBackupsCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  CreateBucketCommand,
  PutBucketEncryptionCommand,
  PutBucketVersioningCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { clientSettings, clients } from '../lambdas/shared/clients.js';
import type { CfnResource, StackArtifact } from './assembly.js';
import { type ResolveContext, type ResourceState, resolveValue } from './cfn.js';

export interface ProvisionOptions {
  /** Prepended to every physical name, so several tests can provision one template side by side. */
  readonly prefix?: string;
  /** @default '000000000000' */
  readonly accountId?: string;
}

export interface ProvisionedStack {
  /** Resolution context: physical names and attributes of every resource, by logical id. */
  readonly context: ResolveContext;
  /** Physical table names by logical id. */
  readonly tables: Readonly<Record<string, string>>;
  /** Physical bucket names by logical id. */
  readonly buckets: Readonly<Record<string, string>>;
  /** Resolves intrinsics in any part of the template. */
  resolve(value: unknown, where?: string): unknown;
}

function bucketName(raw: string): string {
  const clean = raw.toLowerCase().replace(/[^a-z0-9-]/g, '-');
  if (clean.length <= 63) return clean;
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, 8);
  return `${clean.slice(0, 54)}-${hash}`;
}

function stateOf(
  logicalId: string,
  resource: CfnResource,
  base: string,
  ctx: Omit<ResolveContext, 'resources'>,
): ResourceState {
  const { region, accountId: account, partition } = ctx;
  const name = `${base}-${logicalId}`;
  switch (resource.Type) {
    case 'AWS::S3::Bucket': {
      const bucket = bucketName(name);
      return {
        ref: bucket,
        attributes: {
          Arn: `arn:${partition}:s3:::${bucket}`,
          DomainName: `${bucket}.s3.amazonaws.com`,
          RegionalDomainName: `${bucket}.s3.${region}.amazonaws.com`,
        },
      };
    }
    case 'AWS::DynamoDB::Table':
      return {
        ref: name,
        attributes: { Arn: `arn:${partition}:dynamodb:${region}:${account}:table/${name}` },
      };
    case 'AWS::Lambda::Function':
      return {
        ref: name,
        attributes: { Arn: `arn:${partition}:lambda:${region}:${account}:function:${name}` },
      };
    case 'AWS::IAM::Role':
      return {
        ref: name,
        attributes: { Arn: `arn:${partition}:iam::${account}:role/${name}`, RoleId: name },
      };
    case 'AWS::Logs::LogGroup':
      return {
        ref: name,
        attributes: { Arn: `arn:${partition}:logs:${region}:${account}:log-group:${name}:*` },
      };
    case 'AWS::StepFunctions::StateMachine': {
      const arn = `arn:${partition}:states:${region}:${account}:stateMachine:${name}`;
      return { ref: arn, attributes: { Arn: arn, Name: name } };
    }
    default: {
      const service = resource.Type.split('::')[1]?.toLowerCase() ?? 'unknown';
      return {
        ref: name,
        attributes: { Arn: `arn:${partition}:${service}:${region}:${account}:${logicalId}/${name}` },
      };
    }
  }
}

async function createTable(
  dynamodb: DynamoDBClient,
  name: string,
  props: Record<string, unknown>,
): Promise<string | undefined> {
  const payPerRequest = props.BillingMode === 'PAY_PER_REQUEST';
  const throughput = (p: unknown) =>
    payPerRequest
      ? {}
      : {
          ProvisionedThroughput: (p as CreateTableCommandInput['ProvisionedThroughput']) ?? {
            ReadCapacityUnits: 5,
            WriteCapacityUnits: 5,
          },
        };
  const gsis = props.GlobalSecondaryIndexes as Record<string, unknown>[] | undefined;
  const lsis = props.LocalSecondaryIndexes as Record<string, unknown>[] | undefined;
  const stream = props.StreamSpecification as { StreamViewType?: string } | undefined;
  const input: CreateTableCommandInput = {
    TableName: name,
    KeySchema: props.KeySchema as KeySchemaElement[],
    AttributeDefinitions: props.AttributeDefinitions as AttributeDefinition[],
    BillingMode: payPerRequest ? 'PAY_PER_REQUEST' : 'PROVISIONED',
    ...throughput(props.ProvisionedThroughput),
    ...(gsis
      ? {
          GlobalSecondaryIndexes: gsis.map((g) => ({
            IndexName: g.IndexName as string,
            KeySchema: g.KeySchema as KeySchemaElement[],
            Projection: g.Projection as never,
            ...throughput(g.ProvisionedThroughput),
          })),
        }
      : {}),
    ...(lsis ? { LocalSecondaryIndexes: lsis as never } : {}),
    ...(stream?.StreamViewType
      ? { StreamSpecification: { StreamEnabled: true, StreamViewType: stream.StreamViewType as never } }
      : {}),
    ...(props.SSESpecification
      ? {
          SSESpecification: {
            Enabled: Boolean((props.SSESpecification as { SSEEnabled?: boolean }).SSEEnabled),
          },
        }
      : {}),
  };
  try {
    await dynamodb.send(new CreateTableCommand(input));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  await waitUntilTableExists(
    { client: dynamodb, maxWaitTime: 60, minDelay: 0.1, maxDelay: 1 },
    { TableName: name },
  );
  const ttl = props.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
  if (ttl?.Enabled && ttl.AttributeName) {
    await dynamodb.send(
      new UpdateTimeToLiveCommand({
        TableName: name,
        TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true },
      }),
    );
  }
  const pitr = props.PointInTimeRecoverySpecification as { PointInTimeRecoveryEnabled?: boolean } | undefined;
  if (pitr?.PointInTimeRecoveryEnabled) {
    await dynamodb.send(
      new UpdateContinuousBackupsCommand({
        TableName: name,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      }),
    );
  }
  const described = await dynamodb.send(new DescribeTableCommand({ TableName: name }));
  return described.Table?.LatestStreamArn;
}

async function createBucket(s3: S3Client, name: string, props: Record<string, unknown>): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
  } catch (error) {
    const code = (error as Error).name;
    if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw error;
  }
  const versioning = props.VersioningConfiguration as { Status?: 'Enabled' | 'Suspended' } | undefined;
  if (versioning?.Status) {
    await s3.send(
      new PutBucketVersioningCommand({
        Bucket: name,
        VersioningConfiguration: { Status: versioning.Status },
      }),
    );
  }
  // CloudFormation says ServerSideEncryptionByDefault where the S3 API says ApplyServerSideEncryptionByDefault.
  const rules = (
    props.BucketEncryption as { ServerSideEncryptionConfiguration?: CfnEncryptionRule[] } | undefined
  )?.ServerSideEncryptionConfiguration;
  if (rules) {
    await s3.send(
      new PutBucketEncryptionCommand({
        Bucket: name,
        ServerSideEncryptionConfiguration: {
          Rules: rules.map((rule) => ({
            ApplyServerSideEncryptionByDefault: rule.ServerSideEncryptionByDefault as never,
            ...(rule.BucketKeyEnabled === undefined ? {} : { BucketKeyEnabled: rule.BucketKeyEnabled }),
          })),
        },
      }),
    );
  }
}

interface CfnEncryptionRule {
  readonly ServerSideEncryptionByDefault?: { SSEAlgorithm: string; KMSMasterKeyID?: string };
  readonly BucketKeyEnabled?: boolean;
}

/** Creates the stack's buckets and tables on the emulator (idempotent) and returns their names. */
export async function provision(
  stack: StackArtifact,
  options: ProvisionOptions = {},
): Promise<ProvisionedStack> {
  const settings = clientSettings();
  const base = `${options.prefix ?? ''}${stack.stackName}`;
  const partial = {
    region: settings.region,
    accountId: options.accountId ?? '000000000000',
    partition: 'aws',
    stackName: stack.stackName,
  };
  const states: Record<string, ResourceState> = {};
  const resources = Object.entries(stack.template.Resources);
  for (const [logicalId, resource] of resources)
    states[logicalId] = stateOf(logicalId, resource, base, partial);
  const context: ResolveContext = { ...partial, resources: states };
  const tables: Record<string, string> = {};
  const buckets: Record<string, string> = {};

  await Promise.all(
    resources.map(async ([logicalId, resource]) => {
      const props = resolveValue(resource.Properties ?? {}, context, logicalId) as Record<string, unknown>;
      if (resource.Type === 'AWS::DynamoDB::Table') {
        const name = (props.TableName as string | undefined) ?? (states[logicalId]?.ref as string);
        const streamArn = await createTable(clients.dynamodb(), name, props);
        tables[logicalId] = name;
        states[logicalId] = {
          ref: name,
          attributes: {
            Arn: `arn:aws:dynamodb:${partial.region}:${partial.accountId}:table/${name}`,
            ...(streamArn ? { StreamArn: streamArn } : {}),
          },
        };
      } else if (resource.Type === 'AWS::S3::Bucket') {
        const name = (props.BucketName as string | undefined) ?? (states[logicalId]?.ref as string);
        await createBucket(clients.s3(), name, props);
        buckets[logicalId] = name;
      }
    }),
  );
  return { context, tables, buckets, resolve: (value, where) => resolveValue(value, context, where) };
}
