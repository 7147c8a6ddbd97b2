/**
 * Materialization never stalls on one bad record: what it cannot write is set aside (recorded with
 * its reason under materialization/<view>/set-aside/, counted in the result) and the run moves on,
 * advancing the watermark. A backlog too large for one run is worked through in bounded runs.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { type DynamoDBDocumentClient, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { defineFeatureView, type FeatureView } from '../../lambdas/feature-store/feature-view.js';
import { commitBatch, ingestBatch } from '../../lambdas/feature-store/ingest.js';
import { materializeView, setAsidePrefix, watermarkKey } from '../../lambdas/feature-store/materialize.js';
import { onlineKey } from '../../lambdas/feature-store/online-key.js';
import { OnlineStore } from '../../lambdas/feature-store/online-store.js';
import { encodeFeatureRows } from '../../lambdas/feature-store/parquet-codec.js';
import type { TypedRow } from '../../lambdas/feature-store/row-validation.js';
import { clients } from '../../lambdas/shared/clients.js';
import { S3ObjectStore } from '../../lambdas/shared/object-store.js';
import { startLocalStack } from '../../local/local-stack.js';
import { testFeatureViews } from '../fixtures/feature-views.js';
import { assemblyFor } from '../support/assemblies.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-11-20T00:00:00Z');
const NOW = T0 + 6 * HOUR;
const now = () => NOW;
let store: S3ObjectStore;
let bucket: string;
let tableName: string;
let counter = 0;

beforeAll(async () => {
  const local = await startLocalStack(
    await assemblyFor({ context: { mlops: { featureViews: testFeatureViews } } }),
    { prefix: 'setaside-' },
  );
  bucket = local.resourceName('FeatureStoreOffline');
  store = new S3ObjectStore(clients.s3(), bucket);
  tableName = local.resourceName('FeatureStoreOnline');
});

function freshView(): FeatureView {
  const base = testFeatureViews[0];
  if (base === undefined) throw new Error('no test view');
  return defineFeatureView({ ...base, name: `setaside_${++counter}` });
}

const row = (id: string, orders: number, spend: number | null = 1): TypedRow => ({
  eventTimeMs: T0 + HOUR,
  values: { customer_id: id, orders, spend },
});

/**
 * Commits rows as a batch without validating them: what an older ingestion (before today's rules)
 * left in the offline store.
 */
async function commitUnchecked(view: FeatureView, batchId: string, rows: TypedRow[], at: number) {
  const file = encodeFeatureRows(view, rows, at);
  return commitBatch(
    view,
    batchId,
    { received: rows.length, accepted: rows.length, files: new Map([['2026-11-20', file]]), quarantine: [] },
    at,
    { store, now: () => new Date(at) },
  );
}

async function ingest(view: FeatureView, batchId: string, ids: string[], at: number) {
  const body = ids.map((id, i) =>
    JSON.stringify({ customer_id: id, event_time: T0 + HOUR, orders: i, spend: 1 }),
  );
  return ingestBatch(
    { view: view.name, batchId, format: 'jsonl' },
    new TextEncoder().encode(body.join('\n')),
    {
      store,
      views: new Map([[view.name, view]]),
      now: () => new Date(at),
    },
  );
}

async function readOrders(view: FeatureView, ids: string[]) {
  const online = new OnlineStore(clients.documents(), tableName, now);
  const rows = await online.getOnlineFeatures(
    view,
    ['orders'],
    ids.map((id) => ({ customer_id: id })),
  );
  return rows.map((r) => r.features.orders?.value);
}

async function setAsideLines(view: FeatureView): Promise<Record<string, unknown>[]> {
  const lines: Record<string, unknown>[] = [];
  for await (const key of store.list(setAsidePrefix(view.name))) {
    const body = new TextDecoder().decode(await store.get(key));
    for (const line of body.split('\n')) if (line !== '') lines.push(JSON.parse(line));
  }
  return lines;
}

type Operations = NonNullable<TransactWriteCommand['input']['TransactItems']>;

/** The emulator's client, except that `fault` may answer a TransactWriteItems call with an error. */
function faultyTransactions(fault: (operations: Operations) => Error | undefined) {
  const documents = clients.documents();
  return {
    send: (command: object) => {
      if (command instanceof TransactWriteCommand) {
        const error = fault(command.input.TransactItems ?? []);
        if (error !== undefined) return Promise.reject(error);
      }
      return documents.send(command as never);
    },
  } as unknown as DynamoDBDocumentClient;
}

