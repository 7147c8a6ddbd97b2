/**
 * Creates on the emulator the data-plane resources a synthesized template declares (S3 buckets;
 * DynamoDB tables with their key schema, indexes, streams, TTL and point-in-time recovery;
 * EventBridge buses; Firehose delivery streams into S3; Secrets Manager secrets with their generated
 * values), from the template itself, so tests run
 * against the real definitions. Lambda functions, their published versions and aliases (with their
 * routing weights) are created in the emulator's Lambda API too, with a placeholder zip: the
 * emulator keeps their configuration (environment, handler, role) and the alias weights, and the
 * harness runs the code in-process (local/lambda-runtime.ts reads a version's configuration back
 * from there). Each function's role is created in the emulator's IAM, which its Lambda API checks.
 * Other resources (state machines, policies) get deterministic physical names and ARNs so
 * intrinsics resolve.
 *
 * Physical names: the template's when it sets one, else `<prefix><stack>-<logicalId>` made valid
 * for the service. Provisioning is idempotent: an existing bucket or table is kept and its settings
 * applied again. Tables are ACTIVE when `provision` resolves.
 */
import { createHash } from 'node:crypto';
import {
  PutCompositeAlarmCommand,
  type PutCompositeAlarmCommandInput,
  PutMetricAlarmCommand,
  type PutMetricAlarmCommandInput,
} from '@aws-sdk/client-cloudwatch';
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
import {
  CreateEventBusCommand,
  PutRuleCommand,
  PutTargetsCommand,
  ResourceAlreadyExistsException,
  type RuleState,
  type Target,
} from '@aws-sdk/client-eventbridge';
import {
  CreateDeliveryStreamCommand,
  type CreateDeliveryStreamCommandInput,
  ResourceInUseException as FirehoseResourceInUseException,
} from '@aws-sdk/client-firehose';
import {
  CreateAliasCommand,
  CreateFunctionCommand,
  type CreateFunctionCommandInput,
  PublishVersionCommand,
  ResourceConflictException,
} from '@aws-sdk/client-lambda';
import {
  CreateBucketCommand,
  PutBucketEncryptionCommand,
  PutBucketVersioningCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  type GetRandomPasswordCommandInput,
  ResourceExistsException,
} from '@aws-sdk/client-secrets-manager';
import { clientSettings, clients } from '../lambdas/shared/clients.js';
import type { CfnResource, StackArtifact } from './assembly.js';
import { type ResolveContext, type ResourceState, resolveValue } from './cfn.js';
import { ensureRole, LAMBDA_TRUST_POLICY } from './iam-roles.js';

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
  /** Physical function names by logical id (created in the emulator's Lambda API). */
  readonly functions: Readonly<Record<string, string>>;
  /** Published versions by logical id of their AWS::Lambda::Version: function name and number. */
  readonly versions: Readonly<Record<string, { readonly functionName: string; readonly version: string }>>;
  /** Aliases by logical id: function name and alias name. */
  readonly aliases: Readonly<Record<string, { readonly functionName: string; readonly name: string }>>;
  /** Firehose delivery stream names by logical id. */
  readonly deliveryStreams: Readonly<Record<string, string>>;
  /** CloudWatch alarm names (metric and composite) by logical id, created in the emulator. */
  readonly alarms: Readonly<Record<string, string>>;
  /** EventBridge rule names by logical id, created in the emulator with their targets. */
  readonly rules: Readonly<Record<string, string>>;
  /** Secrets Manager secret ARNs by logical id, created in the emulator with their generated values. */
  readonly secrets: Readonly<Record<string, string>>;
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

/**
 * A name of at most `max` characters of `allowed` (others become `-`), deterministic in `raw`; too
 * long a name keeps its start and ends with a hash of the whole (Lambda functions: 64 of
 * `[a-zA-Z0-9_-]`; IAM roles: 64 of `[\w+=,.@-]`; Firehose streams: 64 of `[a-zA-Z0-9_.-]`).
 */
