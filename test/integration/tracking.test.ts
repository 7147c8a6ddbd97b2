import { randomBytes, randomUUID } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { putModelArtifact } from '../../lambdas/registry/artifact-store.js';
import { ModelRegistryStore } from '../../lambdas/registry/registry-store.js';
import {
  MAX_POINTS_PER_BATCH,
  type MetricPoint,
  TRACKING_CHUNK_POINTS,
  type TrackedRun,
} from '../../lambdas/registry/tracking.js';
import { TrackingStore } from '../../lambdas/registry/tracking-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import {
  ConflictError,
  ItemTooLargeError,
  NotFoundError,
  ValidationError,
} from '../../lambdas/shared/errors.js';
import { RUN_SK, runPk } from '../../lambdas/shared/layout.js';
import { loadAssembly } from '../../local/assembly.js';
import { startLocalStack } from '../../local/local-stack.js';
import { rejection } from '../support/errors.js';

let tracking: TrackingStore;
let tableName: string;
let bucket: string;
let registryTable: string;
const T0 = Date.UTC(2026, 0, 1);

async function tableItems(): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await clients
      .documents()
      .send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

async function runItems(runId: string, table = tableName): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await clients.documents().send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': runPk(runId) },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/** Expects `call` to be refused with `type` naming `field`, and the table to be exactly as before. */
async function refusedWritingNothing(
  call: () => Promise<unknown>,
  type: new (...args: never[]) => Error,
  field?: string,
): Promise<Error> {
  const before = await tableItems();
  const error = await rejection(call());
  expect(error).toBeInstanceOf(type);
  if (field !== undefined) expect((error as ValidationError).field).toBe(field);
  expect(await tableItems()).toEqual(before);
  return error;
}

async function experiment(): Promise<string> {
  const name = `exp-${randomUUID().slice(0, 8)}`;
  await tracking.createExperiment({ name });
  return name;
}

const point = (key: string, step: number, value = step / 10): MetricPoint => ({
  key,
  value,
  step,
  timestamp: T0 + step,
});

beforeAll(async () => {
  const local = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'tracking-' });
  tableName = local.resourceName('ModelRegistryTrackingTable');
  bucket = local.resourceName('ModelRegistryArtifacts');
  registryTable = local.resourceName('ModelRegistryTable');
  tracking = new TrackingStore({
    documents: clients.documents(),
    s3: clients.s3(),
    tableName,
    artifactBucket: bucket,
  });
});

describe('experiments', () => {
  it('creates, reads and lists experiments; the same request again returns the experiment', async () => {
    const name = `exp-${randomUUID().slice(0, 8)}`;
    const created = await tracking.createExperiment({ name, description: 'churn', tags: { team: 'risk' } });
    expect(await tracking.createExperiment({ name, description: 'churn', tags: { team: 'risk' } })).toEqual(
      created,
    );
    expect(await tracking.getExperiment(name)).toEqual(created);
    expect((await tracking.listExperiments()).map((e) => e.name)).toContain(name);
  });

  it('refuses another experiment under a taken name, writing nothing', async () => {
    const name = await experiment();
    const error = await refusedWritingNothing(
      () => tracking.createExperiment({ name, description: 'other' }),
      ConflictError,
    );
    expect(error.message).toContain(name);
  });
});