const pkOf = (operation: Operations[number]) => operation.Put?.Item?.pk as string;

describe('materialization sets aside what it cannot write', () => {
  it('sets aside a number the SDK refuses and a key over 2048 bytes, writes the rest and advances the watermark', async () => {
    const view = freshView();
    const longKey = '€'.repeat(700);
    await commitUnchecked(
      view,
      'old',
      [row('a', 1), row('b', 2, 1e16), row('c', 3), row(longKey, 4), row('d', 5, 5e-324)],
      T0 + 2 * HOUR,
    );
    const online = new OnlineStore(clients.documents(), tableName, now);

    const result = await materializeView(view, { store, online, now });

    expect(result).toMatchObject({ batches: 1, rows: 5, written: 2, setAside: 3, more: false });
    expect(await readOrders(view, ['a', 'b', 'c', 'd'])).toEqual([1, null, 3, null]);
    const lines = await setAsideLines(view);
    expect(lines.map((l) => [l.entityKey, l.reason])).toEqual(
      expect.arrayContaining([
        [['b'], expect.stringMatching(/^features\.spend: must be 0 or of magnitude from 1e-130 to 2\^53−1/)],
        [['d'], expect.stringMatching(/^features\.spend: must be 0 or of magnitude/)],
        [[longKey], expect.stringMatching(/^pk: .*must be at most 2048 UTF-8 bytes, got 2115/)],
      ]),
    );
    expect(lines).toHaveLength(3);
    expect(result.setAsideKey).toMatch(new RegExp(`^${setAsidePrefix(view.name)}`));
    expect(await store.get(watermarkKey(view.name))).toBeDefined();

    // The next run is not blocked by them.
    await ingest(view, 'next', ['e'], NOW + 1000);
    const next = await materializeView(view, { store, online, now: () => NOW + 2000 });
    expect(next).toMatchObject({ batches: 1, written: 1, setAside: 0 });
    expect(await readOrders(view, ['e'])).toEqual([0]);
  });

  it('sets aside the one record DynamoDB refuses with a ValidationException, bisecting its transaction', async () => {
    const view = freshView();
    const ids = Array.from({ length: 10 }, (_, i) => `v${i}`);
    await ingest(view, 'b1', ids, T0 + 2 * HOUR);
    const poison = onlineKey(view.name, ['v6']);
    // The emulator accepts every number and key DynamoDB may still refuse: a client stands in.
    const refusing = faultyTransactions((operations) =>
      operations.some((o) => pkOf(o) === poison)
        ? Object.assign(new Error('One or more parameter values were invalid: Number overflow'), {
            name: 'ValidationException',
            $fault: 'client',
            $metadata: { httpStatusCode: 400 },
          })
        : undefined,
    );
    const online = new OnlineStore(refusing, tableName, now);

    const result = await materializeView(view, { store, online, now, batchSize: 10 });

    expect(result).toMatchObject({ written: 9, setAside: 1 });
    expect(await readOrders(view, ids)).toEqual([0, 1, 2, 3, 4, 5, null, 7, 8, 9]);
    expect(await setAsideLines(view)).toEqual([
      expect.objectContaining({
        entityKey: ['v6'],
        reason:
          'DynamoDB refused the item: ValidationException: One or more parameter values were invalid: Number overflow',
      }),
    ]);
  });

  it('sets aside the records a cancelled transaction names as ValidationError, writing the others', async () => {
    const view = freshView();
    const ids = Array.from({ length: 6 }, (_, i) => `x${i}`);
    await ingest(view, 'b1', ids, T0 + 2 * HOUR);
    const poison = new Set([onlineKey(view.name, ['x1']), onlineKey(view.name, ['x4'])]);
    const cancelling = faultyTransactions((operations) =>
      operations.some((o) => poison.has(pkOf(o)))
        ? new TransactionCanceledException({
            message: 'Transaction cancelled',
            $metadata: { httpStatusCode: 400 },
            CancellationReasons: operations.map((o) => ({
              Code: poison.has(pkOf(o)) ? 'ValidationError' : 'None',
              Message: poison.has(pkOf(o)) ? 'Item size has exceeded the maximum allowed size' : undefined,
            })),
          })
        : undefined,
    );
    const online = new OnlineStore(cancelling, tableName, now);

    const result = await materializeView(view, { store, online, now });

    expect(result).toMatchObject({ written: 4, setAside: 2 });
    expect(await readOrders(view, ids)).toEqual([0, null, 2, 3, null, 5]);
    expect((await setAsideLines(view)).map((l) => l.reason)).toEqual([
      'DynamoDB refused the item: ValidationError: Item size has exceeded the maximum allowed size',
      'DynamoDB refused the item: ValidationError: Item size has exceeded the maximum allowed size',
    ]);
  });

  it('still fails the run, setting nothing aside, when the table cannot be written at all', async () => {
    const view = freshView();
    await ingest(view, 'b1', ['n1', 'n2'], T0 + 2 * HOUR);
    const online = new OnlineStore(clients.documents(), `${tableName}-missing`, now);

    await expect(materializeView(view, { store, online, now })).rejects.toThrow();

    expect(await store.get(watermarkKey(view.name))).toBeUndefined();
    expect(await setAsideLines(view)).toEqual([]);
  });

  it('sets aside a corrupt file a manifest lists and materializes the other batches', async () => {
    const view = freshView();
    const bad = await ingest(view, 'bad', ['k1'], T0 + 2 * HOUR);
    await ingest(view, 'good', ['k2'], T0 + 2 * HOUR + 1);
    const file = bad.files[0] as string;
    await clients.s3().send(new PutObjectCommand({ Bucket: bucket, Key: file, Body: 'not parquet' }));
    const online = new OnlineStore(clients.documents(), tableName, now);

    const result = await materializeView(view, { store, online, now });

    expect(result).toMatchObject({ batches: 2, written: 1, setAside: 1 });
    expect(await readOrders(view, ['k1', 'k2'])).toEqual([null, 0]);
    expect(await setAsideLines(view)).toEqual([
      { file, reason: expect.stringMatching(new RegExp(`^${file}: is not a readable Parquet file`)) },
    ]);
    expect(await store.get(watermarkKey(view.name))).toBeDefined();
  });
});

