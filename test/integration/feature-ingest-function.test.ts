import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeFeatureColumns } from '../../lambdas/feature-store/parquet-codec.js';
import { clients } from '../../lambdas/shared/clients.js';
import { type LocalStack, startLocalStack } from '../../local/local-stack.js';
import { testFeatureViews } from '../fixtures/feature-views.js';
import { assemblyFor } from '../support/assemblies.js';

let local: LocalStack;
let bucket: string;
let ingestFunction: string;
let materializeFunction: string;
let trainingSetFunction: string;

beforeAll(async () => {
  const assembly = await assemblyFor({ context: { mlops: { featureViews: testFeatureViews } } });
  local = await startLocalStack(assembly, { prefix: 'ingestfn-' });
  bucket = local.resourceName('FeatureStoreOffline');
  const [id] = local.lambdas.logicalIds.filter((logicalId) => logicalId.startsWith('FeatureStoreIngest'));
  ingestFunction = id ?? '';
  trainingSetFunction =
    local.lambdas.logicalIds.find((logicalId) => logicalId.startsWith('FeatureStoreBuildTrainingSet')) ?? '';
  materializeFunction =
    local.lambdas.logicalIds.find((logicalId) => logicalId.startsWith('FeatureStoreMaterialize')) ?? '';
});

describe('ingestion function (bundle from the template, views from configuration)', () => {
  it('ingests a landed batch into the offline store', async () => {
    const body = [
      '{"merchant_id":7,"event_time":1762000000000,"category":"food"}',
      '{"merchant_id":8,"event_time":1762000000000,"category":"toys"}',
    ].join('\n');
    await clients.s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'landing/m-1.jsonl', Body: body }));

    const result = await local.lambdas.invoke(ingestFunction, {
      view: 'merchant',
      batchId: 'm-1',
      format: 'jsonl',
      sourceKey: 'landing/m-1.jsonl',
    });

    expect(result).toMatchObject({
      view: 'merchant',
      received: 2,
      accepted: 1,
      rejected: 1,
      files: ['features/merchant/date=2025-11-01/m-1.parquet'],
    });
  });

  it('answers a source outside landing/ with a ValidationError naming sourceKey', async () => {
    await expect(
      local.lambdas.invoke(ingestFunction, {
        view: 'merchant',
        batchId: 'm-2',
        format: 'jsonl',
        sourceKey: 'features/x',
      }),
    ).rejects.toMatchObject({ name: 'ValidationError', message: 'sourceKey: must be a key under landing/' });
  });

  it.each([
    [{ view: 'nope', batchId: 'm-3', format: 'jsonl', sourceKey: 'landing/missing.jsonl' }, 'view: '],
    [{ view: 'merchant', batchId: 'm 3', format: 'jsonl', sourceKey: 'landing/missing.jsonl' }, 'batchId: '],
  ])('checks the request before reading the batch (%j)', async (event, message) => {
    // The source does not exist: the request's own fault is reported first.
    await expect(local.lambdas.invoke(ingestFunction, event)).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringMatching(new RegExp(`^${message}`)),
    });
  });

  it.each([
    [
      { entityRowsKey: 'landing/rows.csv', featureRefs: ['customer:orders'] },
      'entityRowsKey: must end in .jsonl',
    ],
    [
      { entityRowsKey: 'landing/rows.jsonl', featureRefs: ['customer:orders'], name: 5 },
      'name: must be a string',
    ],
    [
      { entityRowsKey: 'landing/rows.jsonl', featureRefs: ['customer:orders'], timestampColumn: [] },
      'timestampColumn: ',
    ],
  ])('refuses a bad training-set event by field (%j)', async (event, message) => {
    await expect(local.lambdas.invoke(trainingSetFunction, event)).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringMatching(new RegExp(`^${message}`)),
    });
  });

  it('materializes a view through the scheduled function', async () => {
    const now = Date.now();
    const body = `{"customer_id":"c9","event_time":${now - 1000},"orders":4,"spend":2.5}`;
    await clients.s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'landing/c-1.jsonl', Body: body }));
    await local.lambdas.invoke(ingestFunction, {
      view: 'customer',
      batchId: 'c-1',
      format: 'jsonl',
      sourceKey: 'landing/c-1.jsonl',
    });

    const result = await local.lambdas.invoke(materializeFunction, { view: 'customer' });

    expect(result).toMatchObject({ view: 'customer', batches: 1, rows: 1, written: 1 });
    await expect(local.lambdas.invoke(materializeFunction, { view: 'merchant' })).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'view: must be an online view (merchant is offline only)',
    });
  });

  it('builds a point-in-time training set through its function', async () => {
    const at = Date.parse('2026-09-01T12:00:00Z');
    const batch = [
      `{"customer_id":"t1","event_time":${at},"orders":1,"spend":1}`,
      `{"customer_id":"t1","event_time":${at + 60_000},"orders":2,"spend":2}`,
    ].join('\n');
    await clients.s3().send(new PutObjectCommand({ Bucket: bucket, Key: 'landing/t-1.jsonl', Body: batch }));
    await local.lambdas.invoke(ingestFunction, {
      view: 'customer',
      batchId: 't-1',
      format: 'jsonl',
      sourceKey: 'landing/t-1.jsonl',
    });
    const rows = [
      `{"customer_id":"t1","event_time":${at + 30_000},"label":true}`,
      `{"customer_id":"t1","event_time":${at + 90_000},"label":false}`,
    ];
    await clients
      .s3()
      .send(new PutObjectCommand({ Bucket: bucket, Key: 'landing/rows.jsonl', Body: rows.join('\n') }));

    const manifest = await local.lambdas.invoke(trainingSetFunction, {
      entityRowsKey: 'landing/rows.jsonl',
      featureRefs: ['customer:orders'],
      name: 'churn',
    });

    expect(manifest).toMatchObject({
      rowCount: 2,
      featureRefs: ['customer:orders'],
      dataKey: expect.stringMatching(/^datasets\/churn\/[0-9a-f]{64}\/data\.parquet$/),
      manifestKey: expect.stringMatching(/^datasets\/churn\/[0-9a-f]{64}\/manifest\.json$/),
      inputCount: 1,
    });
    // The input list stays in S3, out of the (size-limited) state machine payload.
    expect(manifest).not.toHaveProperty('inputs');
    const stored = await clients
      .s3()
      .send(new GetObjectCommand({ Bucket: bucket, Key: (manifest as { manifestKey: string }).manifestKey }));
    expect(JSON.parse((await stored.Body?.transformToString()) ?? '{}')).toMatchObject({
      inputs: [{ key: expect.stringMatching(/^features\/customer\/date=2026-09-01\/t-1\.parquet$/) }],
    });
    const data = await clients
      .s3()
      .send(new GetObjectCommand({ Bucket: bucket, Key: (manifest as { dataKey: string }).dataKey }));
    const bytes = await data.Body?.transformToByteArray();
    if (bytes === undefined) throw new Error('dataset has no body');
    const columns = await decodeFeatureColumns(bytes.buffer as ArrayBuffer);
    expect(columns).toMatchObject({ customer__orders: [1, 2], label: [true, false] });
  });
});
