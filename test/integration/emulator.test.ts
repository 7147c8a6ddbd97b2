import { randomUUID } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  paginateListTables,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { CreateDeliveryStreamCommand, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { CreateBucketCommand, ListBucketsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { clients } from '../../lambdas/shared/clients.js';
import { captureFirehosePrefix, captureHourPrefix, capturePrefix } from '../../lambdas/shared/layout.js';
import { startEmulator } from '../../local/emulator.js';

const WRITERS = 50;
const MAX_ATTEMPTS = 1_000;
// Ten more attributes in each update widen moto's window between checking the condition and writing the
// item, so the harness test reliably catches a lost update if requests are not serialized.
const PAYLOAD_FIELDS = 10;

async function createTable(): Promise<string> {
  const tableName = `emulator-${randomUUID()}`;
  await clients.dynamodb().send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
  return tableName;
}

async function readCounter(tableName: string): Promise<number> {
  const { Item } = await clients
    .documents()
    .send(
      new GetCommand({ TableName: tableName, Key: { pk: 'counter', sk: 'counter' }, ConsistentRead: true }),
    );
  return (Item?.n as number | undefined) ?? 0;
}

/**
 * Optimistic concurrency as the registry does it: read the value, write value + 1 on condition that
 * it is still the value read, start over when the condition fails. Resolves with the value read by
 * the attempt that succeeded.
 */
async function readThenWrite(write: (seen: number) => Promise<void>, tableName: string): Promise<number> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const seen = await readCounter(tableName);
    try {
      await write(seen);
      return seen;
    } catch (error) {
      const lost =
        error instanceof ConditionalCheckFailedException ||
        (error instanceof TransactionCanceledException &&
          (error.CancellationReasons ?? []).some((reason) => reason.Code === 'ConditionalCheckFailed'));
      if (!lost) throw error;
    }
  }
  throw new Error(`no successful write after ${MAX_ATTEMPTS} attempts`);
}

/** Sets counter n to seen + 1 if it is still `seen`, and `payloadFields` more attributes with it. */
function counterUpdate(tableName: string, seen: number, payloadFields = 0) {
  const payload = Array.from({ length: payloadFields }, (_, i) => `p${i} = :next`);
  return {
    TableName: tableName,
    Key: { pk: 'counter', sk: 'counter' },
    UpdateExpression: `SET ${['n = :next', ...payload].join(', ')}`,
    ConditionExpression: seen === 0 ? 'attribute_not_exists(n)' : 'n = :seen',
    ExpressionAttributeValues: seen === 0 ? { ':next': 1 } : { ':next': seen + 1, ':seen': seen },
  };
}

describe('emulator harness', () => {
  it('points the test workers at the emulator the global setup started', () => {
    expect(process.env.AWS_ENDPOINT_URL).toBe(inject('awsEndpoint'));
    expect(process.env.AWS_REGION).toBeTruthy();
  });

  it('creates and lists an S3 bucket', async () => {
    const bucket = `emulator-${randomUUID()}`;
    await clients.s3().send(new CreateBucketCommand({ Bucket: bucket }));
    const { Buckets } = await clients.s3().send(new ListBucketsCommand({}));
    expect(Buckets?.map((b) => b.Name)).toContain(bucket);
  });

  it('creates and lists a DynamoDB table', async () => {
    const tableName = await createTable();
    // Every page: the shared emulator holds more tables than one page (100) lists.
    const names: string[] = [];
    for await (const page of paginateListTables({ client: clients.dynamodb() }, {}))
      names.push(...(page.TableNames ?? []));
    expect(names).toContain(tableName);
  });

  it('applies 50 racing conditional increments exactly once each', async () => {
    const tableName = await createTable();
    const write = async (seen: number) => {
      await clients.documents().send(new UpdateCommand(counterUpdate(tableName, seen, PAYLOAD_FIELDS)));
    };

    const seenBySuccesses = await Promise.all(
      Array.from({ length: WRITERS }, () => readThenWrite(write, tableName)),
    );

    expect(await readCounter(tableName)).toBe(WRITERS);
    expect([...seenBySuccesses].sort((a, b) => a - b)).toEqual(Array.from({ length: WRITERS }, (_, i) => i));
  });

  it('applies 50 racing transactions (conditional counter update + new item) atomically', async () => {
    const tableName = await createTable();
    const owners = new Map<number, string>();
    const register = async (owner: string) =>
      readThenWrite(async (seen) => {
        await clients.documents().send(
          new TransactWriteCommand({
            TransactItems: [
              { Update: counterUpdate(tableName, seen) },
              {
                Put: {
                  TableName: tableName,
                  Item: { pk: 'version', sk: String(seen + 1).padStart(4, '0'), owner },
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
            ],
          }),
        );
        owners.set(seen + 1, owner);
      }, tableName);

    await Promise.all(Array.from({ length: WRITERS }, (_, i) => register(`writer-${i}`)));

    const { Items = [] } = await clients.documents().send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': 'version' },
        ConsistentRead: true,
      }),
    );
    expect(await readCounter(tableName)).toBe(WRITERS);
    expect(owners.size).toBe(WRITERS);
    expect(Items.map((item) => [Number(item.sk), item.owner])).toEqual(
      [...owners.entries()].sort(([a], [b]) => a - b),
    );
  });

  it('starts a second moto on its own loopback port and stops it', async () => {
    const started = Date.now();
    const emulator = await startEmulator({ env: {} });
    const startMs = Date.now() - started;
    try {
      expect(emulator.kind).toBe('moto');
      expect(emulator.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(emulator.endpoint).not.toBe(inject('awsEndpoint'));
      expect((await fetch(emulator.endpoint)).ok).toBe(true);
      console.info(`moto server answered ${startMs} ms after startEmulator()`);
    } finally {
      await emulator.stop();
    }
    await expect(fetch(emulator.endpoint)).rejects.toThrow();
  });

  it('delivers Firehose records under the custom prefix rendered as Firehose renders it (a harness fix to moto)', async () => {
    const bucket = `firehose-${randomUUID()}`;
    const stream = `capture-${randomUUID().slice(0, 8)}`;
    await clients.s3().send(new CreateBucketCommand({ Bucket: bucket }));
    await clients.firehose().send(
      new CreateDeliveryStreamCommand({
        DeliveryStreamName: stream,
        ExtendedS3DestinationConfiguration: {
          BucketARN: `arn:aws:s3:::${bucket}`,
          RoleARN: 'arn:aws:iam::000000000000:role/firehose',
          Prefix: captureFirehosePrefix('churn'),
          ErrorOutputPrefix: 'capture-errors/churn/!{firehose:error-output-type}/',
        },
      }),
    );
    const before = Date.now();
    await clients.firehose().send(
      new PutRecordBatchCommand({
        DeliveryStreamName: stream,
        Records: [{ Data: Buffer.from('{"a":1}\n') }, { Data: Buffer.from('{"a":2}\n') }],
      }),
    );
    const after = Date.now();
    const { Contents = [] } = await clients.s3().send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(Contents).toHaveLength(1);
    const key = Contents[0]?.Key ?? '';
    // The hour partition of delivery time (a delivery across an hour boundary may take either side).
    const partitions = [captureHourPrefix('churn', before), captureHourPrefix('churn', after)];
    expect(
      partitions.some((p) => key.startsWith(`${p}${stream}-`)),
      key,
    ).toBe(true);
    expect(key.startsWith(capturePrefix('churn'))).toBe(true);
    expect(key).not.toContain('!{');
  });
});
