import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { GetBucketVersioningCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { clients } from '../../lambdas/shared/clients.js';
import { UnsupportedDefinitionError } from '../../local/asl-guard.js';
import { synthesize } from '../../local/assembly.js';
import { HarnessError } from '../../local/lambda-runtime.js';
import { type LocalStack, startLocalStack } from '../../local/local-stack.js';
import { HarnessFixtureStack } from '../fixtures/harness-stack.js';

let local: LocalStack;

/** The SageMaker `.sync` task's local implementation: answers with DescribeTrainingJob's shape. */
const sagemakerTrainLocally = async (input: unknown) => {
  const { TrainingJobName, OutputDataConfig } = input as {
    TrainingJobName: string;
    OutputDataConfig: { S3OutputPath: string };
  };
  return {
    TrainingJobName,
    TrainingJobStatus: 'Completed',
    ModelArtifacts: {
      S3ModelArtifacts: `${OutputDataConfig.S3OutputPath}${TrainingJobName}/output/model.tar.gz`,
    },
  };
};

beforeAll(async () => {
  const assembly = synthesize((app) => void new HarnessFixtureStack(app, 'HarnessFixture'));
  local = await startLocalStack(assembly, { prefix: 'harness-' });
});

describe('provisioning from the template', () => {
  it('creates the table with its keys, GSI, stream and TTL as declared', async () => {
    const tableName = local.resourceName('Counters');
    const { Table } = await clients.dynamodb().send(new DescribeTableCommand({ TableName: tableName }));
    const declared = Object.values(local.stack.template.Resources).find(
      (r) => r.Type === 'AWS::DynamoDB::Table',
    )?.Properties;
    expect(Table?.KeySchema).toEqual(declared?.KeySchema);
    expect(
      Table?.GlobalSecondaryIndexes?.map((g) => [g.IndexName, g.KeySchema, g.Projection?.ProjectionType]),
    ).toEqual([
      [
        'byKind',
        [
          { AttributeName: 'kind', KeyType: 'HASH' },
          { AttributeName: 'createdAt', KeyType: 'RANGE' },
        ],
        'KEYS_ONLY',
      ],
    ]);
    expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    const ttl = await clients.dynamodb().send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    expect(ttl.TimeToLiveDescription).toMatchObject({
      AttributeName: 'expiresAt',
      TimeToLiveStatus: 'ENABLED',
    });
  });

  it('creates the bucket with versioning as declared', async () => {
    const versioning = await clients
      .s3()
      .send(new GetBucketVersioningCommand({ Bucket: local.resourceName('Data') }));
    expect(versioning.Status).toBe('Enabled');
  });

  it('is idempotent', async () => {
    await expect(startLocalStack(local.assembly, { prefix: 'harness-' })).resolves.toBeDefined();
  });
});

describe('state machine runner', () => {
  it('retries, maps and runs parallel branches as AWS does', async () => {
    const result = await local
      .stateMachine('Features')
      .run(
        { key: 'happy', failTimes: 2, items: [1, 2, 3] },
        { serviceIntegrations: { Train: sagemakerTrainLocally }, executionName: 'job-1' },
      );

    expect(result, JSON.stringify({ error: result.error, cause: result.cause })).toMatchObject({
      status: 'SUCCEEDED',
    });
    expect(result.retries).toEqual({ Flaky: 2 });
    expect(result.states.filter((s) => s.name === 'Double').map((s) => s.output)).toEqual([
      { value: 2 },
      { value: 4 },
      { value: 6 },
    ]);
    expect(result.output).toMatchObject({
      key: 'happy',
      attempts: 3,
      doubled: [{ value: 2 }, { value: 4 }, { value: 6 }],
      parallel: [
        {
          training: {
            status: 'Completed',
            artifact: expect.stringMatching(/\/models\/job-1\/output\/model\.tar\.gz$/),
          },
        },
        { noted: true },
      ],
    });
    expect(result.states.map((s) => s.name)).not.toContain('Reject');
  });

  it('fails with the function error once the retries are used up', async () => {
    const result = await local
      .stateMachine('Features')
      .run(
        { key: 'hopeless', failTimes: 10, items: [] },
        { serviceIntegrations: { Train: sagemakerTrainLocally } },
      );

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('TransientError');
    expect(JSON.parse(result.cause ?? '{}')).toMatchObject({
      errorType: 'TransientError',
      errorMessage: 'attempt 4 failed',
    });
    expect(result.retries).toEqual({ Flaky: 3 });
  });

  it('routes a typed error to its Catch', async () => {
    const result = await local
      .stateMachine('Features')
      .run(
        { key: 'bad', failTimes: 0, bad: true, items: [] },
        { serviceIntegrations: { Train: sagemakerTrainLocally } },
      );

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.map((s) => [s.name, s.error])).toEqual([
      ['Flaky', undefined],
      ['IsBad', undefined],
      ['Reject', 'InvalidThing'],
      ['Rejected', undefined],
    ]);
    expect(result.output).toMatchObject({ error: { Error: 'InvalidThing' } });
  });

  it('refuses to run a SageMaker task without a named local implementation', async () => {
    await expect(local.stateMachine('Features').run({ key: 'x', failTimes: 0, items: [] })).rejects.toThrow(
      UnsupportedDefinitionError,
    );
    await expect(local.stateMachine('Features').run({ key: 'x', failTimes: 0, items: [] })).rejects.toThrow(
      /Train: arn:aws:states:::sagemaker:createTrainingJob.sync has no local implementation/,
    );
  });

  it('makes a harness failure fatal even under a Catch of States.ALL', async () => {
    await expect(local.stateMachine('CatchAll').run({})).rejects.toThrow(HarnessError);
  });
});