describe('metrics', () => {
  it('reads 100,000 points logged in batches of 1000 back complete and in step order, in few items', async () => {
    // Its own table, so the other tests' full-table read-backs do not page through its chunks.
    const big = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'tracking-big-' });
    const bigTable = big.resourceName('ModelRegistryTrackingTable');
    const store = new TrackingStore({
      documents: clients.documents(),
      s3: clients.s3(),
      tableName: bigTable,
    });
    await store.createExperiment({ name: 'big' });
    const run = await store.createRun({ experiment: 'big' });
    const total = 100_000;
    // Batches logged last-first, so step order comes from the read, not from the logging order.
    for (let b = total / MAX_POINTS_PER_BATCH - 1; b >= 0; b--) {
      const points = Array.from({ length: MAX_POINTS_PER_BATCH }, (_, i) =>
        point('loss', b * MAX_POINTS_PER_BATCH + i, 1 / (1 + b * MAX_POINTS_PER_BATCH + i)),
      );
      await store.logMetrics(run.runId, points);
    }
    const history = await store.getMetricHistory(run.runId, 'loss');
    expect(history).toHaveLength(total);
    expect(history.every((p, i) => p.step === i && p.value === 1 / (1 + i) && p.timestamp === T0 + i)).toBe(
      true,
    );

    const items = await runItems(run.runId, bigTable);
    const chunks = items.filter((i) => String(i.sk).startsWith('CHUNK#'));
    expect(chunks).toHaveLength(total / TRACKING_CHUNK_POINTS);
    // Run + summary + chunks + one record per batch: two orders of magnitude fewer items than points.
    expect(items.length).toBe(1 + 1 + chunks.length + total / MAX_POINTS_PER_BATCH);
    expect(items.length).toBeLessThan(total / 400);

    const summary = (await store.getRun(run.runId)).metrics.loss;
    expect(summary).toEqual({
      latest: 1 / total,
      step: total - 1,
      timestamp: T0 + total - 1,
      min: 1 / total,
      max: 1,
      count: total,
    });
  });

  it('appends small batches to the open chunk instead of an item per point', async () => {
    const run = await tracking.createRun({ experiment: await experiment() });
    for (let step = 0; step < 30; step++)
      await tracking.logMetrics(run.runId, [point('acc', step), point('loss', step)]);
    const chunks = (await runItems(run.runId)).filter((i) => String(i.sk).startsWith('CHUNK#'));
    expect(chunks.map((c) => c.sk)).toEqual(['CHUNK#acc#0000000001', 'CHUNK#loss#0000000001']);
    expect((await tracking.getMetricHistory(run.runId, 'acc')).map((p) => p.step)).toEqual(
      Array.from({ length: 30 }, (_, i) => i),
    );
  });

  it('does not apply a retried batch twice, sequentially or racing its original', async () => {
    const run = await tracking.createRun({ experiment: await experiment() });
    const batch = Array.from({ length: 10 }, (_, i) => point('auc', i));
    expect(await tracking.logMetrics(run.runId, batch, { batchId: 'b-1' })).toMatchObject({
      duplicate: false,
    });
    const before = await tableItems();
    expect(await tracking.logMetrics(run.runId, batch, { batchId: 'b-1' })).toMatchObject({
      duplicate: true,
    });
    expect(await tableItems()).toEqual(before);

    const second = Array.from({ length: 10 }, (_, i) => point('auc', 10 + i));
    const results = await Promise.all(
      Array.from({ length: 5 }, () => tracking.logMetrics(run.runId, second)),
    );
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    const history = await tracking.getMetricHistory(run.runId, 'auc');
    expect(history.map((p) => p.step)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect((await tracking.getRun(run.runId)).metrics.auc?.count).toBe(20);
  });

  it('refuses a batch id reused with other points, writing nothing', async () => {
    const run = await tracking.createRun({ experiment: await experiment() });
    await tracking.logMetrics(run.runId, [point('auc', 1)], { batchId: 'b-1' });
    await refusedWritingNothing(
      () => tracking.logMetrics(run.runId, [point('auc', 2)], { batchId: 'b-1' }),
      ConflictError,
    );
  });

  it('keeps every batch of concurrent loggers to one run', async () => {
    const run = await tracking.createRun({ experiment: await experiment() });
    await Promise.all(
      Array.from({ length: 8 }, (_, w) =>
        tracking.logMetrics(
          run.runId,
          Array.from({ length: 50 }, (_, i) => point('loss', w * 50 + i)),
        ),
      ),
    );
    const history = await tracking.getMetricHistory(run.runId, 'loss');
    expect(history.map((p) => p.step)).toEqual(Array.from({ length: 400 }, (_, i) => i));
    expect((await tracking.getRun(run.runId)).metrics.loss).toMatchObject({ count: 400, min: 0, max: 39.9 });
  });
});

