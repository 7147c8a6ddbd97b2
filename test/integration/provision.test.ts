import {
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { GetBucketEncryptionCommand, GetBucketVersioningCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { clients } from '../../lambdas/shared/clients.js';
import { type Assembly, type CfnResource, loadAssembly, stackOf } from '../../local/assembly.js';
import { bucketName, type ProvisionedStack, provision, tableName } from '../../local/provision.js';
import { assemblyFor, harnessFixture } from '../support/assemblies.js';

type Props = Record<string, unknown>;

let fixture: Assembly;
let fixtureStack: ProvisionedStack;
let realApp: Assembly;
let realStack: ProvisionedStack;

beforeAll(async () => {
  fixture = await assemblyFor(harnessFixture('ProvisionFixture'));
  fixtureStack = await provision(stackOf(fixture), { prefix: 'prov-' });
  realApp = loadAssembly(inject('assemblyDir'));
  realStack = await provision(stackOf(realApp), { prefix: 'prov-' });
});

const resourcesOf = (assembly: Assembly, type: string): [string, CfnResource][] =>
  Object.entries(stackOf(assembly).template.Resources).filter(([, r]) => r.Type === type);

const byName = <T extends { AttributeName?: string; IndexName?: string }>(items: T[] | undefined) =>
  [...(items ?? [])].sort((a, b) =>
    String(a.IndexName ?? a.AttributeName).localeCompare(String(b.IndexName ?? b.AttributeName)),
  );

/** Asserts that what DynamoDB describes is what the template declares. */
async function expectTableAsDeclared(name: string, declared: Props): Promise<void> {
  const { Table } = await clients.dynamodb().send(new DescribeTableCommand({ TableName: name }));
  expect(Table?.TableStatus).toBe('ACTIVE');
  expect(Table?.KeySchema).toEqual(declared.KeySchema);
  expect(byName(Table?.AttributeDefinitions)).toEqual(byName(declared.AttributeDefinitions as never));
  const payPerRequest = declared.BillingMode === 'PAY_PER_REQUEST';
  expect(Table?.BillingModeSummary?.BillingMode ?? 'PROVISIONED').toBe(
    payPerRequest ? 'PAY_PER_REQUEST' : 'PROVISIONED',
  );
  if (!payPerRequest) {
    expect(Table?.ProvisionedThroughput).toMatchObject(declared.ProvisionedThroughput as Props);
  }
  const indexes = (list: { IndexName?: string; KeySchema?: unknown; Projection?: unknown }[] | undefined) =>
    byName(list).map((i) => ({ IndexName: i.IndexName, KeySchema: i.KeySchema, Projection: i.Projection }));
  expect(indexes(Table?.GlobalSecondaryIndexes)).toEqual(indexes(declared.GlobalSecondaryIndexes as never));
  expect(indexes(Table?.LocalSecondaryIndexes)).toEqual(indexes(declared.LocalSecondaryIndexes as never));
  const stream = declared.StreamSpecification as { StreamViewType: string } | undefined;
  if (stream) {
    expect(Table?.StreamSpecification).toEqual({
      StreamEnabled: true,
      StreamViewType: stream.StreamViewType,
    });
  } else {
    expect(Table?.StreamSpecification?.StreamEnabled ?? false).toBe(false);
  }
  const sse = declared.SSESpecification as { SSEEnabled?: boolean } | undefined;
  expect(Table?.SSEDescription?.Status === 'ENABLED').toBe(Boolean(sse?.SSEEnabled));
  const ttl = await clients.dynamodb().send(new DescribeTimeToLiveCommand({ TableName: name }));
  const declaredTtl = declared.TimeToLiveSpecification as { AttributeName: string } | undefined;
  expect(ttl.TimeToLiveDescription?.TimeToLiveStatus ?? 'DISABLED').toBe(
    declaredTtl ? 'ENABLED' : 'DISABLED',
  );
  expect(ttl.TimeToLiveDescription?.AttributeName).toBe(declaredTtl?.AttributeName);
  const backups = await clients.dynamodb().send(new DescribeContinuousBackupsCommand({ TableName: name }));
  const pitr = declared.PointInTimeRecoverySpecification as
    | { PointInTimeRecoveryEnabled?: boolean }
    | undefined;
  expect(
    backups.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus,
  ).toBe(pitr?.PointInTimeRecoveryEnabled ? 'ENABLED' : 'DISABLED');
}

/** Asserts that the bucket's versioning and default encryption are what the template declares. */
async function expectBucketAsDeclared(name: string, declared: Props): Promise<void> {
  const versioning = await clients.s3().send(new GetBucketVersioningCommand({ Bucket: name }));
  expect(versioning.Status).toBe(
    (declared.VersioningConfiguration as { Status?: string } | undefined)?.Status,
  );
  const rules = (declared.BucketEncryption as { ServerSideEncryptionConfiguration: Props[] } | undefined)
    ?.ServerSideEncryptionConfiguration;
  const encryption = await clients.s3().send(new GetBucketEncryptionCommand({ Bucket: name }));
  expect(
    encryption.ServerSideEncryptionConfiguration?.Rules?.map((r) => r.ApplyServerSideEncryptionByDefault),
  ).toEqual(rules?.map((r) => r.ServerSideEncryptionByDefault) ?? [{ SSEAlgorithm: 'AES256' }]);
}

describe.each([
  ['the fixture stack', () => [fixture, fixtureStack] as const],
  ['the real app', () => [realApp, realStack] as const],
])('provisioning %s from its template', (_label, subject) => {
  it('creates every table with the keys, indexes, billing, stream, encryption, TTL and PITR it declares', async () => {
    const [assembly, provisioned] = subject();
    const tables = resourcesOf(assembly, 'AWS::DynamoDB::Table');
    expect(Object.keys(provisioned.tables).sort()).toEqual(tables.map(([id]) => id).sort());
    for (const [logicalId, resource] of tables) {
      await expectTableAsDeclared(provisioned.tables[logicalId] as string, resource.Properties ?? {});
    }
  });

  it('creates every bucket with the versioning and encryption it declares', async () => {
    const [assembly, provisioned] = subject();
    const buckets = resourcesOf(assembly, 'AWS::S3::Bucket');
    expect(Object.keys(provisioned.buckets).sort()).toEqual(buckets.map(([id]) => id).sort());
    for (const [logicalId, resource] of buckets) {
      await expectBucketAsDeclared(provisioned.buckets[logicalId] as string, resource.Properties ?? {});
    }
  });
});

describe('provisioned names and attributes', () => {
  const countersId = () => resourcesOf(fixture, 'AWS::DynamoDB::Table')[0]?.[0] as string;

  it('resolves a table stream ARN to the one the emulator created', async () => {
    const name = fixtureStack.tables[countersId()] as string;
    const { Table } = await clients.dynamodb().send(new DescribeTableCommand({ TableName: name }));
    expect(fixtureStack.resolve({ 'Fn::GetAtt': [countersId(), 'StreamArn'] })).toBe(Table?.LatestStreamArn);
  });

  it('keeps two prefixes of one template apart', async () => {
    const other = await provision(stackOf(fixture), { prefix: 'prov-other-' });
    const names = [...Object.values(other.tables), ...Object.values(other.buckets)];
    const ours = [...Object.values(fixtureStack.tables), ...Object.values(fixtureStack.buckets)];
    expect(names.filter((n) => ours.includes(n))).toEqual([]);
    expect(other.tables[countersId()]).toBe(`prov-other-ProvisionFixture-${countersId()}`);
  });

  it('is idempotent: provisioning again keeps the names and the data', async () => {
    const table = fixtureStack.tables[countersId()] as string;
    await clients.dynamodb().send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'kept' } } }));

    const again = await provision(stackOf(fixture), { prefix: 'prov-' });

    expect(again.tables).toEqual(fixtureStack.tables);
    expect(again.buckets).toEqual(fixtureStack.buckets);
    const { Item } = await clients
      .dynamodb()
      .send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'kept' } } }));
    expect(Item).toEqual({ pk: { S: 'kept' } });
  });

  it('uses the name a template sets and derives the rest from stack and logical id', async () => {
    const stack = {
      stackName: 'Named',
      template: {
        Resources: {
          Given: {
            Type: 'AWS::S3::Bucket',
            Properties: { BucketName: { 'Fn::Join': ['-', ['given', { Ref: 'AWS::AccountId' }]] } },
          },
          Derived: { Type: 'AWS::S3::Bucket' },
        },
      },
    };
    const provisioned = await provision(stack, { prefix: 'P_' });
    expect(provisioned.buckets).toEqual({ Given: 'given-000000000000', Derived: 'p-named-derived' });
  });

  it('refuses a data-plane resource it cannot create, naming it', async () => {
    const stack = {
      stackName: 'S',
      template: { Resources: { Replicated: { Type: 'AWS::DynamoDB::GlobalTable' } } },
    };
    await expect(provision(stack)).rejects.toThrow(
      'Replicated: AWS::DynamoDB::GlobalTable is not provisioned locally',
    );
  });

  it('derives names that follow the S3 and DynamoDB rules', () => {
    expect(bucketName('My_Prefix-Stack-Bucket1')).toBe('my-prefix-stack-bucket1');
    const long = bucketName(`a${'x'.repeat(100)}Bucket`);
    expect(long).toMatch(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
    expect(long).not.toBe(bucketName(`a${'x'.repeat(100)}Other`));
    expect(bucketName('..x')).toMatch(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
    expect(tableName('pre fix/Stack-Table')).toBe('pre-fix-Stack-Table');
  });
});
