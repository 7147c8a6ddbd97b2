/**
 * The feature-store functions as deployed (bundles from the template, on the emulator): ingestion
 * started by a landed batch's S3 event, materialization that never overlaps itself, and the
 * metrics both emit.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ViewLeases } from '../../lambdas/feature-store/view-lease.js';
import { clients } from '../../lambdas/shared/clients.js';
import { type LocalStack, startLocalStack } from '../../local/local-stack.js';
import { testFeatureViews } from '../fixtures/feature-views.js';
import { assemblyFor } from '../support/assemblies.js';

let local: LocalStack;
let bucket: string;
let leaseTable: string;
let ingestFunction: string;
let materializeFunction: string;

beforeAll(async () => {
  const assembly = await assemblyFor({
    context: { mlops: { featureViews: testFeatureViews, metricsNamespace: 'LandingTest' } },
  });
  local = await startLocalStack(assembly, { prefix: 'landing-' });
  bucket = local.resourceName('FeatureStoreOffline');
  leaseTable = local.resourceName('FeatureStoreLeases');
  const id = (prefix: string) =>
    local.lambdas.logicalIds.find((logicalId) => logicalId.startsWith(prefix)) ?? '';
  ingestFunction = id('FeatureStoreIngest');
  materializeFunction = id('FeatureStoreMaterialize');
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** The S3 "Object Created" event EventBridge delivers for `key`. */
const objectCreated = (key: string, bucketName = bucket) => ({
  version: '0',
  source: 'aws.s3',
  'detail-type': 'Object Created',
  detail: { bucket: { name: bucketName }, object: { key, size: 1 } },
});

/** EMF documents printed while `run` runs, by metric name. */
async function emittedDuring(run: () => Promise<unknown>): Promise<Map<string, Record<string, unknown>>> {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const capture = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    lines.push(String(chunk));
    return write(chunk, ...(rest as []));
  }) as typeof process.stdout.write;
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  await run();
  const found = new Map<string, Record<string, unknown>>();
  for (const line of lines.join('').split('\n')) {
    if (!line.includes('"_aws"')) continue;
    const doc = JSON.parse(line) as { _aws: { CloudWatchMetrics: { Metrics: { Name: string }[] }[] } };
    for (const directive of doc._aws.CloudWatchMetrics)
      for (const metric of directive.Metrics)
        found.set(metric.Name, doc as unknown as Record<string, unknown>);
  }
  return found;
}

describe('ingestion started by a landed batch', () => {
  it('ingests landing/<view>/<batchId>.<format> from its Object Created event and counts the rows', async () => {
    const key = 'landing/merchant/lm-1.jsonl';
    const body = [
      '{"merchant_id":7,"event_time":1762000000000,"category":"food"}',
      '{"merchant_id":8,"event_time":1762000000000,"category":"toys"}',
    ].join('\n');
    await clients.s3().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));

    let result: unknown;
    const metrics = await emittedDuring(async () => {
      result = await local.lambdas.invoke(ingestFunction, objectCreated(key));
    });

    expect(result).toMatchObject({
      view: 'merchant',
      batchId: 'lm-1',
      received: 2,
      accepted: 1,
      rejected: 1,
    });
    expect(metrics.get('IngestRowsAccepted')).toMatchObject({
      IngestRowsAccepted: 1,
      IngestRowsRejected: 1,
      service: 'feature-store',
      view: 'merchant',
      _aws: { CloudWatchMetrics: [expect.objectContaining({ Namespace: 'LandingTest' })] },
    });
  });

  it.each([
    ['landing/merchant/lm-2.xlsx', 'detail.object.key: must end in .jsonl, .csv, .parquet'],
    ['landing/merchant/sub/lm-2.jsonl', 'detail.object.key: must be landing/<view>/<batchId>.<format>'],
    ['landing/merchant/lm 2.jsonl', 'batchId: '],
    ['landing/nope/lm-2.jsonl', 'view: '],
  ])(
    'fails on a landed key that breaks the layout (%s), so the event goes to the failure queue',
    async (key, message) => {
      await expect(local.lambdas.invoke(ingestFunction, objectCreated(key))).rejects.toMatchObject({
        name: 'ValidationError',
        message: expect.stringContaining(message),
      });
    },
  );

  it('refuses an event from another bucket', async () => {
    await expect(
      local.lambdas.invoke(ingestFunction, objectCreated('landing/merchant/x.jsonl', 'other-bucket')),
    ).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringMatching(/^detail\.bucket\.name: /),
    });
  });
});

describe('materialization through its function', () => {
  it('does nothing while another run holds the view, then runs once the lease is released', async () => {
    const now = Date.now();
    const key = 'landing/customer/lc-1.jsonl';
    const body = `{"customer_id":"lease-1","event_time":${now - 1000},"orders":4,"spend":2.5}`;
    await clients.s3().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    await local.lambdas.invoke(ingestFunction, objectCreated(key));

    const leases = new ViewLeases(clients.documents(), leaseTable);
    const other = await leases.acquire('customer', 'another-run', 15 * 60_000);
    if (other === undefined) throw new Error('lease not taken');
    const blocked = await emittedDuring(async () => {
      await expect(local.lambdas.invoke(materializeFunction, { view: 'customer' })).resolves.toEqual({
        view: 'customer',
        overlapped: true,
      });
    });
    expect(blocked.get('MaterializeOverlapsAvoided')).toMatchObject({ MaterializeOverlapsAvoided: 1 });

    await leases.release(other);
    let result: unknown;
    const metrics = await emittedDuring(async () => {
      result = await local.lambdas.invoke(materializeFunction, { view: 'customer' });
    });
    expect(result).toMatchObject({ view: 'customer', written: 1 });
    expect(metrics.get('WatermarkAge')).toMatchObject({
      MaterializeRecordsWritten: 1,
      WatermarkAge: expect.any(Number),
      view: 'customer',
    });
    // The run gave its lease back: the next run may take it at once.
    expect(await leases.acquire('customer', 'next-run', 60_000)).toBeDefined();
  });
});