describe('bad input writes nothing', () => {
  it('refuses NaN and infinite values naming the point and field', async () => {
    const run = await tracking.createRun({ experiment: await experiment() });
    const points = Array.from({ length: 10 }, (_, i) => point('loss', i));
    const nan = await refusedWritingNothing(
      () =>
        tracking.logMetrics(
          run.runId,
          points.map((p, i) => (i === 7 ? { ...p, value: Number.NaN } : p)),
        ),
      ValidationError,
      'points.7.value',
    );
    expect((nan as ValidationError).rule).toBe('must be a finite number (got NaN)');
    await refusedWritingNothing(
      () => tracking.logMetrics(run.runId, [point('loss', 0, Number.NEGATIVE_INFINITY)]),
      ValidationError,
      'points.0.value',
    );
    await refusedWritingNothing(
      () => tracking.logMetrics(run.runId, [{ ...point('loss', 0), step: 1.5 }]),
      ValidationError,
      'points.0.step',
    );
  });

  it('refuses more than 1000 points and more than 40 keys in one batch', async () => {
    const run = await tracking.createRun({ experiment: await experiment() });
    const error = await refusedWritingNothing(
      () =>
        tracking.logMetrics(
          run.runId,
          Array.from({ length: 1001 }, (_, i) => point('loss', i)),
        ),
      ValidationError,
      'points',
    );
    expect((error as ValidationError).rule).toMatch(/at most 1000 points/);
    await refusedWritingNothing(
      () =>
        tracking.logMetrics(
          run.runId,
          Array.from({ length: 41 }, (_, i) => point(`m${i}`, 0)),
        ),
      ValidationError,
      'points',
    );
  });

  it('refuses unknown experiments, runs and parents', async () => {
    await refusedWritingNothing(
      () => tracking.createRun({ experiment: 'no-such-experiment' }),
      ValidationError,
      'experiment',
    );
    await refusedWritingNothing(() => tracking.logMetrics('nosuchrun', [point('loss', 0)]), NotFoundError);
    await refusedWritingNothing(() => tracking.endRun('nosuchrun', { status: 'FINISHED' }), NotFoundError);
    const name = await experiment();
    await refusedWritingNothing(
      () => tracking.createRun({ experiment: name, parentRunId: 'nosuchrun' }),
      ValidationError,
      'parentRunId',
    );
    const elsewhere = await tracking.createRun({ experiment: await experiment() });
    await refusedWritingNothing(
      () => tracking.createRun({ experiment: name, parentRunId: elsewhere.runId }),
      ValidationError,
      'parentRunId',
    );
    await refusedWritingNothing(
      () => tracking.compareRuns([elsewhere.runId, 'nosuchrun']),
      ValidationError,
      'runIds.1',
    );
  });

  it('refuses oversized params: a value too long, and a run item over the item limit', async () => {
    const name = await experiment();
    await refusedWritingNothing(
      () => tracking.createRun({ experiment: name, params: { lr: 'x'.repeat(4097) } }),
      ValidationError,
      'params.lr',
    );
    const run = await tracking.createRun({ experiment: name });
    const big = Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`p${i}`, 'x'.repeat(4000)]));
    const error = await refusedWritingNothing(
      () => tracking.logParams(run.runId, big),
      ItemTooLargeError,
      'params',
    );
    expect(error.message).toMatch(/over the 409600-byte limit/);
  });

  it('refuses a param logged again with another value', async () => {
    const run = await tracking.createRun({ experiment: await experiment(), params: { lr: 0.1 } });
    expect((await tracking.logParams(run.runId, { lr: 0.1, depth: 3 })).params).toEqual({
      lr: 0.1,
      depth: 3,
    });
    await refusedWritingNothing(
      () => tracking.logParams(run.runId, { lr: 0.2 }),
      ValidationError,
      'params.lr',
    );
  });
});

