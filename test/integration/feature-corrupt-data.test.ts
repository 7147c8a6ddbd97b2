/**
 * A corrupt offline file a manifest lists (truncated or garbage Parquet) fails a training set with a
 * CorruptDataError naming the file: stored data is broken, the request is not at fault.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { defineFeatureView, type FeatureView } from '../../lambdas/feature-store/feature-view.js';
import { getHistoricalFeatures } from '../../lambdas/feature-store/historical.js';
import { ingestBatch } from '../../lambdas/feature-store/ingest.js';
import { clients } from '../../lambdas/shared/clients.js';
import { CorruptDataError, ValidationError } from '../../lambdas/shared/errors.js';
import { S3ObjectStore } from '../../lambdas/shared/object-store.js';
import { startLocalStack } from '../../local/local-stack.js';
import { testFeatureViews } from '../fixtures/feature-views.js';
import { assemblyFor } from '../support/assemblies.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-10-12T00:00:00Z');
let store: S3ObjectStore;
let bucket: string;
let counter = 0;

beforeAll(async () => {
  const local = await startLocalStack(
    await assemblyFor({ context: { mlops: { featureViews: testFeatureViews } } }),
    { prefix: 'corrupt-' },
  );
  bucket = local.resourceName('FeatureStoreOffline');
  store = new S3ObjectStore(clients.s3(), bucket);
});

/** A fresh view with one good batch and one whose file is then replaced by `corrupt(bytes)`. */
async function viewWithCorruptFile(corrupt: (good: Uint8Array) => Uint8Array) {
  const base = testFeatureViews[0];
  if (base === undefined) throw new Error('no test view');
  const view: FeatureView = defineFeatureView({ ...base, name: `corrupt_${++counter}` });
  const views = new Map([[view.name, view]]);
  const body = (id: string) =>
    new TextEncoder().encode(
      Array.from({ length: 40 }, (_, i) =>
        JSON.stringify({ customer_id: `${id}${i}`, event_time: T0 + HOUR, orders: i, spend: i / 3 }),
      ).join('\n'),
    );
  await ingestBatch({ view: view.name, batchId: 'good', format: 'jsonl' }, body('g'), { store, views });
  const bad = await ingestBatch({ view: view.name, batchId: 'bad', format: 'jsonl' }, body('b'), {
    store,
    views,
  });
  const key = bad.files[0] as string;
  const good = (await store.get(key)) as Uint8Array;
  await clients.s3().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: corrupt(good) }));
  return { view, views, key };
}

describe('training sets over corrupt offline files', () => {
  it.each([
    ['truncated', (good: Uint8Array) => good.subarray(0, Math.floor(good.length * 0.6))],
    ['garbage', () => new TextEncoder().encode('PAR1 certainly not a parquet file PAR1')],
  ])('fail with a CorruptDataError naming a %s file', async (_, corrupt) => {
    const { view, views, key } = await viewWithCorruptFile(corrupt);
    const error = await getHistoricalFeatures(
      {
        entityRows: [{ customer_id: 'g1', event_time: T0 + 2 * HOUR }],
        featureRefs: [`${view.name}:orders`],
      },
      { store, views },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptDataError);
    expect(error).not.toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ name: 'CorruptDataError', key, code: 'CORRUPT_DATA', status: 500 });
    expect((error as Error).message).toContain(key);
  });
});
