/**
 * The training workflow's Prepare and Finish steps on the emulator: the lease and result store in
 * the real tracking table, label rows ingested into the real offline bucket by the feature store's
 * ingestion, runs in the real tracking store, and Finish's events read back through an EventBridge
 * rule on the project's bus targeting an SQS queue.
 */
import { randomUUID } from 'node:crypto';
import type { PutEventsCommand, PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { defineFeatureView, type FeatureView } from '../../lambdas/feature-store/feature-view.js';
import { ingestBatch } from '../../lambdas/feature-store/ingest.js';
import { decodeFeatureColumns } from '../../lambdas/feature-store/parquet-codec.js';
import { TrackingStore } from '../../lambdas/registry/tracking-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { DependencyError, ValidationError } from '../../lambdas/shared/errors.js';
import { EVENT_DETAIL_TYPE, EVENT_SOURCE } from '../../lambdas/shared/layout.js';
import { S3ObjectStore } from '../../lambdas/shared/object-store.js';
import {
  isTrained,
  modelConfigSchema,
  type TrainedModelConfig,
} from '../../lambdas/training/model-config.js';
import type {
  PrepareTrainingEvent,
  PrepareTrainingResult,
} from '../../lambdas/training/pipeline/contract.js';
import { trainingFingerprint } from '../../lambdas/training/pipeline/fingerprint.js';
import { type FinishTrainingDeps, finishTraining } from '../../lambdas/training/pipeline/finish.js';
import { type PrepareTrainingDeps, prepareTraining } from '../../lambdas/training/pipeline/prepare.js';
import { trainingRunId } from '../../lambdas/training/pipeline/run-id.js';
import { trainingSetColumns } from '../../lambdas/training/pipeline/training-set.js';
import { leaseTaken, TrainingStateStore } from '../../lambdas/training/pipeline/training-state.js';
import { loadAssembly } from '../../local/assembly.js';
import { startLocalStack } from '../../local/local-stack.js';
import { testFeatureViews } from '../fixtures/feature-views.js';
import { rejection } from '../support/errors.js';
import { queueForEvents } from '../support/event-queue.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-10-10T00:00:00Z');
const AS_OF = T0 + 2 * DAY;

let store: S3ObjectStore;
let tracking: TrackingStore;
let state: TrainingStateStore;
let tableName: string;
let busName: string;
const views = new Map<string, FeatureView>(
  [
    ...testFeatureViews,
    {
      name: 'outcome',
      owner: 'growth-ml',
      entities: [{ name: 'customer_id', type: 'string' as const }],
      // not the training set's timestamp column: the label rows' times are read from the view's own
      eventTimeColumn: 'labelled_at',
      ttlSeconds: 'never' as const,
      online: false,
      features: [{ name: 'churned', type: 'bool' as const }],
    },
  ].map((v) => [v.name, defineFeatureView(v)]),
);

function trainedModel(overrides: Record<string, unknown> = {}): TrainedModelConfig {
  const parsed = modelConfigSchema.parse({
    name: `churn-${randomUUID().slice(0, 8)}`,
    task: 'binary',
    label: 'outcome:churned',
    features: ['customer:orders', 'customer:spend'],
    windowDays: 3,
    gates: {},
    ...overrides,
  });
  if (!isTrained(parsed)) throw new Error('fixture must be a trained model');
  return parsed;
}

const execution = (model: string) =>
  `arn:aws:states:us-east-1:123456789012:execution:train-${model}:${randomUUID()}`;

function prepareEvent(model: TrainedModelConfig, overrides: Partial<PrepareTrainingEvent> = {}) {
  return {
    model: model.name,
    input: { asOf: new Date(AS_OF).toISOString(), trigger: { kind: 'schedule' as const } },
    execution: execution(model.name),
    startTime: new Date().toISOString(),
    ...overrides,
  };
}

const prepareDeps = (models: TrainedModelConfig[]): PrepareTrainingDeps => ({
  tracking,
  state,
  store,
  views,
  models,
});

function trained(result: PrepareTrainingResult) {
  if (result.outcome !== 'train') throw new Error(`expected train, got ${result.outcome}`);
  return result;
}

