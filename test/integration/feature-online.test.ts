import { type CancellationReason, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { BatchGetCommand, type DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { defineFeatureView, type FeatureView } from '../../lambdas/feature-store/feature-view.js';
import { ingestBatch, ingestionLogKey, ingestionManifestKey } from '../../lambdas/feature-store/ingest.js';
import { materializeView, watermarkKey } from '../../lambdas/feature-store/materialize.js';
import { MAX_ONLINE_KEYS, type OnlineRecord, OnlineStore } from '../../lambdas/feature-store/online-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { DependencyError, ValidationError } from '../../lambdas/shared/errors.js';
import { type ObjectStore, S3ObjectStore } from '../../lambdas/shared/object-store.js';
import { startLocalStack } from '../../local/local-stack.js';
import { testFeatureViews } from '../fixtures/feature-views.js';
import { assemblyFor } from '../support/assemblies.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-20T00:00:00Z');
let store: S3ObjectStore;
let tableName: string;
let prefixCounter = 0;

/** A fresh view name per test, so tests do not share online items or watermarks. */
function freshView(): FeatureView {
  const base = testFeatureViews[0];
  if (base === undefined) throw new Error('no test view');
  return defineFeatureView({ ...base, name: `customer_${++prefixCounter}` });
}

const line = (id: string, hoursAfterT0: number, orders: number, spend: number | null = 1) =>
  JSON.stringify({ customer_id: id, event_time: T0 + hoursAfterT0 * HOUR, orders, spend });

async function ingest(view: FeatureView, batchId: string, lines: string[], at: number) {
  return ingestBatch(
    { view: view.name, batchId, format: 'jsonl' },
    new TextEncoder().encode(lines.join('\n')),
    {
      store,
      views: new Map([[view.name, view]]),
      now: () => new Date(at),
    },
  );
}

/** `count` records for entities `<prefix>0…`, all at one event time, valued by their index. */
const records = (prefix: string, count: number, eventTimeMs: number, value = (i: number) => i) =>
  Array.from(
    { length: count },
    (_, i): OnlineRecord => ({
      entityKey: [`${prefix}${i}`],
      eventTimeMs,
      ingestedAtMs: T0,
      features: { orders: value(i), spend: null },
    }),
  );

const readOrders = async (online: OnlineStore, view: FeatureView, keys: readonly OnlineRecord[]) =>
  (
    await online.getOnlineFeatures(
      view,
      ['orders'],
      keys.map((r) => ({ customer_id: String(r.entityKey[0]) })),
    )
  ).map((row) => row.features.orders?.value);

type Operations = NonNullable<TransactWriteCommand['input']['TransactItems']>;

/**
 * The emulator's document client, except that `fault` sees every TransactWriteItems call first (its
 * 1-based number and its operations) and may answer it with an error instead: the emulator cannot
 * crash, conflict or throttle on demand.
 */
function faultyTransactions(fault: (call: number, operations: Operations) => Error | undefined) {
  const documents = clients.documents();
  let calls = 0;
  return {
    send: (command: object) => {
      if (command instanceof TransactWriteCommand) {
        const error = fault(++calls, command.input.TransactItems ?? []);
        if (error !== undefined) return Promise.reject(error);
      }
      return documents.send(command as never);
    },
  } as unknown as DynamoDBDocumentClient;
}

const cancelled = (reasons: readonly string[]) =>
  new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.join(', ')}]`,
    $metadata: {},
    CancellationReasons: reasons.map((Code): CancellationReason => ({ Code })),
  });

beforeAll(async () => {
  const local = await startLocalStack(
    await assemblyFor({ context: { mlops: { featureViews: testFeatureViews } } }),
    {
      prefix: 'online-',
    },
  );
  store = new S3ObjectStore(clients.s3(), local.resourceName('FeatureStoreOffline'));
  tableName = local.resourceName('FeatureStoreOnline');
});

describe('materialization and online reads', () => {
  it('puts the latest value per entity online and reads it back with its age', async () => {
    const view = freshView();
    await ingest(view, 'b1', [line('c1', 1, 1), line('c1', 3, 3), line('c2', 2, 20, null)], T0 + 4 * HOUR);
    await ingest(view, 'b2', [line('c1', 2, 2)], T0 + 5 * HOUR); // later ingestion, older event: loses
    const online = new OnlineStore(clients.documents(), tableName, () => T0 + 6 * HOUR);

    const result = await materializeView(view, { store, online, now: () => T0 + 6 * HOUR });
    expect(result).toMatchObject({ batches: 2, rows: 4, written: 2, skipped: 0 });

    const rows = await online.getOnlineFeatures(
      view,
      ['orders', 'spend'],
      [{ customer_id: 'c1' }, { customer_id: 'c2' }, { customer_id: 'nobody' }],
    );
    expect(rows).toEqual([
      {
        entityKey: { customer_id: 'c1' },
        features: { orders: { value: 3, ageMs: 3 * HOUR }, spend: { value: 1, ageMs: 3 * HOUR } },
      },
      {
        entityKey: { customer_id: 'c2' },
        features: { orders: { value: 20, ageMs: 4 * HOUR }, spend: { value: null, ageMs: 4 * HOUR } },
      },
      {
        entityKey: { customer_id: 'nobody' },
        features: { orders: { value: null, ageMs: null }, spend: { value: null, ageMs: null } },
      },
    ]);
  });

  it('reads only what was logged since the last run, passing over entries already online', async () => {
    const view = freshView();
    const MIN = 60_000;
    for (let b = 0; b < 5; b++)
      await ingest(view, `old-${b}`, [line(`c${b}`, 1, b)], T0 + 3 * HOUR - 10 * MIN + b * MIN);
    const reads: string[] = [];
    const counting: ObjectStore = {
      put: (key, body, options) => store.put(key, body, options),
      get: (key) => {
        reads.push(key);
        return store.get(key);
      },
      list: (prefix, options) => store.list(prefix, options),
    };
    const online = new OnlineStore(clients.documents(), tableName, () => T0 + 6 * HOUR);
    const first = await materializeView(view, { store: counting, online, now: () => T0 + 3 * HOUR });
    expect(first).toMatchObject({ batches: 5, written: 5 });

    // Every earlier batch is inside the next run's 15-minute overlap: it passes over them (they are
    // online) and reads only the new batch's manifest.
    await ingest(view, 'new', [line('c9', 1, 9)], T0 + 3 * HOUR + 5 * MIN);
    reads.length = 0;
    const second = await materializeView(view, {
      store: counting,
      online,
      now: () => T0 + 3 * HOUR + 10 * MIN,
    });
    expect(second).toMatchObject({ batches: 1, written: 1, skipped: 0 });
    const manifests = reads.filter((k) => k.startsWith('ingestion/'));
    expect(manifests).toEqual([ingestionManifestKey(view.name, 'new')]);
  });

  it('passes over a logged batch whose manifest is missing, and puts it online once its rerun completes', async () => {
    const view = freshView();
    // A crash between the log entry and the manifest: the entry exists, the manifest does not.
    await store.put(ingestionLogKey(view.name, T0 + HOUR, 'crashed'), '{}');
    const online = new OnlineStore(clients.documents(), tableName, () => T0 + 6 * HOUR);
    const before = await materializeView(view, { store, online, now: () => T0 + 2 * HOUR });
    expect(before).toMatchObject({ batches: 0, written: 0 });
    // The rerun of that batch (an hour later) logs it again and writes its manifest.
    await ingest(view, 'crashed', [line('c1', 1, 7)], T0 + 3 * HOUR);
    const after = await materializeView(view, { store, online, now: () => T0 + 4 * HOUR });
    expect(after).toMatchObject({ batches: 1, written: 1 });
    const [row] = await online.getOnlineFeatures(view, ['orders'], [{ customer_id: 'c1' }]);
    expect(row?.features.orders?.value).toBe(7);
  });

  it('puts a batch online when its manifest lands after a run saw only its log entry', async () => {
    const view = freshView();
    const MIN = 60_000;
    await ingest(view, 'slow', [line('c1', 1, 11)], T0 + 2 * HOUR);
    // Stand in for an ingestion still running: its log entry is there, its manifest not yet.
    const manifestKey = ingestionManifestKey(view.name, 'slow');
    const manifest = (await store.get(manifestKey)) as Uint8Array;
    await clients.s3().send(new DeleteObjectCommand({ Bucket: store.bucket, Key: manifestKey }));
    const online = new OnlineStore(clients.documents(), tableName, () => T0 + 6 * HOUR);
    expect(await materializeView(view, { store, online, now: () => T0 + 2 * HOUR + MIN })).toMatchObject({
      batches: 0,
    });
    await store.put(manifestKey, manifest);
    expect(await materializeView(view, { store, online, now: () => T0 + 2 * HOUR + 3 * MIN })).toMatchObject({
      batches: 1,
      written: 1,
    });
  });

  it('materializes an explicit window of committed batches without reading or moving the watermark', async () => {
    const view = freshView();
    await ingest(view, 'w1', [line('w1', 0.5, 1)], T0 + HOUR);
    await ingest(view, 'w2', [line('w2', 1.5, 2)], T0 + 2 * HOUR);
    await ingest(view, 'w3', [line('w3', 2.5, 3)], T0 + 3 * HOUR);
    const online = new OnlineStore(clients.documents(), tableName, () => T0 + 5 * HOUR);
    const now = () => T0 + 5 * HOUR;
    const result = await materializeView(view, {
      store,
      online,
      now,
      window: { fromMs: T0 + 1.5 * HOUR, toMs: T0 + 2.5 * HOUR },
    });
    expect(result).toMatchObject({ batches: 1, written: 1 });
    expect(await store.get(watermarkKey(view.name))).toBeUndefined();
    const rows = await online.getOnlineFeatures(
      view,
      ['orders'],
      [{ customer_id: 'w1' }, { customer_id: 'w2' }, { customer_id: 'w3' }],
    );
    expect(rows.map((r) => r.features.orders?.value)).toEqual([null, 2, null]);
    for (const window of [
      { fromMs: T0 + 2 * HOUR, toMs: T0 + HOUR },
      { fromMs: T0, toMs: T0 + 6 * HOUR },
      { fromMs: Number.NaN, toMs: T0 },
    ]) {
      const error = await materializeView(view, { store, online, now, window }).catch((e: unknown) => e);
      expect((error as ValidationError).field).toBe('window');
    }
  });

  it('keeps the newer value when two materializations race', async () => {
    const view = freshView();
    const online = new OnlineStore(clients.documents(), tableName, () => T0 + 10 * HOUR);
    const newer = {
      entityKey: ['c1'],
      eventTimeMs: T0 + 5 * HOUR,
      ingestedAtMs: T0,
      features: { orders: 5, spend: 5 },
    };
    const older = {
      entityKey: ['c1'],
      eventTimeMs: T0 + 4 * HOUR,
      ingestedAtMs: T0 + HOUR,
      features: { orders: 4, spend: 4 },
    };
    // One run has written the newer value; 19 more race, the older values sent last (so without the
    // condition the table would end on an older one).
    await online.writeLatest(view, [newer]);
    const runs = await Promise.all(
      Array.from({ length: 19 }, (_, i) => online.writeLatest(view, [i < 9 ? newer : older])),
    );
    expect(runs.slice(9).every((r) => r.skipped === 1 && r.written === 0)).toBe(true);
    const [row] = await online.getOnlineFeatures(view, ['orders'], [{ customer_id: 'c1' }]);
    expect(row?.features.orders?.value).toBe(5);
  });

  it('leaves the same final table when a crashed run is repeated', async () => {
    const view = freshView();
    const lines = Array.from({ length: 30 }, (_, i) => line(`c${i}`, 1 + (i % 3), i));
    await ingest(view, 'big', lines, T0 + 4 * HOUR);
    // The emulator cannot fail a write midway: a client failing the 3rd transaction stands in for
    // the crash, after two chunks of 10 were written.
    const crashing = faultyTransactions((call) => (call === 3 ? new Error('crash') : undefined));
    const now = () => T0 + 6 * HOUR;
    await expect(
      materializeView(view, {
        store,
        online: new OnlineStore(crashing, tableName, now),
        now,
        concurrency: 1,
        batchSize: 10,
      }),
    ).rejects.toThrow('crash');
    expect(await store.get(watermarkKey(view.name))).toBeUndefined();
    const online = new OnlineStore(clients.documents(), tableName, now);
    const keys = Array.from({ length: 30 }, (_, i) => ({ customer_id: `c${i}` }));
    const before = await online.getOnlineFeatures(view, ['orders'], keys);
    expect(before.filter((r) => r.features.orders?.value !== null)).toHaveLength(20);

    const rerun = await materializeView(view, { store, online, now });
    expect(rerun).toMatchObject({ written: 10, skipped: 20 });
    const rows = await online.getOnlineFeatures(view, ['orders'], keys);
    expect(rows.map((r) => r.features.orders?.value)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(await store.get(watermarkKey(view.name))).toBeDefined();
  });

  it('returns nulls for a value past its TTL even before DynamoDB deletes it', async () => {
    const view = freshView();
    const online = new OnlineStore(clients.documents(), tableName, () => T0 + 30 * HOUR);
    await online.writeLatest(view, [
      { entityKey: ['old'], eventTimeMs: T0, ingestedAtMs: T0, features: { orders: 1, spend: 1 } },
    ]);
    const [row] = await online.getOnlineFeatures(view, ['orders'], [{ customer_id: 'old' }]);
    expect(row?.features.orders).toEqual({ value: null, ageMs: null });
  });

  it('applies the offline TTL rule online: a value exactly TTL old is served, a millisecond older or a future one is not', async () => {
    const view = freshView(); // TTL one day
    const now = T0 + 48 * HOUR;
    const online = new OnlineStore(clients.documents(), tableName, () => now);
    const at = (id: string, eventTimeMs: number) => ({
      entityKey: [id],
      eventTimeMs,
      ingestedAtMs: T0,
      features: { orders: 1, spend: 1 },
    });
    await online.writeLatest(view, [
      at('edge', now - 24 * HOUR),
      at('past', now - 24 * HOUR - 1),
      at('future', now + 1),
    ]);
    const rows = await online.getOnlineFeatures(
      view,
      ['orders'],
      [{ customer_id: 'edge' }, { customer_id: 'past' }, { customer_id: 'future' }],
    );
    expect(rows.map((r) => r.features.orders)).toEqual([
      { value: 1, ageMs: 24 * HOUR },
      { value: null, ageMs: null },
      { value: null, ageMs: null },
    ]);
    // Materialization draws the same line: the value exactly TTL old is written, not counted expired.
    const fresh = freshView();
    await ingest(fresh, 'edge', [line('e1', 0, 1), line('e2', 0.5, 2)], T0 + HOUR);
    const result = await materializeView(fresh, { store, online, now: () => T0 + 24 * HOUR });
    expect(result).toMatchObject({ written: 2, expired: 0 });
    const stale = freshView();
    await ingest(stale, 'edge', [line('e1', 0, 1)], T0 + HOUR);
    expect(await materializeView(stale, { store, online, now: () => T0 + 24 * HOUR + 1 })).toMatchObject({
      written: 0,
      expired: 1,
    });
  });

  it('puts a slow ingestion online: its log entry is stamped when it commits, not when it started', async () => {
    const view = freshView();
    const MIN = 60_000;
    const online = new OnlineStore(clients.documents(), tableName, () => T0 + 30 * HOUR);
    // The batch starts at T0+1h and commits 40 minutes later; a run at T0+1h20 sees nothing yet.
    const clock = [T0 + HOUR, T0 + HOUR + 40 * MIN];
    const result = await ingestBatch(
      { view: view.name, batchId: 'slow', format: 'jsonl' },
      new TextEncoder().encode(line('c1', 0.5, 5)),
      {
        store,
        views: new Map([[view.name, view]]),
        now: () => new Date(clock.shift() ?? T0 + HOUR + 40 * MIN),
      },
    );
    expect(result.ingestedAtMs).toBe(T0 + HOUR);
    expect(await materializeView(view, { store, online, now: () => T0 + HOUR + 20 * MIN })).toMatchObject({
      batches: 0,
    });
    const next = await materializeView(view, { store, online, now: () => T0 + HOUR + 45 * MIN });
    expect(next).toMatchObject({ batches: 1, written: 1 });
  });

  it('writes a lost log entry again when a committed batch is ingested again', async () => {
    const view = freshView();
    const first = await ingest(view, 'lost', [line('c1', 1, 8)], T0 + 2 * HOUR);
    // A crash between the manifest and the log entry: the entry is missing.
    await clients.s3().send(new DeleteObjectCommand({ Bucket: store.bucket, Key: first.logKey as string }));
    const online = new OnlineStore(clients.documents(), tableName, () => T0 + 6 * HOUR);
    expect(await materializeView(view, { store, online, now: () => T0 + 3 * HOUR })).toMatchObject({
      batches: 0,
    });
    const again = await ingest(view, 'lost', [line('c1', 1, 8)], T0 + 4 * HOUR);
    expect(again.duplicate).toBe(true);
    expect(await materializeView(view, { store, online, now: () => T0 + 5 * HOUR })).toMatchObject({
      batches: 1,
      written: 1,
    });
  });

  it('asks only for the requested features and retries the keys DynamoDB leaves unprocessed', async () => {
    const view = freshView();
    const now = T0 + 2 * HOUR;
    const writer = new OnlineStore(clients.documents(), tableName, () => now);
    await writer.writeLatest(
      view,
      Array.from({ length: 150 }, (_, i) => ({
        entityKey: [`u${i}`],
        eventTimeMs: T0,
        ingestedAtMs: T0,
        features: { orders: i, spend: i },
      })),
    );
    // The emulator always answers every key: a client that holds back the last 30 keys of each
    // chunk's first answer stands in for a throttled table.
    const documents = clients.documents();
    const requests: { keys: number; projection: string | undefined }[] = [];
    let held = 0;
    const throttled = {
      send: async (command: object) => {
        if (!(command instanceof BatchGetCommand)) return documents.send(command as never);
        const [table, request] = Object.entries(command.input.RequestItems ?? {})[0] ?? [];
        const keys = request?.Keys ?? [];
        requests.push({ keys: keys.length, projection: request?.ProjectionExpression });
        if (keys.length <= 30 || table === undefined) return documents.send(command as never);
        const answered = await documents.send(
          new BatchGetCommand({ RequestItems: { [table]: { ...request, Keys: keys.slice(0, -30) } } }),
        );
        held += 30;
        return { ...answered, UnprocessedKeys: { [table]: { ...request, Keys: keys.slice(-30) } } };
      },
    } as unknown as DynamoDBDocumentClient;
    const reader = new OnlineStore(throttled, tableName, () => now);
    const keys = Array.from({ length: 150 }, (_, i) => ({ customer_id: `u${i}` }));
    const rows = await reader.getOnlineFeatures(view, ['orders'], keys);
    expect(rows.map((r) => r.features.orders?.value)).toEqual(Array.from({ length: 150 }, (_, i) => i));
    expect(rows.every((r) => Object.keys(r.features).join() === 'orders')).toBe(true);
    expect(held).toBe(60); // both chunks (100 + 50 keys) had keys held back, then retried
    expect(requests.map((r) => r.keys).sort((a, b) => a - b)).toEqual([30, 30, 50, 100]);
    for (const { projection } of requests) {
      expect(projection).toContain('#f.#f0');
      expect(projection).not.toContain('#f1');
    }
  });

  it('reads more than 100 keys across parallel chunks, duplicates included', async () => {
    const view = freshView();
    const online = new OnlineStore(clients.documents(), tableName, () => T0 + 2 * HOUR);
    const records = Array.from({ length: 250 }, (_, i) => ({
      entityKey: [`k${i}`],
      eventTimeMs: T0 + HOUR,
      ingestedAtMs: T0,
      features: { orders: i, spend: null },
    }));
    await online.writeLatest(view, records);
    const keys = [...records.map((r) => ({ customer_id: String(r.entityKey[0]) })), { customer_id: 'k7' }];
    const rows = await online.getOnlineFeatures(view, ['orders'], keys);
    expect(rows.map((r) => r.features.orders?.value)).toEqual([...records.map((r) => r.features.orders), 7]);
  });

  it.each([
    [['colour'], [{ customer_id: 'c1' }], 'featureNames.0'],
    [['orders'], [{ customer: 'c1' }], 'entityKeys.0.customer_id'],
    [['orders'], [{ customer_id: 5 }], 'entityKeys.0.customer_id'],
    [
      ['orders'],
      Array.from({ length: MAX_ONLINE_KEYS + 1 }, (_, i) => ({ customer_id: `k${i}` })),
      'entityKeys',
    ],
  ])('rejects a bad request by field (%j)', async (features, keys, field) => {
    const view = freshView();
    const online = new OnlineStore(clients.documents(), tableName);
    const error = await online.getOnlineFeatures(view, features, keys as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe(field);
  });
});

describe('online writes in conditional transactions', () => {
  const at = () => T0 + 6 * HOUR;

  it('writes more than 100 records in transactions of 100', async () => {
    const view = freshView();
    const online = new OnlineStore(clients.documents(), tableName, at);
    const batch = records('w', 250, T0 + HOUR, (i) => i * 2);

    const result = await online.writeLatest(view, batch);

    expect(result).toEqual({ written: 250, skipped: 0, requests: 3, setAside: [] });
    expect(await readOrders(online, view, batch)).toEqual(batch.map((_, i) => i * 2));
  });

  it('skips the stale records of a transaction and writes the rest of it', async () => {
    const view = freshView();
    const online = new OnlineStore(clients.documents(), tableName, at);
    await online.writeLatest(
      view,
      records('m', 10, T0 + 5 * HOUR, (i) => 500 + i),
    );
    const batch = records('m', 30, T0 + 4 * HOUR); // m0…m9 older than what is stored

    const result = await online.writeLatest(view, batch);

    expect(result).toEqual({ written: 20, skipped: 10, requests: 2, setAside: [] });
    expect(await readOrders(online, view, batch)).toEqual(batch.map((_, i) => (i < 10 ? 500 + i : i)));
  });

  it.each(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded'])(
    'resubmits records cancelled by %s or rolled back with them',
    async (code) => {
      const view = freshView();
      const faulty = faultyTransactions((call) =>
        call === 1 ? cancelled(['None', code, 'None']) : undefined,
      );
      const online = new OnlineStore(faulty, tableName, at);
      const batch = records('r', 3, T0 + HOUR);

      const result = await online.writeLatest(view, batch);

      expect(result).toEqual({ written: 3, skipped: 0, requests: 2, setAside: [] });
      expect(await readOrders(online, view, batch)).toEqual([0, 1, 2]);
    },
  );

  it('fails with a DependencyError when DynamoDB keeps leaving keys unprocessed', async () => {
    const view = freshView();
    // Every answer holds back every key: a table throttled for longer than the reader retries.
    const documents = clients.documents();
    let requests = 0;
    const stuck = {
      send: async (command: object) => {
        if (!(command instanceof BatchGetCommand)) return documents.send(command as never);
        requests++;
        return { Responses: {}, UnprocessedKeys: command.input.RequestItems };
      },
    } as unknown as DynamoDBDocumentClient;
    const reader = new OnlineStore(stuck, tableName, at);

    const error = await reader
      .getOnlineFeatures(view, ['orders'], [{ customer_id: 'x1' }, { customer_id: 'x2' }])
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DependencyError);
    expect(error).toMatchObject({ name: 'DependencyError', dependency: 'dynamodb', status: 502 });
    expect((error as Error).message).toBe('dynamodb: online read: 2 keys still unprocessed after 9 attempts');
    expect(requests).toBe(9);
  });

  it('names how many records were not written when a transaction stays cancelled', async () => {
    const view = freshView();
    // The transaction of records 10…19 always conflicts; the other two go through.
    const faulty = faultyTransactions((_, operations) =>
      operations[0]?.Put?.Item?.pk === `${view.name}#["f10"]`
        ? cancelled(operations.map(() => 'TransactionConflict'))
        : undefined,
    );
    const online = new OnlineStore(faulty, tableName, at);
    const batch = records('f', 25, T0 + HOUR);

    const error = await online.writeLatest(view, batch, { batchSize: 10 }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(DependencyError);
    expect(error).toMatchObject({ name: 'DependencyError', dependency: 'dynamodb', status: 502 });
    expect((error as Error).message).toMatch(/10 of 25 records not written/);
    const orders = await readOrders(online, view, batch);
    expect(orders.filter((value) => value === null)).toHaveLength(10);
  });

  it('does not advance the watermark when online writes give up', async () => {
    const view = freshView();
    await ingest(view, 'b1', [line('g1', 1, 1), line('g2', 1, 2)], T0 + 4 * HOUR);
    const faulty = faultyTransactions((_, operations) => cancelled(operations.map(() => 'ThrottlingError')));

    await expect(
      materializeView(view, { store, online: new OnlineStore(faulty, tableName, at), now: at }),
    ).rejects.toThrow(/2 of 2 records not written/);

    expect(await store.get(watermarkKey(view.name))).toBeUndefined();
  });

  it('splits a transaction DynamoDB refuses as larger than 4 MB', async () => {
    const view = freshView();
    const tooLarge = Object.assign(new Error('Transaction request cannot be larger than 4 MB'), {
      name: 'ValidationException',
    });
    const faulty = faultyTransactions((_, operations) => (operations.length > 5 ? tooLarge : undefined));
    const online = new OnlineStore(faulty, tableName, at);
    const batch = records('s', 20, T0 + HOUR);

    const result = await online.writeLatest(view, batch, { batchSize: 20 });

    // 20 refused, 10 refused, 5 + 5 written, 10 refused, 5 + 5 written
    expect(result).toEqual({ written: 20, skipped: 0, requests: 7, setAside: [] });
    expect(await readOrders(online, view, batch)).toEqual(batch.map((_, i) => i));
  });

  it('rejects two records for one entity by field, writing nothing', async () => {
    const view = freshView();
    const online = new OnlineStore(clients.documents(), tableName, at);
    const [a, b] = records('d', 2, T0 + HOUR);
    if (a === undefined || b === undefined) throw new Error('no records');

    const error = await online
      .writeLatest(view, [a, b, { ...a, eventTimeMs: T0 + 2 * HOUR }])
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe('records.2');
    expect(await readOrders(online, view, [a, b])).toEqual([null, null]);
  });

  it.each([
    [{ batchSize: 0 }, 'batchSize'],
    [{ batchSize: 101 }, 'batchSize'],
    [{ batchSize: 2.5 }, 'batchSize'],
    [{ concurrency: 0 }, 'concurrency'],
  ])('rejects write options %j by field', async (options, field) => {
    const online = new OnlineStore(clients.documents(), tableName, at);
    const error = await online
      .writeLatest(freshView(), records('o', 1, T0 + HOUR), options)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe(field);
  });
});