describe('run status', () => {
  it('ends a run once: a final status refuses logging and every other move', async () => {
    const run = await tracking.createRun({ experiment: await experiment(), name: 'baseline' });
    expect(run.status).toBe('RUNNING');
    const ended = await tracking.endRun(run.runId, { status: 'FINISHED', endTime: T0 + 5 });
    expect(ended).toMatchObject({ status: 'FINISHED', endTime: T0 + 5 });
    // Ending it the same way again (a retry) returns it unchanged.
    expect(await tracking.endRun(run.runId, { status: 'FINISHED' })).toEqual(ended);

    const logging = await refusedWritingNothing(
      () => tracking.logMetrics(run.runId, [point('loss', 0)]),
      ValidationError,
      'runId',
    );
    expect((logging as ValidationError).rule).toMatch(/RUNNING run .* is FINISHED/);
    await refusedWritingNothing(() => tracking.logParams(run.runId, { lr: 1 }), ValidationError, 'runId');
    await refusedWritingNothing(
      () => tracking.logArtifact(run.runId, 'model.txt', 'x'),
      ValidationError,
      'runId',
    );
    await refusedWritingNothing(
      () => tracking.endRun(run.runId, { status: 'FAILED', reason: 'late' }),
      ValidationError,
      'status',
    );
    // Tags annotate finished runs too.
    expect((await tracking.setTags(run.runId, { best: 'yes' })).tags).toEqual({ best: 'yes' });
  });

  it('records why a run failed, and needs a reason for it', async () => {
    const run = await tracking.createRun({ experiment: await experiment() });
    await refusedWritingNothing(
      () => tracking.endRun(run.runId, { status: 'FAILED' }),
      ValidationError,
      'reason',
    );
    expect(await tracking.endRun(run.runId, { status: 'FAILED', reason: 'out of memory' })).toMatchObject({
      status: 'FAILED',
      reason: 'out of memory',
    });
    const killed = await tracking.createRun({ experiment: run.experiment });
    expect((await tracking.endRun(killed.runId, { status: 'KILLED' })).status).toBe('KILLED');
  });

  it('creates a run once for a given run id; another request under that id is a conflict', async () => {
    const name = await experiment();
    const runId = `run-${randomUUID().slice(0, 8)}`;
    const first = await tracking.createRun({ experiment: name, runId, params: { lr: 0.1 } });
    expect(await tracking.createRun({ experiment: name, runId, params: { lr: 0.1 } })).toEqual(first);
    await refusedWritingNothing(
      () => tracking.createRun({ experiment: name, runId, params: { lr: 0.2 } }),
      ConflictError,
    );
  });
});

describe('artifacts', () => {
  it('uploads under runs/<experiment>/<runId>/ and lists them', async () => {
    const run = await tracking.createRun({ experiment: await experiment() });
    const stored = await tracking.logArtifact(run.runId, 'plots/roc.json', '{"auc":0.9}', 'application/json');
    expect(stored.key).toBe(`runs/${run.experiment}/${run.runId}/plots/roc.json`);
    const object = await clients.s3().send(new GetObjectCommand({ Bucket: bucket, Key: stored.key }));
    expect(await object.Body?.transformToString()).toBe('{"auc":0.9}');
    expect(await tracking.listArtifacts(run.runId)).toEqual([{ path: 'plots/roc.json', sizeBytes: 11 }]);
    await expect(tracking.logArtifact(run.runId, '../escape', 'x')).rejects.toMatchObject({ field: 'path' });
  });
});