describe('materialization of a backlog', () => {
  it('works through it in bounded runs, each advancing the watermark to what it completed', async () => {
    const view = freshView();
    const MIN = 60_000;
    // Log times: 1, 2, 2 (two batches in one millisecond), 3, 4, 5 minutes after T0 + 2h.
    const times = [1, 2, 2, 3, 4, 5].map((m) => T0 + 2 * HOUR + m * MIN);
    for (const [i, at] of times.entries()) await ingest(view, `b${i}`, [`q${i}`], at);
    const online = new OnlineStore(clients.documents(), tableName, now);

    const runs = [];
    for (let run = 0; run < 10; run++) {
      const result = await materializeView(view, { store, online, now, maxBatches: 2 });
      runs.push(result);
      if (!result.more) break;
    }

    // Batches of one log millisecond stay in one run: 1, 2, 2 | 3, 4 | 5.
    expect(runs.map((r) => [r.batches, r.more])).toEqual([
      [3, true],
      [2, true],
      [1, false],
    ]);
    expect(runs.map((r) => r.toMs)).toEqual([times[2], times[4], NOW]);
    expect(
      await readOrders(
        view,
        times.map((_, i) => `q${i}`),
      ),
    ).toEqual(times.map(() => 0));
    expect(runs.reduce((sum, r) => sum + r.written, 0)).toBe(6);
  });

  it('bounds the rows a run reads, finishing the batch it is in', async () => {
    const view = freshView();
    const ids = (prefix: string) => Array.from({ length: 5 }, (_, i) => `${prefix}${i}`);
    await ingest(view, 'r1', ids('r'), T0 + 2 * HOUR);
    await ingest(view, 'r2', ids('s'), T0 + 2 * HOUR + 1);
    await ingest(view, 'r3', ids('t'), T0 + 2 * HOUR + 2);
    const online = new OnlineStore(clients.documents(), tableName, now);

    const first = await materializeView(view, { store, online, now, maxRows: 7 });
    const second = await materializeView(view, { store, online, now, maxRows: 7 });

    expect([first, second].map((r) => [r.batches, r.rows, r.more])).toEqual([
      [2, 10, true],
      [1, 5, false],
    ]);
  });
});
