import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  defineFeatureView,
  type FeatureView,
  type FeatureViewInput,
} from '../../lambdas/feature-store/feature-view.js';
import { commitBatch, ingestBatch, prepareBatch } from '../../lambdas/feature-store/ingest.js';
import { decodeFeatureColumns, encodeFeatureRows } from '../../lambdas/feature-store/parquet-codec.js';
import { clients } from '../../lambdas/shared/clients.js';
import {
  ConflictError,
  CorruptDataError,
  InternalError,
  ValidationError,
} from '../../lambdas/shared/errors.js';
import { S3ObjectStore } from '../../lambdas/shared/object-store.js';
import { startLocalStack } from '../../local/local-stack.js';
import { testFeatureViews } from '../fixtures/feature-views.js';
import { assemblyFor, harnessFixture } from '../support/assemblies.js';

const view = defineFeatureView(testFeatureViews[0] as FeatureViewInput);
const views = new Map<string, FeatureView>([[view.name, view]]);
let store: S3ObjectStore;
let bucket: string;
const encode = (text: string) => new TextEncoder().encode(text);
const options = () => ({ store, views, now: () => new Date('2026-11-20T00:00:00Z') });

async function keys(prefix = ''): Promise<string[]> {
  const page = await clients.s3().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key ?? '').sort();
}

async function arrayBuffer(key: string): Promise<ArrayBuffer> {
  const bytes = (await store.get(key)) as Uint8Array;
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

async function text(key: string): Promise<string> {
  const object = await clients.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await object.Body?.transformToString()) ?? '';
}

beforeAll(async () => {
  const local = await startLocalStack(await assemblyFor(harnessFixture('IngestFixture')), {
    prefix: 'ingest-',
  });
  bucket = local.resourceName('Data');
  store = new S3ObjectStore(clients.s3(), bucket);
});