async function ingest(view: string, batchId: string, rows: Record<string, unknown>[]): Promise<void> {
  await ingestBatch(
    { view, batchId, format: 'jsonl' },
    new TextEncoder().encode(rows.map((r) => JSON.stringify(r)).join('\n')),
    { store, views },
  );
}

beforeAll(async () => {
  const local = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'trainprep-' });
  store = new S3ObjectStore(clients.s3(), local.resourceName('FeatureStoreOffline'));
  tableName = local.resourceName('ModelRegistryTrackingTable');
  const bus = Object.entries(local.stack.template.Resources).find(
    ([, r]) => r.Type === 'AWS::Events::EventBus',
  );
  busName = local.provisioned.context.resources[bus?.[0] ?? '']?.ref as string;
  tracking = new TrackingStore({ documents: clients.documents(), s3: clients.s3(), tableName });
  state = new TrainingStateStore(clients.documents(), tableName);

  await ingest('customer', 'f1', [
    { customer_id: 'c1', event_time: T0 + HOUR, orders: 1, spend: 10 },
    { customer_id: 'c1', event_time: T0 + 30 * HOUR, orders: 2, spend: null },
    { customer_id: 'c2', event_time: T0 + 2 * HOUR, orders: 7, spend: 70 },
  ]);
  // The window of AS_OF with 3 days: (T0 − 1 day, T0 + 2 days].
  await ingest('outcome', 'l1', [
    { customer_id: 'c1', labelled_at: T0 + 3 * HOUR, churned: false },
    { customer_id: 'c1', labelled_at: T0 + 31 * HOUR, churned: true },
    { customer_id: 'c2', labelled_at: T0 + 4 * HOUR, churned: true },
    { customer_id: 'c3', labelled_at: T0 + 5 * HOUR, churned: false },
    { customer_id: 'c4', labelled_at: AS_OF, churned: true }, // the window's end: inside
    { customer_id: 'c5', labelled_at: T0 - DAY, churned: true }, // the window's start: outside
    { customer_id: 'c6', labelled_at: T0 - 10 * DAY, churned: true }, // long before
  ]);
  // Ingested later: the same (entity, event time) as a row above, with a corrected label.
  await ingest('outcome', 'l2', [{ customer_id: 'c2', labelled_at: T0 + 4 * HOUR, churned: false }]);
});

describe('the training lease', () => {
  it('is taken once: another holder is told who holds it and until when', async () => {
    const model = `lease-${randomUUID().slice(0, 8)}`;
    const taken = await state.acquireLease(model, 'exec-a', 60_000);
    expect(leaseTaken(taken)).toBe(true);
    const refused = await state.acquireLease(model, 'exec-b', 60_000);
    expect(refused).toEqual({
      heldBy: 'exec-a',
      expiresAtMs: (taken as { expiresAtMs: number }).expiresAtMs,
    });
  });

  it('is taken again by its holder (a retried Prepare of the same execution)', async () => {
    const model = `lease-${randomUUID().slice(0, 8)}`;
    await state.acquireLease(model, 'exec-a', 60_000);
    const again = await state.acquireLease(model, 'exec-a', 60_000);
    expect(again).toMatchObject({ holder: 'exec-a' });
  });

  it('is taken by another holder once it has expired (a crashed execution does not hold it forever)', async () => {
    const model = `lease-${randomUUID().slice(0, 8)}`;
    let now = Date.now();
    const clocked = new TrainingStateStore(clients.documents(), tableName, () => now);
    await clocked.acquireLease(model, 'exec-a', 60_000);
    now += 59_999;
    expect(leaseTaken(await clocked.acquireLease(model, 'exec-b', 60_000))).toBe(false);
    now += 1;
    expect(await clocked.acquireLease(model, 'exec-b', 60_000)).toEqual({
      holder: 'exec-b',
      expiresAtMs: now + 60_000,
    });
    // the crashed holder's late release leaves the new lease alone
    expect(await clocked.releaseLease(model, 'exec-a')).toBe(false);
    expect(await clocked.getLease(model)).toMatchObject({ holder: 'exec-b' });
  });

  it('is released only by its holder, and releasing twice is a no-op', async () => {
    const model = `lease-${randomUUID().slice(0, 8)}`;
    await state.acquireLease(model, 'exec-a', 60_000);
    expect(await state.releaseLease(model, 'exec-b')).toBe(false);
    expect(await state.releaseLease(model, 'exec-a')).toBe(true);
    expect(await state.releaseLease(model, 'exec-a')).toBe(false);
    expect(await state.getLease(model)).toBeUndefined();
    expect(leaseTaken(await state.acquireLease(model, 'exec-b', 60_000))).toBe(true);
  });
});