describe('parents, listing, search and compare', () => {
  it('lists child runs under their parent', async () => {
    const name = await experiment();
    const parent = await tracking.createRun({ experiment: name, name: 'sweep' });
    const children = [];
    for (let i = 0; i < 3; i++)
      children.push(
        await tracking.createRun({ experiment: name, parentRunId: parent.runId, startTime: T0 + i }),
      );
    expect(children[0]?.parentRunId).toBe(parent.runId);
    const listed = await tracking.listRuns(name, { parentRunId: parent.runId });
    expect(listed.runs.map((r) => r.runId)).toEqual(children.map((c) => c.runId).reverse());
  });

  it('lists runs newest first by status and tag, a page at a time', async () => {
    const name = await experiment();
    const runs: TrackedRun[] = [];
    for (let i = 0; i < 5; i++)
      runs.push(
        await tracking.createRun({
          experiment: name,
          startTime: T0 + i,
          tags: { model: i % 2 ? 'gbdt' : 'linear' },
        }),
      );
    await tracking.endRun(runs[1]?.runId, { status: 'FINISHED' });
    await tracking.endRun(runs[3]?.runId, { status: 'FINISHED' });

    const pages: string[][] = [];
    let nextToken: string | undefined;
    do {
      const page = await tracking.listRuns(name, { limit: 2, ...(nextToken ? { nextToken } : {}) });
      pages.push(page.runs.map((r) => r.runId));
      nextToken = page.nextToken;
    } while (nextToken);
    expect(pages.flat()).toEqual(runs.map((r) => r.runId).reverse());
    expect(pages[0]).toHaveLength(2);

    expect((await tracking.listRuns(name, { status: 'FINISHED' })).runs.map((r) => r.runId)).toEqual([
      runs[3]?.runId,
      runs[1]?.runId,
    ]);
    expect((await tracking.listRuns(name, { status: 'RUNNING' })).runs).toHaveLength(3);
    const linear = await tracking.listRuns(name, { tag: { key: 'model', value: 'linear' }, limit: 2 });
    expect(linear.runs.map((r) => r.runId)).toEqual([runs[4]?.runId, runs[2]?.runId]);
    expect(
      (
        await tracking.listRuns(name, { tag: { key: 'model', value: 'linear' }, nextToken: linear.nextToken })
      ).runs.map((r) => r.runId),
    ).toEqual([runs[0]?.runId]);
    await expect(tracking.listRuns('no-such-experiment')).rejects.toBeInstanceOf(NotFoundError);
    await expect(tracking.listRuns(name, { nextToken: 'garbage' })).rejects.toMatchObject({
      field: 'nextToken',
    });
  });

  it('searches on a metric latest value and orders by it; compares runs', async () => {
    const name = await experiment();
    const aucs = [0.7, 0.85, 0.8, 0.95, -1];
    const runs: TrackedRun[] = [];
    for (const [i, auc] of aucs.entries()) {
      const run = await tracking.createRun({ experiment: name, params: { depth: i } });
      // An earlier, higher value: search reads the latest one.
      await tracking.logMetrics(run.runId, [
        point('val_auc', 0, 0.99),
        point('val_auc', 5, auc),
        point('loss', 1, i),
      ]);
      runs.push(run);
    }
    const ids = (page: { runs: { runId: string }[] }) => page.runs.map((r) => r.runId);
    const by = (...indexes: number[]) => indexes.map((i) => runs[i]?.runId);
    expect(
      ids(await tracking.searchRuns(name, { filter: 'val_auc > 0.8', orderBy: 'val_auc DESC' })),
    ).toEqual(by(3, 1));
    expect(ids(await tracking.searchRuns(name, { filter: 'val_auc >= 0.8' }))).toEqual(by(2, 1, 3));
    expect(ids(await tracking.searchRuns(name, { filter: 'val_auc < 0.8' }))).toEqual(by(4, 0));
    expect(ids(await tracking.searchRuns(name, { filter: 'metrics.val_auc <= 0.8' }))).toEqual(by(4, 0, 2));
    expect(ids(await tracking.searchRuns(name, { filter: 'val_auc = 0.85' }))).toEqual(by(1));
    const first = await tracking.searchRuns(name, { orderBy: 'val_auc DESC', limit: 3 });
    expect(ids(first)).toEqual(by(3, 1, 2));
    expect(
      ids(await tracking.searchRuns(name, { orderBy: 'val_auc DESC', nextToken: first.nextToken })),
    ).toEqual(by(0, 4));
    await expect(tracking.searchRuns(name, { filter: 'val_auc != 1' })).rejects.toMatchObject({
      field: 'filter',
    });
    await expect(tracking.searchRuns(name, { filter: 'val_auc > 1', orderBy: 'loss' })).rejects.toMatchObject(
      {
        field: 'orderBy',
      },
    );

    const table = await tracking.compareRuns([runs[3]?.runId, runs[0]?.runId], ['val_auc']);
    expect(table).toEqual({
      params: ['depth'],
      metrics: ['val_auc'],
      rows: [
        {
          runId: runs[3]?.runId,
          name: '',
          status: 'RUNNING',
          params: { depth: 3 },
          metrics: { val_auc: 0.95 },
        },
        {
          runId: runs[0]?.runId,
          name: '',
          status: 'RUNNING',
          params: { depth: 0 },
          metrics: { val_auc: 0.7 },
        },
      ],
    });
    expect((await tracking.compareRuns([runs[0]?.runId])).metrics).toEqual(['loss', 'val_auc']);
  });
});

