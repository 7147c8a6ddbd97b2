/**
 * Creates on the emulator the data-plane resources a synthesized template declares (S3 buckets;
 * DynamoDB tables with their key schema, indexes, streams, TTL and point-in-time recovery;
 * EventBridge buses), from
 * the template itself, so tests run against the real definitions. Other resources (functions,
 * roles, state machines) get deterministic physical names and ARNs so intrinsics resolve; the
 * harness runs them in-process.
 *
 * Physical names: the template's when it sets one, else `<prefix><stack>-<logicalId>` made valid
 * for the service. Provisioning is idempotent: an existing bucket or table is kept and its settings
 * applied again. Tables are ACTIVE when `provision` resolves.
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
} from '@aws-sdk/client-dynamodb';
import { CreateEventBusCommand, ResourceAlreadyExistsException } from '@aws-sdk/client-eventbridge';
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
  /**
   * Prepended to every derived physical name (`<prefix><stack>-<logicalId>`, made valid for the
   * service), so several test files can provision one template side by side. Names the template
   * sets itself are used as they are.
   * @default ''
   */
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

/**
 * A bucket name that follows S3's rules (3–63 characters of lowercase letters, digits, `-` and `.`;
 * starts and ends with a letter or digit; no `..`), deterministic in `raw`. Too long a name keeps its
 * start and ends with a hash of the whole, so distinct logical ids stay distinct.
 */
export function bucketName(raw: string): string {
  const clean = raw
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  if (clean.length >= 3 && clean.length <= 63) return clean;
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, 8);
  const start = clean.slice(0, 54).replace(/[^a-z0-9]+$/, '');
  return start ? `${start}-${hash}` : hash;
}

/** A table name that follows DynamoDB's rules (3–255 characters of `[a-zA-Z0-9_.-]`). */
export function tableName(raw: string): string {
  const clean = raw.replace(/[^a-zA-Z0-9_.-]/g, '-');
  if (clean.length <= 255) return clean.padEnd(3, '_');
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, 8);
  return `${clean.slice(0, 246)}-${hash}`;
}