describe('feature ingestion into the offline store', () => {
  it('writes accepted rows per event date and quarantines every bad row with its reasons', async () => {
    const lines = [
      '{"customer_id":"c1","event_time":"2026-11-01T10:00:00Z","orders":3,"spend":12.5}',
      '{"customer_id":"c2","event_time":"2026-11-02T10:00:00Z","orders":1,"spend":null}',
      '{"customer_id":"c3","event_time":"2026-11-02T11:00:00Z","orders":"1"}',
      '{"event_time":"2026-11-02T11:00:00Z","orders":1}',
      '{"customer_id":"c4","event_time":"2026-11-02T11:00:00Z","orders":-2}',
      '{"customer_id":"c5","event_time":"2026-11-02T11:00:00Z","orders":2,"colour":"red"}',
      '{"customer_id":"c6","event_time":"yesterday","orders":2}',
      '{not json',
    ];
    const result = await ingestBatch(
      { view: 'customer', batchId: 'b-1', format: 'jsonl' },
      encode(lines.join('\n')),
      options(),
    );

    expect(result).toMatchObject({ received: 8, accepted: 2, rejected: 6, duplicate: false });
    expect(result.files).toEqual([
      'features/customer/date=2026-11-01/b-1.parquet',
      'features/customer/date=2026-11-02/b-1.parquet',
    ]);
    const day2 = await decodeFeatureColumns(
      (
        await (
          await clients.s3().send(new GetObjectCommand({ Bucket: bucket, Key: result.files[1] }))
        ).Body?.transformToByteArray()
      )?.buffer as ArrayBuffer,
    );
    expect(day2).toMatchObject({ customer_id: ['c2'], orders: [1], spend: [null] });
    const quarantined = (await text('quarantine/customer/b-1.jsonl'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { position: number; reasons: string[] });
    expect(quarantined.map((q) => [q.position, q.reasons[0]])).toEqual([
      [3, 'orders: must be an integer, got string'],
      [4, 'customer_id: is required'],
      [5, 'orders: must be >= 0'],
      [6, 'colour: is not a column of feature view customer'],
      [7, 'event_time: must be an RFC 3339 timestamp with a time zone or epoch milliseconds'],
      [8, expect.stringMatching(/^malformed JSON/)],
    ]);
    expect(JSON.parse(await text('ingestion/customer/b-1.json'))).toMatchObject({
      received: 8,
      accepted: 2,
      rejected: 6,
    });
  });

  it('quarantines NaN where a feature does not allow null and stores it as null where it does (CSV)', async () => {
    const csv = [
      'customer_id,event_time,orders,spend',
      'c1,2026-11-03T10:00:00Z,NaN,1.5',
      'c2,2026-11-03T10:00:00Z,2,NaN',
    ].join('\n');
    const result = await ingestBatch(
      { view: 'customer', batchId: 'nan-1', format: 'csv' },
      encode(csv),
      options(),
    );
    expect(result).toMatchObject({ received: 2, accepted: 1, rejected: 1 });
    const quarantined = JSON.parse((await text('quarantine/customer/nan-1.jsonl')).trim()) as {
      reasons: string[];
    };
    expect(quarantined.reasons).toEqual(['orders: must not be NaN']);
    const bytes = await store.get(result.files[0] as string);
    const columns = await decodeFeatureColumns((bytes as Uint8Array).buffer as ArrayBuffer);
    expect(columns).toMatchObject({ customer_id: ['c2'], orders: [2], spend: [null] });
  });

  it('quarantines event times before 2000 or more than a day after the ingestion', async () => {
    // options() ingests at 2026-11-20T00:00:00Z.
    const lines = [
      '{"customer_id":"c1","event_time":"2026-11-21T00:00:00Z","orders":1}',
      '{"customer_id":"c2","event_time":"2026-11-21T00:00:00.001Z","orders":1}',
      '{"customer_id":"c3","event_time":"1999-12-31T23:59:59Z","orders":1}',
    ];
    const result = await ingestBatch(
      { view: 'customer', batchId: 'when-1', format: 'jsonl' },
      encode(lines.join('\n')),
      options(),
    );
    expect(result).toMatchObject({ received: 3, accepted: 1, rejected: 2 });
    const reasons = (await text('quarantine/customer/when-1.jsonl'))
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { reasons: string[] }).reasons[0]);
    expect(reasons).toEqual([
      expect.stringMatching(/^event_time: must not be after 2026-11-21T00:00:00.000Z/),
      expect.stringMatching(/^event_time: must be on or after 2000-01-01/),
    ]);
  });

  it('answers the same batch id with the same body as a duplicate, writing nothing new', async () => {
    const body = encode(
      'customer_id,event_time,orders,spend\nc1,2026-11-03T00:00:00Z,1,\nc2,2026-11-03T00:00:00Z,x,1\n',
    );
    const first = await ingestBatch({ view: 'customer', batchId: 'b-2', format: 'csv' }, body, options());
    const before = await keys();
    const again = await ingestBatch({ view: 'customer', batchId: 'b-2', format: 'csv' }, body, options());
    expect(first).toMatchObject({ received: 2, accepted: 1, rejected: 1, duplicate: false });
    expect(again).toEqual({ ...first, duplicate: true });
    expect(await keys()).toEqual(before);
  });

  it('refuses the same batch id with another body as a ConflictError, writing nothing', async () => {
    const body = encode('{"customer_id":"d1","event_time":"2026-11-03T00:00:00Z","orders":1}\n');
    const first = await ingestBatch({ view: 'customer', batchId: 'b-5', format: 'jsonl' }, body, options());
    const before = await keys();
    const other = encode('{"customer_id":"d1","event_time":"2026-11-03T00:00:00Z","orders":2}\n');
    const error = await ingestBatch(
      { view: 'customer', batchId: 'b-5', format: 'jsonl' },
      other,
      options(),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).not.toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ name: 'ConflictError', status: 409 });
    expect((error as Error).message).toMatch(
      /^batchId: b-5 was already ingested into customer with other content/,
    );
    expect(await keys()).toEqual(before);
    // The recorded batch is untouched: its file still holds the first body's row.
    const columns = await decodeFeatureColumns(await arrayBuffer(first.files[0] as string));
    expect(columns).toMatchObject({ customer_id: ['d1'], orders: [1] });
  });

  it('reads Parquet input, an export of the offline store included', async () => {
    const at = Date.parse('2026-11-04T00:00:00Z');
    const rows = [
      { eventTimeMs: at, values: { customer_id: 'p1', orders: 7, spend: 1.5 } },
      { eventTimeMs: at, values: { customer_id: 'p2', orders: -7, spend: null } },
    ];
    const parquet = encodeFeatureRows(view, rows, 0);
    const result = await ingestBatch(
      { view: 'customer', batchId: 'b-3', format: 'parquet' },
      parquet,
      options(),
    );
    expect(result).toMatchObject({ received: 2, accepted: 1, rejected: 1 });
    // The rejected row's int64 values (bigint in Parquet) are written as JSON numbers.
    expect(JSON.parse((await text('quarantine/customer/b-3.jsonl')).trim())).toMatchObject({
      row: { customer_id: 'p2', orders: -7 },
      reasons: ['orders: must be >= 0'],
    });
  });

  it.each([
    [{ view: 'nope', batchId: 'b-4', format: 'jsonl' }, '{"a":1}', 'view'],
    [{ view: 'customer', batchId: 'b/4', format: 'jsonl' }, '{"a":1}', 'batchId'],
    // Hive and Trino (Athena) pass over files named _… or .…: such a batch would never be read.
    [{ view: 'customer', batchId: '_b4', format: 'jsonl' }, '{"a":1}', 'batchId'],
    [{ view: 'customer', batchId: '.b4', format: 'jsonl' }, '{"a":1}', 'batchId'],
    [{ view: 'customer', batchId: '-b4', format: 'jsonl' }, '{"a":1}', 'batchId'],
    [{ view: 'customer', batchId: 'b-4', format: 'xml' }, '{"a":1}', 'format'],
    [{ view: 'customer', batchId: 'b-4', format: 'jsonl' }, '', 'body'],
    [{ view: 'customer', batchId: 'b-4', format: 'jsonl' }, '\n\n', 'body'],
    [{ view: 'customer', batchId: 'b-4', format: 'parquet' }, 'not parquet', 'body'],
  ])('rejects %j with a ValidationError naming the field, writing nothing', async (request, body, field) => {
    const before = await keys();
    const error = await ingestBatch(request, encode(body), options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe(field);
    expect(await keys()).toEqual(before);
  });

  it('records one result when the same batch is ingested twice at once', async () => {
    const body = encode('{"customer_id":"r1","event_time":"2026-11-05T00:00:00Z","orders":1}\n');
    const results = await Promise.all(
      [1, 2, 3].map(() =>
        ingestBatch({ view: 'customer', batchId: 'race', format: 'jsonl' }, body, options()),
      ),
    );
    expect(results.every((r) => r.received === 1 && r.accepted === 1)).toBe(true);
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(await keys('ingestion/customer/race')).toEqual([
      'ingestion/customer/race.claim.json',
      'ingestion/customer/race.json',
    ]);
    expect(await keys('staging/customer/race/')).toEqual([]);
  });

  it('fails with an InternalError, writing nothing, when a prepared batch does not account for every row', async () => {
    const prepared = await prepareBatch(
      view,
      'jsonl',
      encode('{"customer_id":"l1","event_time":"2026-11-06T00:00:00Z","orders":1}\n'),
      Date.parse('2026-11-20T00:00:00Z'),
    );
    const before = await keys();
    const error = await commitBatch(view, 'lost', { ...prepared, received: 2 }, 0, options()).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InternalError);
    expect(error).not.toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({
      name: 'InternalError',
      status: 500,
      message: 'ingestion lost rows: 1 + 0 != 2',
    });
    expect(await keys()).toEqual(before);
  });

  it('fails with a CorruptDataError naming the file when a committed batch lists one that is gone', async () => {
    const at = Date.parse('2026-11-20T00:00:00Z');
    const first = await ingestBatch(
      { view: 'customer', batchId: 'gone', format: 'jsonl' },
      encode('{"customer_id":"g1","event_time":"2026-11-07T00:00:00Z","orders":1}\n'),
      options(),
    );
    const published = first.files[0] as string;
    await clients.s3().send(new DeleteObjectCommand({ Bucket: bucket, Key: published }));
    // A twin that lost the manifest to `first` publishes the winner's files: this one is neither
    // staged (the twin staged another date) nor published any more.
    const twin = await prepareBatch(
      view,
      'jsonl',
      encode('{"customer_id":"g1","event_time":"2026-11-08T00:00:00Z","orders":1}\n'),
      at,
    );
    const error = await commitBatch(view, 'gone', twin, at, options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptDataError);
    expect(error).toMatchObject({ name: 'CorruptDataError', key: published });
    expect((error as Error).message).toBe(
      `${published}: of committed batch gone is neither staged nor published`,
    );
  });
});