export function boundedName(raw: string, max: number, invalid: RegExp): string {
  const clean = raw.replace(invalid, '-');
  if (clean.length <= max) return clean;
  const hash = createHash('sha256').update(raw).digest('hex').slice(0, 8);
  return `${clean.slice(0, max - 9)}-${hash}`;
}

const functionName = (raw: string) => boundedName(raw, 64, /[^a-zA-Z0-9_-]/g);
const ruleName = (raw: string) => boundedName(raw, 64, /[^a-zA-Z0-9_.-]/g);
const roleName = (raw: string) => boundedName(raw, 64, /[^\w+=,.@-]/g);
const streamName = (raw: string) => boundedName(raw, 64, /[^a-zA-Z0-9_.-]/g);

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
    case 'AWS::Lambda::Function': {
      const fn = explicit ?? functionName(name);
      return {
        ref: fn,
        attributes: { Arn: `arn:${partition}:lambda:${region}:${account}:function:${fn}` },
      };
    }
    case 'AWS::IAM::Role': {
      const role = explicit ?? roleName(name);
      return {
        ref: role,
        attributes: { Arn: `arn:${partition}:iam::${account}:role/${role}`, RoleId: role },
      };
    }
    case 'AWS::KinesisFirehose::DeliveryStream': {
      const stream = explicit ?? streamName(name);
      return {
        ref: stream,
        attributes: { Arn: `arn:${partition}:firehose:${region}:${account}:deliverystream/${stream}` },
      };
    }
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
    case 'AWS::CloudWatch::Alarm':
    case 'AWS::CloudWatch::CompositeAlarm':
      return {
        ref: name,
        attributes: { Arn: `arn:${partition}:cloudwatch:${region}:${account}:alarm:${name}` },
      };
    case 'AWS::Events::Rule': {
      // The rule's ARN names its bus unless it is the default one (resolved with the properties).
      const rule = explicit ?? ruleName(name);
      const bus = resource.Properties?.EventBusName;
      const onBus = typeof bus === 'string' && bus !== 'default' ? `${bus}/` : '';
      return {
        ref: rule,
        attributes: { Arn: `arn:${partition}:events:${region}:${account}:rule/${onBus}${rule}` },
      };
    }
    case 'AWS::SQS::Queue': {
      const queue = explicit ?? boundedName(name, 80, /[^a-zA-Z0-9_-]/g);
      return {
        ref: `https://sqs.${region}.amazonaws.com/${account}/${queue}`,
        attributes: {
          Arn: `arn:${partition}:sqs:${region}:${account}:${queue}`,
          QueueName: queue,
          QueueUrl: `https://sqs.${region}.amazonaws.com/${account}/${queue}`,
        },
      };
    }
    case 'AWS::SecretsManager::Secret': {
      // Ref is the ARN, whose suffix the service picks: provision puts the created one here.
      const secret = explicit ?? boundedName(name, 512, /[^a-zA-Z0-9/_+=.@-]/g);
      return {
        ref: `arn:${partition}:secretsmanager:${region}:${account}:secret:${secret}`,
        attributes: { Name: secret },
      };
    }
    case 'AWS::SNS::Topic': {
      // Ref of a topic is its ARN.
      const topic = explicit ?? boundedName(name, 256, /[^a-zA-Z0-9_-]/g);
      const arn = `arn:${partition}:sns:${region}:${account}:${topic}`;
      return { ref: arn, attributes: { TopicArn: arn, TopicName: topic } };
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

/**
 * The code every function gets in the emulator: a zip holding nothing (an empty archive's end of
 * central directory record). The emulator never runs it; the harness runs the bundle in-process.
 */
const PLACEHOLDER_ZIP = Uint8Array.from([0x50, 0x4b, 0x05, 0x06, ...new Array<number>(18).fill(0)]);

/** Creates the function's role in the emulator's IAM (its trust policy from the template when declared). */
async function createRoleOf(roleArn: string, template: CfnResource['Properties'] | undefined): Promise<void> {
  const match = /^arn:[^:]+:iam::\d{12}:role(\/(?:.*\/)?)([^/]+)$/.exec(roleArn);
  if (match === null) throw new Error(`not a role ARN: ${roleArn}`);
  const path = match[1] ?? '/';
  const name = match[2] ?? '';
  await ensureRole(name, template?.AssumeRolePolicyDocument ?? LAMBDA_TRUST_POLICY, path);
}

interface CfnFunctionProps {
  readonly Handler?: string;
  readonly Runtime?: string;
  readonly Role: string;
  readonly Timeout?: number;
  readonly MemorySize?: number;
  readonly Description?: string;
  readonly Architectures?: string[];
  readonly Environment?: { Variables?: Record<string, string> };
}

/** Creates a function in the emulator's Lambda API (kept as it is when it exists). */
async function createFunction(name: string, props: CfnFunctionProps): Promise<void> {
  const input: CreateFunctionCommandInput = {
    FunctionName: name,
    Role: props.Role,
    Code: { ZipFile: PLACEHOLDER_ZIP },
    ...(props.Handler ? { Handler: props.Handler } : {}),
    ...(props.Runtime ? { Runtime: props.Runtime as CreateFunctionCommandInput['Runtime'] } : {}),
    ...(props.Timeout ? { Timeout: Number(props.Timeout) } : {}),
    ...(props.MemorySize ? { MemorySize: Number(props.MemorySize) } : {}),
    ...(props.Description ? { Description: props.Description } : {}),
    ...(props.Architectures
      ? { Architectures: props.Architectures as CreateFunctionCommandInput['Architectures'] }
      : {}),
    Environment: { Variables: props.Environment?.Variables ?? {} },
  };
  try {
    await clients.lambda().send(new CreateFunctionCommand(input));
  } catch (error) {
    if (!(error instanceof ResourceConflictException)) throw error;
  }
}

interface CfnRoutingConfig {
  readonly AdditionalVersionWeights?: readonly { FunctionVersion: string; FunctionWeight: number }[];
}

/** CloudFormation's alias RoutingConfig (a list) in the Lambda API's shape (a map). */
export function routingConfigOf(
  routing: CfnRoutingConfig | undefined,
): { AdditionalVersionWeights: Record<string, number> } | undefined {
  const weights = routing?.AdditionalVersionWeights ?? [];
  if (weights.length === 0) return undefined;
  return {
    AdditionalVersionWeights: Object.fromEntries(
      weights.map((w) => [String(w.FunctionVersion), Number(w.FunctionWeight)]),
    ),
  };
}

/** Creates an alias (kept as it is when it exists: a later UpdateAlias, e.g. a deploy, wins). */
async function createAlias(
  functionName: string,
  props: { Name: string; FunctionVersion: string; Description?: string; RoutingConfig?: CfnRoutingConfig },
): Promise<void> {
  const routing = routingConfigOf(props.RoutingConfig);
  try {
    await clients.lambda().send(
      new CreateAliasCommand({
        FunctionName: functionName,
        Name: props.Name,
        FunctionVersion: String(props.FunctionVersion),
        ...(props.Description ? { Description: props.Description } : {}),
        ...(routing ? { RoutingConfig: routing } : {}),
      }),
    );
  } catch (error) {
    // moto answers ConflictException where Lambda answers ResourceConflictException.
    if (!(error instanceof ResourceConflictException) && (error as Error).name !== 'ConflictException')
      throw error;
  }
}

/** The destination and encryption properties CloudFormation and the Firehose API name alike. */
const FIREHOSE_PROPERTIES = [
  'DeliveryStreamType',
  'S3DestinationConfiguration',
  'ExtendedS3DestinationConfiguration',
  'DeliveryStreamEncryptionConfigurationInput',
] as const;

/** CloudFormation's GenerateSecretString: the password options and where the password goes. */
interface CfnGenerateSecretString extends Omit<GetRandomPasswordCommandInput, 'PasswordLength'> {
  readonly PasswordLength?: number;
  readonly SecretStringTemplate?: string;
  readonly GenerateStringKey?: string;
}

/**
 * Creates a secret as CloudFormation would: its `SecretString`, or a password generated with the
 * template's options (the emulator's GetRandomPassword) set under `GenerateStringKey` of
 * `SecretStringTemplate`. An existing secret is kept as it is (its value too: what was signed with
 * it still verifies). Returns its ARN (the emulator's, with its random suffix: Ref of a secret).
 */
async function createSecret(name: string, props: Record<string, unknown>): Promise<string> {
  const sm = clients.secretsManager();
  let secretString = typeof props.SecretString === 'string' ? props.SecretString : undefined;
  const generate = props.GenerateSecretString as CfnGenerateSecretString | undefined;
  if (secretString === undefined) {
    const { SecretStringTemplate, GenerateStringKey, ...options } = generate ?? {};
    const { RandomPassword } = await sm.send(
      new GetRandomPasswordCommand({ PasswordLength: 32, ...options }),
    );
    if (RandomPassword === undefined) throw new Error(`${name}: GetRandomPassword answered no password`);
    if (SecretStringTemplate !== undefined && GenerateStringKey !== undefined) {
      const template = JSON.parse(SecretStringTemplate) as Record<string, unknown>;
      secretString = JSON.stringify({ ...template, [GenerateStringKey]: RandomPassword });
    } else secretString = RandomPassword;
  }
  try {
    const created = await sm.send(
      new CreateSecretCommand({
        Name: name,
        SecretString: secretString,
        ...(typeof props.Description === 'string' ? { Description: props.Description } : {}),
        ...(typeof props.KmsKeyId === 'string' ? { KmsKeyId: props.KmsKeyId } : {}),
      }),
    );
    if (created.ARN === undefined) throw new Error(`${name}: CreateSecret answered no ARN`);
    return created.ARN;
  } catch (error) {
    if (!(error instanceof ResourceExistsException) && (error as Error).name !== 'ResourceExistsException')
      throw error;
    const existing = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    if (existing.ARN === undefined) throw new Error(`${name}: DescribeSecret answered no ARN`);
    return existing.ARN;
  }
}

/** Creates a Firehose delivery stream (kept as it is when it exists). */
async function createDeliveryStream(name: string, props: Record<string, unknown>): Promise<void> {
  const input: Record<string, unknown> & { DeliveryStreamName: string } = { DeliveryStreamName: name };
  for (const key of FIREHOSE_PROPERTIES) if (props[key] !== undefined) input[key] = props[key];
  try {
    await clients.firehose().send(new CreateDeliveryStreamCommand(input as CreateDeliveryStreamCommandInput));
  } catch (error) {
    if (
      !(error instanceof FirehoseResourceInUseException) &&
      (error as Error).name !== 'ResourceInUseException'
    )
      throw error;
  }
}

/** Creates an event bus (kept when it exists), so functions can put events on it and tests add rules. */
/** An alarm as its template declares it (CloudFormation's property names are the API's). */
async function createAlarm(type: string, name: string, props: Record<string, unknown>): Promise<void> {
  const { AlarmName: _name, ...rest } = props;
  if (type === 'AWS::CloudWatch::CompositeAlarm')
    await clients.cloudwatch().send(
      new PutCompositeAlarmCommand({
        AlarmName: name,
        ...(rest as Omit<PutCompositeAlarmCommandInput, 'AlarmName'>),
      }),
    );
  else
    await clients.cloudwatch().send(
      new PutMetricAlarmCommand({
        AlarmName: name,
        ...(rest as Omit<PutMetricAlarmCommandInput, 'AlarmName'>),
      }),
    );
}

interface CfnRuleProps {
  readonly Name?: string;
  readonly EventBusName?: string;
  readonly EventPattern?: unknown;
  readonly ScheduleExpression?: string;
  readonly State?: string;
  readonly Description?: string;
  readonly Targets?: Target[];
}

/** A rule and its targets (EventPattern is an object in a template, a JSON string in the API). */
async function createRule(name: string, props: CfnRuleProps): Promise<void> {
  const bus = props.EventBusName?.replace(/^arn:[^:]+:events:[^:]+:[^:]+:event-bus\//, '');
  const onBus = bus === undefined ? {} : { EventBusName: bus };
  await clients.eventbridge().send(
    new PutRuleCommand({
      Name: name,
      ...onBus,
      ...(props.EventPattern === undefined
        ? {}
        : {
            EventPattern:
              typeof props.EventPattern === 'string'
                ? props.EventPattern
                : JSON.stringify(props.EventPattern),
          }),
      ...(props.ScheduleExpression === undefined ? {} : { ScheduleExpression: props.ScheduleExpression }),
      ...(props.State === undefined ? {} : { State: props.State as RuleState }),
      ...(props.Description === undefined ? {} : { Description: props.Description }),
    }),
  );
  if (props.Targets !== undefined && props.Targets.length > 0)
    await clients.eventbridge().send(new PutTargetsCommand({ Rule: name, ...onBus, Targets: props.Targets }));
}

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
  'AWS::KinesisFirehose::DeliveryStream': 'DeliveryStreamName',
  'AWS::CloudWatch::Alarm': 'AlarmName',
  'AWS::CloudWatch::CompositeAlarm': 'AlarmName',
  'AWS::Events::Rule': 'Name',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::SecretsManager::Secret': 'Name',
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
  const secrets: Record<string, string> = {};

  // Only the data plane is created; its properties are resolved here (other resources may refer
  // to attributes such as a table's StreamArn that exist only once the table does).
  await Promise.all(
    resources.map(async ([logicalId, resource]) => {
      if (resource.Type === 'AWS::Events::EventBus') {
        await createEventBus(states[logicalId]?.ref as string);
        return;
      }
      if (resource.Type === 'AWS::SecretsManager::Secret') {
        const name = states[logicalId]?.attributes.Name as string;
        const props = resolveValue(resource.Properties ?? {}, context, logicalId) as Record<string, unknown>;
        const arn = await createSecret(name, props);
        secrets[logicalId] = arn;
        states[logicalId] = { ref: arn, attributes: { Id: arn, Name: name } };
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

  // Lambda's control plane: roles, then functions, then versions, then aliases (each refers to the
  // one before); delivery streams after the buckets they write to.
  const functions: Record<string, string> = {};
  const versions: Record<string, { functionName: string; version: string }> = {};
  const aliases: Record<string, { functionName: string; name: string }> = {};
  const deliveryStreams: Record<string, string> = {};
  const ofType = (type: string) => resources.filter(([, resource]) => resource.Type === type);
  const roleTemplates = new Map<string, CfnResource['Properties']>();
  for (const [logicalId, resource] of ofType('AWS::IAM::Role')) {
    const arn = states[logicalId]?.attributes.Arn;
    if (arn)
      roleTemplates.set(
        arn,
        resolveValue(resource.Properties ?? {}, context, logicalId) as Record<string, unknown>,
      );
  }
  const functionProps = ofType('AWS::Lambda::Function').map(
    ([logicalId, resource]) =>
      [logicalId, resolveValue(resource.Properties ?? {}, context, logicalId) as CfnFunctionProps] as const,
  );
  const roles = new Set(
    functionProps.map(([, props]) => props.Role).filter((role) => typeof role === 'string'),
  );
  // The emulator's IAM and Lambda live in the caller's account (moto: 123456789012 unless the
  // access key says otherwise), which need not be the account the ARNs here are resolved in.
  const emulatorAccount = roles.size > 0 ? (await clients.sts().getCallerIdentity()).account : '';
  const inEmulatorAccount = (roleArn: string) =>
    roleArn.replace(/^(arn:[^:]+:iam::)\d{12}(:)/, `$1${emulatorAccount}$2`);
  for (const role of roles) await createRoleOf(inEmulatorAccount(role), roleTemplates.get(role));
  await Promise.all([
    ...functionProps.map(async ([logicalId, props]) => {
      const name = states[logicalId]?.ref as string;
      await createFunction(name, { ...props, Role: inEmulatorAccount(props.Role) });
      functions[logicalId] = name;
    }),
    ...ofType('AWS::KinesisFirehose::DeliveryStream').map(async ([logicalId, resource]) => {
      const name = states[logicalId]?.ref as string;
      await createDeliveryStream(
        name,
        resolveValue(resource.Properties ?? {}, context, logicalId) as Record<string, unknown>,
      );
      deliveryStreams[logicalId] = name;
    }),
  ]);
  // One at a time, in template order: a function's versions are numbered in publishing order.
  for (const [logicalId, resource] of ofType('AWS::Lambda::Version')) {
    const props = resolveValue(resource.Properties ?? {}, context, logicalId) as {
      FunctionName: string;
      Description?: string;
    };
    const published = await clients.lambda().send(
      new PublishVersionCommand({
        FunctionName: props.FunctionName,
        ...(props.Description ? { Description: props.Description } : {}),
      }),
    );
    if (!published.Version || !published.FunctionArn || !published.FunctionName)
      throw new Error(`${logicalId}: PublishVersion answered without a version`);
    versions[logicalId] = { functionName: published.FunctionName, version: published.Version };
    states[logicalId] = {
      ref: published.FunctionArn,
      attributes: { Version: published.Version, FunctionArn: published.FunctionArn },
    };
  }
  for (const [logicalId, resource] of ofType('AWS::Lambda::Alias')) {
    const props = resolveValue(resource.Properties ?? {}, context, logicalId) as Parameters<
      typeof createAlias
    >[1] & { FunctionName: string };
    const fnName = props.FunctionName.replace(/^arn:[^:]+:lambda:[^:]+:[^:]+:function:/, '');
    await createAlias(fnName, props);
    aliases[logicalId] = { functionName: fnName, name: props.Name };
    const arn = `arn:${partial.partition}:lambda:${partial.region}:${partial.accountId}:function:${fnName}:${props.Name}`;
    states[logicalId] = { ref: arn, attributes: { AliasArn: arn } };
  }
  // CloudWatch alarms (metric, then composite: a composite names them) and EventBridge rules, kept
  // by the emulator as the template declares them: the local alarm evaluator evaluates the alarms,
  // the event router delivers the rules' matches (the emulator delivers SQS targets itself).
  const alarms: Record<string, string> = {};
  const rules: Record<string, string> = {};
  for (const type of ['AWS::CloudWatch::Alarm', 'AWS::CloudWatch::CompositeAlarm'])
    await Promise.all(
      ofType(type).map(async ([logicalId, resource]) => {
        const name = states[logicalId]?.ref as string;
        const props = resolveValue(resource.Properties ?? {}, context, logicalId) as Record<string, unknown>;
        await createAlarm(type, name, props);
        alarms[logicalId] = name;
      }),
    );
  await Promise.all(
    ofType('AWS::Events::Rule').map(async ([logicalId, resource]) => {
      const name = states[logicalId]?.ref as string;
      const props = resolveValue(resource.Properties ?? {}, context, logicalId) as CfnRuleProps;
      await createRule(name, props);
      rules[logicalId] = name;
    }),
  );
  return {
    context,
    tables,
    buckets,
    functions,
    versions,
    aliases,
    deliveryStreams,
    alarms,
    rules,
    secrets,
    resolve: (value, where) => resolveValue(value, context, where),
  };
}