function stateOf(
  logicalId: string,
  resource: CfnResource,
  base: string,
  ctx: Omit<ResolveContext, 'resources'>,
  explicit?: string,
): ResourceState {
  const { region, accountId: account, partition } = ctx;
  const name = explicit ?? `${base}-${logicalId}`;
  switch (resource.Type) {
    case 'AWS::S3::Bucket': {
      const bucket = explicit ?? bucketName(name);
      return {
        ref: bucket,
        attributes: {
          Arn: `arn:${partition}:s3:::${bucket}`,
          DomainName: `${bucket}.s3.amazonaws.com`,
          RegionalDomainName: `${bucket}.s3.${region}.amazonaws.com`,
        },
      };
    }
    case 'AWS::DynamoDB::Table': {
      const table = explicit ?? tableName(name);
      return {
        ref: table,
        attributes: { Arn: `arn:${partition}:dynamodb:${region}:${account}:table/${table}` },
      };
    }
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
    case 'AWS::Events::EventBus': {
      const arn = `arn:${partition}:events:${region}:${account}:event-bus/${name}`;
      return { ref: name, attributes: { Arn: arn, Name: name } };
    }
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

interface CfnSse {
  readonly SSEEnabled?: boolean;
  readonly SSEType?: string;
  readonly KMSMasterKeyId?: string;
}

/** CloudFormation's SSESpecification in the API's shape (`SSEEnabled` there is `Enabled` here). */
function sseOf(sse: CfnSse): NonNullable<CreateTableCommandInput['SSESpecification']> {
  return {
    Enabled: Boolean(sse.SSEEnabled),
    ...(sse.SSEType ? { SSEType: sse.SSEType as never } : {}),
    ...(sse.KMSMasterKeyId ? { KMSMasterKeyId: sse.KMSMasterKeyId } : {}),
  };
}

/** Waits until the table and each of its global secondary indexes are ACTIVE (60 s at most). */
async function waitUntilActive(dynamodb: DynamoDBClient, name: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: name }));
    const indexes = Table?.GlobalSecondaryIndexes ?? [];
    if (Table?.TableStatus === 'ACTIVE' && indexes.every((g) => g.IndexStatus === 'ACTIVE')) return;
    if (Date.now() > deadline)
      throw new Error(`table ${name} is not ACTIVE after 60 s (${Table?.TableStatus})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
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
  const sse = props.SSESpecification as CfnSse | undefined;
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
    ...(sse ? { SSESpecification: sseOf(sse) } : {}),
    ...(props.TableClass ? { TableClass: props.TableClass as never } : {}),
    ...(props.DeletionProtectionEnabled === undefined
      ? {}
      : { DeletionProtectionEnabled: Boolean(props.DeletionProtectionEnabled) }),
  };
  try {
    await dynamodb.send(new CreateTableCommand(input));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  await waitUntilActive(dynamodb, name);
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

/** Creates an event bus (kept when it exists), so functions can put events on it and tests add rules. */
async function createEventBus(name: string): Promise<void> {
  try {
    await clients.eventbridge().send(new CreateEventBusCommand({ Name: name }));
  } catch (error) {
    if (
      !(error instanceof ResourceAlreadyExistsException) &&
      (error as Error).name !== 'ResourceAlreadyExistsException'
    )
      throw error;
  }
}

interface CfnEncryptionRule {
  readonly ServerSideEncryptionByDefault?: { SSEAlgorithm: string; KMSMasterKeyID?: string };
  readonly BucketKeyEnabled?: boolean;
}

/** The property that names each kind of resource, when a template sets one. */
const NAME_PROPERTY: Readonly<Record<string, string>> = {
  'AWS::S3::Bucket': 'BucketName',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::StepFunctions::StateMachine': 'StateMachineName',
  'AWS::Events::EventBus': 'Name',
};

/** Data-plane types a template may declare that the harness does not create (so it refuses them). */
const UNPROVISIONED_DATA_PLANE = new Set(['AWS::DynamoDB::GlobalTable']);

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
  for (const [logicalId, resource] of resources) {
    if (UNPROVISIONED_DATA_PLANE.has(resource.Type))
      throw new Error(
        `${logicalId}: ${resource.Type} is not provisioned locally (declare an AWS::DynamoDB::Table)`,
      );
  }
  for (const [logicalId, resource] of resources)
    states[logicalId] = stateOf(logicalId, resource, base, partial);
  const context: ResolveContext = { ...partial, resources: states };
  // Names the template gives win (resolved against the derived ones, as they may refer to them).
  for (const [logicalId, resource] of resources) {
    const property = NAME_PROPERTY[resource.Type];
    const declared = property ? resource.Properties?.[property] : undefined;
    if (declared === undefined) continue;
    const explicit = String(resolveValue(declared, context, `${logicalId}.${property}`));
    states[logicalId] = stateOf(logicalId, resource, base, partial, explicit);
  }
  const tables: Record<string, string> = {};
  const buckets: Record<string, string> = {};

  // Only the data plane is created; its properties are resolved here (other resources may refer
  // to attributes such as a table's StreamArn that exist only once the table does).
  await Promise.all(
    resources.map(async ([logicalId, resource]) => {
      if (resource.Type === 'AWS::Events::EventBus') {
        await createEventBus(states[logicalId]?.ref as string);
        return;
      }
      if (resource.Type !== 'AWS::DynamoDB::Table' && resource.Type !== 'AWS::S3::Bucket') return;
      const props = resolveValue(resource.Properties ?? {}, context, logicalId) as Record<string, unknown>;
      if (resource.Type === 'AWS::DynamoDB::Table') {
        const name = states[logicalId]?.ref as string;
        const streamArn = await createTable(clients.dynamodb(), name, props);
        tables[logicalId] = name;
        states[logicalId] = {
          ref: name,
          attributes: {
            Arn: `arn:${partial.partition}:dynamodb:${partial.region}:${partial.accountId}:table/${name}`,
            ...(streamArn ? { StreamArn: streamArn } : {}),
          },
        };
      } else {
        const name = states[logicalId]?.ref as string;
        await createBucket(clients.s3(), name, props);
        buckets[logicalId] = name;
      }
    }),
  );
  return { context, tables, buckets, resolve: (value, where) => resolveValue(value, context, where) };
}