describe('registered versions', () => {
  it('links a version registered with a run id to that run, in the registration transaction', async () => {
    const registry = new ModelRegistryStore({
      documents: clients.documents(),
      s3: clients.s3(),
      tableName: registryTable,
      artifactBucket: bucket,
      trackingTable: tableName,
    });
    const run = await tracking.createRun({ experiment: await experiment() });
    await tracking.endRun(run.runId, { status: 'FINISHED' });
    const model = `m-${randomUUID().slice(0, 8)}`;
    const artifact = await putModelArtifact(clients.s3(), bucket, model, randomBytes(64));
    const ref = { key: artifact.key, sha256: artifact.sha256 };
    const first = await registry.registerModelVersion({
      modelName: model,
      artifact: ref,
      lineage: { runId: run.runId },
    });
    const second = await registry.registerModelVersion({
      modelName: model,
      artifact: ref,
      lineage: { runId: run.runId },
    });
    expect(first.lineage.runId).toBe(run.runId);
    expect((await tracking.getRun(run.runId)).registeredVersions).toEqual([`${model}:1`, `${model}:2`]);
    expect(second.version).toBe(2);

    const registryItems = async () =>
      (await clients.documents().send(new ScanCommand({ TableName: registryTable, ConsistentRead: true })))
        .Items;
    const before = await registryItems();
    await refusedWritingNothing(
      () =>
        registry.registerModelVersion({ modelName: model, artifact: ref, lineage: { runId: 'nosuchrun' } }),
      ValidationError,
      'lineage.runId',
    );
    expect(await registryItems()).toEqual(before);
  });

  it('refuses with ValidationError on lineage.runId, at once, when the run vanishes before the transaction', async () => {
    const run = await tracking.createRun({ experiment: await experiment() });
    let transactions = 0;
    // The run is deleted between the registry's check that it exists and its transaction (the
    // interleaving is injected at the SDK boundary; the writes are real).
    const vanishing: DynamoDBDocumentClient = new Proxy(clients.documents(), {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        return async (command: unknown) => {
          if (command instanceof TransactWriteCommand) {
            transactions++;
            await target.send(
              new DeleteCommand({ TableName: tableName, Key: { pk: runPk(run.runId), sk: RUN_SK } }),
            );
          }
          return target.send(command as Parameters<typeof target.send>[0]);
        };
      },
    });
    const registry = new ModelRegistryStore({
      documents: vanishing,
      s3: clients.s3(),
      tableName: registryTable,
      artifactBucket: bucket,
      trackingTable: tableName,
    });
    const model = `m-${randomUUID().slice(0, 8)}`;
    const artifact = await putModelArtifact(clients.s3(), bucket, model, randomBytes(64));
    const registryItems = async () =>
      (await clients.documents().send(new ScanCommand({ TableName: registryTable, ConsistentRead: true })))
        .Items;
    const before = await registryItems();
    const error = await rejection(
      registry.registerModelVersion({
        modelName: model,
        artifact: { key: artifact.key, sha256: artifact.sha256 },
        lineage: { runId: run.runId },
      }),
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field: 'lineage.runId' });
    expect(transactions).toBe(1); // not retried as a lost race
    expect(await registryItems()).toEqual(before);
  });
});