describe('training results', () => {
  it('keeps the first result: the same run again is a no-op, another run gets the first back', async () => {
    const model = `result-${randomUUID().slice(0, 8)}`;
    const first = {
      outcome: 'succeeded' as const,
      runId: 'run1',
      execution: 'exec-1',
      version: 3,
      finishedAt: '2026-10-10T00:00:00.000Z',
    };
    expect(await state.getResult(model, 'h', 'f')).toBeUndefined();
    expect(await state.putResult(model, 'h', 'f', first)).toEqual(first);
    expect(
      await state.putResult(model, 'h', 'f', { ...first, finishedAt: '2026-10-11T00:00:00.000Z' }),
    ).toEqual(first);
    const other = {
      outcome: 'rejected' as const,
      runId: 'run2',
      execution: 'exec-2',
      reasons: ['auc < 0.8'],
      finishedAt: 'x',
    };
    expect(await state.putResult(model, 'h', 'f', other)).toEqual(first);
    expect(await state.getResult(model, 'h', 'f')).toEqual(first);
    expect(await state.putResult(model, 'h', 'f2', other)).toEqual(other);
  });
});

describe('PrepareTraining', () => {
  it('builds the training set from the label rows of the window, joined point-in-time, and starts the run', async () => {
    const model = trainedModel();
    const event = prepareEvent(model);
    const result = trained(await prepareTraining(event, prepareDeps([model])));

    expect(result).toMatchObject({
      runId: trainingRunId(event.execution),
      experiment: model.name,
      fingerprint: trainingFingerprint(model),
      trigger: { kind: 'schedule' },
      lease: { holder: event.execution },
      candidates: [{ index: 0 }],
    });
    expect(result.dataset.rowCount).toBe(5);
    expect(result.dataset.dataKey).toBe(`datasets/${model.name}/${result.dataset.hash}/data.parquet`);

    const columns = trainingSetColumns(model, views);
    expect(columns).toEqual({
      timestamp: 'event_time',
      identity: ['customer_id', 'event_time'],
      label: 'outcome__churned',
      features: ['customer__orders', 'customer__spend'],
      slices: [],
    });
    const bytes = (await store.get(result.dataset.dataKey)) as Uint8Array;
    const data = await decodeFeatureColumns(bytes.buffer.slice(bytes.byteOffset) as ArrayBuffer);
    // Sorted by entity, then time; c2's duplicate counts once with the later-ingested label.
    expect(data.customer_id).toEqual(['c1', 'c1', 'c2', 'c3', 'c4']);
    expect(data.event_time).toEqual([T0 + 3 * HOUR, T0 + 31 * HOUR, T0 + 4 * HOUR, T0 + 5 * HOUR, AS_OF]);
    expect(data.outcome__churned).toEqual([false, true, false, false, true]);
    expect(data.customer__orders).toEqual([1, 2, 7, null, null]);
    expect(data.customer__spend).toEqual([10, null, 70, null, null]);

    const manifest = (await store.get(result.dataset.manifestKey)) as Uint8Array;
    const { createHash } = await import('node:crypto');
    expect(result.dataset.manifestSha256).toBe(createHash('sha256').update(manifest).digest('hex'));

    const run = await tracking.getRun(result.runId);
    expect(run).toMatchObject({
      experiment: model.name,
      status: 'RUNNING',
      params: {
        'trainer.algorithm': 'gbdt',
        'trainer.numRounds': 100,
        windowDays: 3,
        fingerprint: result.fingerprint,
        'dataset.hash': result.dataset.hash,
        'dataset.rows': 5,
      },
      tags: { trigger: 'schedule', execution: event.execution },
    });
    expect(await state.getLease(model.name)).toMatchObject({ holder: event.execution });
  });

  it('gives the same run and dataset when retried with the same event', async () => {
    const model = trainedModel();
    const event = prepareEvent(model);
    const first = trained(await prepareTraining(event, prepareDeps([model])));
    const again = trained(await prepareTraining(event, prepareDeps([model])));
    expect(again.runId).toBe(first.runId);
    expect(again.dataset).toEqual(first.dataset);
  });

  it('drops a trigger while another execution holds the lease, recording the run as KILLED', async () => {
    const model = trainedModel();
    const running = trained(await prepareTraining(prepareEvent(model), prepareDeps([model])));
    const extra = prepareEvent(model, { input: { trigger: { kind: 'drift', alarmName: 'a' } } });
    const result = await prepareTraining(extra, prepareDeps([model]));

    expect(result).toEqual({
      outcome: 'dropped',
      runId: trainingRunId(extra.execution),
      heldBy: running.lease.holder,
      reason: `another execution ${running.lease.holder} holds the training lease`,
    });
    const run = await tracking.getRun(result.runId);
    expect(run).toMatchObject({
      status: 'KILLED',
      reason: `another execution ${running.lease.holder} holds the training lease`,
      tags: { outcome: 'dropped', trigger: 'drift', 'trigger.alarmName': 'a' },
    });
    expect(await state.getLease(model.name)).toMatchObject({ holder: running.lease.holder });

    // retried after the holder finished: the same answer, not a training on a KILLED run
    await state.releaseLease(model.name, running.lease.holder);
    expect(await prepareTraining(extra, prepareDeps([model]))).toEqual(result);
    expect(await state.getLease(model.name)).toBeUndefined();
  });

  it('reuses an earlier result for the same data and configuration, and frees the lease', async () => {
    const model = trainedModel();
    const first = trained(await prepareTraining(prepareEvent(model), prepareDeps([model])));
    await finishTraining(
      {
        model: model.name,
        outcome: 'succeeded',
        runId: first.runId,
        execution: first.lease.holder,
        lease: first.lease,
        dataset: first.dataset,
        fingerprint: first.fingerprint,
        version: 4,
      },
      finishDeps(),
    );
    const duplicate = prepareEvent(model);
    const result = await prepareTraining(duplicate, prepareDeps([model]));

    expect(result).toMatchObject({
      outcome: 'reused',
      runId: trainingRunId(duplicate.execution),
      earlier: { outcome: 'succeeded', runId: first.runId, execution: first.lease.holder, version: 4 },
    });
    expect(await tracking.getRun(result.runId)).toMatchObject({
      status: 'FINISHED',
      tags: { outcome: 'reused', reusedRunId: first.runId },
    });
    expect(await state.getLease(model.name)).toBeUndefined();
    expect(await prepareTraining(duplicate, prepareDeps([model]))).toEqual(result);
  });

  it('trains again when the configuration changes (another fingerprint) on the same data', async () => {
    const model = trainedModel();
    const first = trained(await prepareTraining(prepareEvent(model), prepareDeps([model])));
    await state.putResult(model.name, first.dataset.hash, first.fingerprint, {
      outcome: 'succeeded',
      runId: first.runId,
      execution: first.lease.holder,
      finishedAt: new Date().toISOString(),
    });
    await state.releaseLease(model.name, first.lease.holder);
    const changed = { ...model, split: { ...model.split, seed: 9 } };
    const result = trained(await prepareTraining(prepareEvent(changed), prepareDeps([changed])));
    expect(result.dataset.hash).toBe(first.dataset.hash);
    expect(result.fingerprint).not.toBe(first.fingerprint);
  });

  it('refuses an empty window naming windowDays, and releases the lease', async () => {
    const model = trainedModel();
    const event = prepareEvent(model, { input: { asOf: new Date(T0 - 20 * DAY).toISOString() } });
    const error = await rejection(prepareTraining(event, prepareDeps([model])));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe('windowDays');
    expect(error.message).toContain(
      'no rows of outcome between 2026-09-17T00:00:00.000Z (exclusive) and 2026-09-20',
    );
    expect(await state.getLease(model.name)).toBeUndefined();
    // the run stays for FinishTraining(failed) to end with this cause
    expect((await tracking.getRun(trainingRunId(event.execution))).status).toBe('RUNNING');
  });

  it('refuses a feature of a view keyed by an entity the label rows lack, naming it', async () => {
    const model = trainedModel({ features: ['customer:orders', 'merchant:category'] });
    const error = await rejection(prepareTraining(prepareEvent(model), prepareDeps([model])));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe('features.1');
    expect(await state.getLease(model.name)).toBeUndefined();
  });

  it('refuses a malformed asOf, naming it, before taking anything', async () => {
    const model = trainedModel();
    const event = prepareEvent(model, { input: { asOf: 'yesterday' } });
    const error = await rejection(prepareTraining(event, prepareDeps([model])));
    expect((error as ValidationError).field).toBe('asOf');
    expect(await state.getLease(model.name)).toBeUndefined();
  });
});

