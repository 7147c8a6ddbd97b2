import { PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { clients } from '../../lambdas/shared/clients.js';
import { synthesize } from '../../local/assembly.js';
import { type LocalStack, startLocalStack } from '../../local/local-stack.js';
import { testFeatureViews } from '../fixtures/feature-views.js';

let local: LocalStack;
let bucket: string;
let ingestFunction: string;

beforeAll(async () => {
  const assembly = synthesize(undefined, { context: { mlops: { featureViews: testFeatureViews } } });
  local = await startLocalStack(assembly, { prefix: 'ingestfn-' });
  bucket = local.resourceName('FeatureStoreOffline');
  const [id] = local.lambdas.logicalIds.filter((logicalId) => logicalId.startsWith('FeatureStoreIngest'));
  ingestFunction = id ?? '';
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
});