/** A queue receiving every event of the bus about `model` (an EventBridge rule → SQS target). */
async function eventsQueue(model: string): Promise<string> {
  return queueForEvents(`train-${model}`, busName, { source: [EVENT_SOURCE], detail: { model: [model] } });
}

async function receiveAll(
  queueUrl: string,
): Promise<{ detailType: string; detail: Record<string, unknown> }[]> {
  const sqs = clients.sqs();
  const out: { detailType: string; detail: Record<string, unknown> }[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) return out;
    for (const m of Messages) {
      const body = JSON.parse(m.Body as string) as { 'detail-type': string; detail: Record<string, unknown> };
      out.push({ detailType: body['detail-type'], detail: body.detail });
    }
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
      }),
    );
  }
}

const finishDeps = (overrides: Partial<FinishTrainingDeps> = {}): FinishTrainingDeps => ({
  tracking,
  state,
  eventBridge: clients.eventbridge(),
  busName,
  ...overrides,
});

describe('FinishTraining', () => {
  it('ends a failed run with the readable cause, frees the lease and emits TrainingFailed once', async () => {
    const model = trainedModel();
    const queue = await eventsQueue(model.name);
    const prepared = trained(await prepareTraining(prepareEvent(model), prepareDeps([model])));
    const event = {
      model: model.name,
      outcome: 'failed' as const,
      runId: prepared.runId,
      execution: prepared.lease.holder,
      trigger: prepared.trigger,
      dataset: prepared.dataset,
      error: {
        Error: 'ValidationError',
        Cause: JSON.stringify({ errorType: 'ValidationError', errorMessage: 'label: has one class only' }),
      },
    };
    const result = await finishTraining(event, finishDeps());

    expect(result).toEqual({
      outcome: 'failed',
      runId: prepared.runId,
      error: 'ValidationError: label: has one class only',
    });
    expect(await tracking.getRun(prepared.runId)).toMatchObject({
      status: 'FAILED',
      reason: 'ValidationError: label: has one class only',
      tags: { outcome: 'failed' },
    });
    expect(await state.getLease(model.name)).toBeUndefined();
    const received = await receiveAll(queue);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      detailType: EVENT_DETAIL_TYPE.trainingFailed,
      detail: {
        model: model.name,
        runId: prepared.runId,
        execution: prepared.lease.holder,
        outcome: 'failed',
        trigger: { kind: 'schedule' },
        datasetHash: prepared.dataset.hash,
        error: 'ValidationError: label: has one class only',
      },
    });
    expect(await state.getResult(model.name, prepared.dataset.hash, prepared.fingerprint)).toBeUndefined();
  });

  it('records a rejection for reuse, ends the run FINISHED with its reasons, and takes a retry', async () => {
    const model = trainedModel();
    const queue = await eventsQueue(model.name);
    const prepared = trained(await prepareTraining(prepareEvent(model), prepareDeps([model])));
    const event = {
      model: model.name,
      outcome: 'rejected' as const,
      runId: prepared.runId,
      execution: prepared.lease.holder,
      lease: prepared.lease,
      dataset: prepared.dataset,
      fingerprint: prepared.fingerprint,
      reasons: ['rocAuc 0.61 < 0.8', 'does not beat champion v2'],
    };
    await finishTraining(event, finishDeps());
    const retried = await finishTraining(event, finishDeps());

    expect(retried).toEqual({ outcome: 'rejected', runId: prepared.runId, reasons: event.reasons });
    expect(await tracking.getRun(prepared.runId)).toMatchObject({
      status: 'FINISHED',
      tags: { outcome: 'rejected', reasons: 'rocAuc 0.61 < 0.8; does not beat champion v2' },
    });
    expect(await state.getResult(model.name, prepared.dataset.hash, prepared.fingerprint)).toMatchObject({
      outcome: 'rejected',
      runId: prepared.runId,
      reasons: event.reasons,
    });
    const received = await receiveAll(queue);
    expect(received.map((e) => e.detailType)).toEqual([
      EVENT_DETAIL_TYPE.trainingRejected,
      EVENT_DETAIL_TYPE.trainingRejected,
    ]);
    expect(received[0]?.detail).toMatchObject({ outcome: 'rejected', reasons: event.reasons });
  });

  it('emits TrainingSucceeded with the registered version', async () => {
    const model = trainedModel();
    const queue = await eventsQueue(model.name);
    const prepared = trained(await prepareTraining(prepareEvent(model), prepareDeps([model])));
    await finishTraining(
      {
        model: model.name,
        outcome: 'succeeded',
        runId: prepared.runId,
        execution: prepared.lease.holder,
        lease: prepared.lease,
        dataset: prepared.dataset,
        fingerprint: prepared.fingerprint,
        version: 7,
      },
      finishDeps(),
    );
    const received = await receiveAll(queue);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      detailType: EVENT_DETAIL_TYPE.trainingSucceeded,
      detail: { model: model.name, outcome: 'succeeded', version: 7, runId: prepared.runId },
    });
    expect(await tracking.getRun(prepared.runId)).toMatchObject({
      status: 'FINISHED',
      tags: { version: '7' },
    });
  });

  it('ends the run of an execution whose Prepare failed, given no runId (what a Catch has)', async () => {
    const model = trainedModel();
    const event = prepareEvent(model, { input: { asOf: new Date(T0 - 20 * DAY).toISOString() } });
    const caught = (await rejection(prepareTraining(event, prepareDeps([model])))) as ValidationError;
    const result = await finishTraining(
      {
        model: model.name,
        outcome: 'failed',
        runId: '',
        execution: event.execution,
        error: {
          Error: caught.name,
          Cause: JSON.stringify({ errorType: caught.name, errorMessage: caught.message }),
        },
      },
      finishDeps(),
    );
    expect(result.runId).toBe(trainingRunId(event.execution));
    expect(await tracking.getRun(result.runId)).toMatchObject({
      status: 'FAILED',
      reason: expect.stringMatching(/^ValidationError: windowDays: .*no rows of outcome/),
    });
  });

  it('still emits TrainingFailed when Prepare failed before the run existed', async () => {
    const model = trainedModel();
    const queue = await eventsQueue(model.name);
    const exec = execution(model.name);
    const result = await finishTraining(
      {
        model: model.name,
        outcome: 'failed',
        runId: trainingRunId(exec),
        execution: exec,
        error: { Error: 'NotFoundError', Cause: 'model not found' },
      },
      finishDeps(),
    );
    expect(result.error).toBe('NotFoundError: model not found');
    expect((await receiveAll(queue)).map((e) => e.detailType)).toEqual([EVENT_DETAIL_TYPE.trainingFailed]);
  });

  it('throws when EventBridge refuses the event (FailedEntryCount > 0)', async () => {
    const model = trainedModel();
    const prepared = trained(await prepareTraining(prepareEvent(model), prepareDeps([model])));
    const refusing = {
      send: async (_command: PutEventsCommand): Promise<PutEventsCommandOutput> => ({
        FailedEntryCount: 1,
        Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }],
        $metadata: {},
      }),
    };
    const error = await rejection(
      finishTraining(
        {
          model: model.name,
          outcome: 'succeeded',
          runId: prepared.runId,
          execution: prepared.lease.holder,
          version: 1,
        },
        finishDeps({ eventBridge: refusing }),
      ),
    );
    expect(error).toBeInstanceOf(DependencyError);
    expect(error.message).toContain('InternalFailure');
  });
});
