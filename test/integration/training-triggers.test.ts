import { randomUUID } from 'node:crypto';
import { TestEventPatternCommand } from '@aws-sdk/client-eventbridge';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { defineFeatureView, type FeatureViewInput } from '../../lambdas/feature-store/feature-view.js';
import { ingestBatch, ingestionLogKey } from '../../lambdas/feature-store/ingest.js';
import { clients, createDocumentClient } from '../../lambdas/shared/clients.js';
import { CorruptDataError, ValidationError } from '../../lambdas/shared/errors.js';
import {
  ingestionManifestKey,
  landingViewPrefix,
  retrainingAlarmName,
  TRACKING_ITEM,
  trainingPk,
} from '../../lambdas/shared/layout.js';
import { S3ObjectStore } from '../../lambdas/shared/object-store.js';
import type { TrainingPipelineInput } from '../../lambdas/training/pipeline/contract.js';
import {
  type CountedBatch,
  countIngestedBatch,
  type Launch,
  NewDataCounter,
  type PipelineStarter,
  StepFunctionsStarter,
} from '../../lambdas/training/pipeline/new-data.js';
import {
  driftAlarmPattern,
  type EventPatternJson,
  newDataPattern,
} from '../../lambdas/training/pipeline/triggers.js';
import { alarmStateChange, CLOUDWATCH_ALARM_STATE_CHANGE, objectCreated } from '../fixtures/aws-events.js';
import { testFeatureViews } from '../fixtures/feature-views.js';
import { createKeyedTable } from '../support/tables.js';

async function matches(pattern: EventPatternJson, event: unknown): Promise<boolean> {
  const { Result } = await clients
    .eventbridge()
    .send(
      new TestEventPatternCommand({ EventPattern: JSON.stringify(pattern), Event: JSON.stringify(event) }),
    );
  return Result === true;
}

describe('the drift rule pattern, against the documented alarm state-change event', () => {
  const pattern = driftAlarmPattern('ServerlessMlops', 'churn');

  it("matches one of the model's retraining alarms entering ALARM", async () => {
    expect(
      await matches(pattern, alarmStateChange(retrainingAlarmName('ServerlessMlops', 'churn', 'psi'))),
    ).toBe(true);
  });

  it("does not match churn-v2's alarm, another stack's, the model's alarm returning to OK, or an unrelated alarm", async () => {
    expect(
      await matches(pattern, alarmStateChange(retrainingAlarmName('ServerlessMlops', 'churn-v2', 'psi'))),
    ).toBe(false);
    expect(await matches(pattern, alarmStateChange(retrainingAlarmName('Staging', 'churn', 'psi')))).toBe(
      false,
    );
    expect(
      await matches(pattern, alarmStateChange(retrainingAlarmName('ServerlessMlops', 'churn', 'psi'), 'OK')),
    ).toBe(false);
    expect(await matches(pattern, CLOUDWATCH_ALARM_STATE_CHANGE)).toBe(false);
  });
});

describe("the emulator's TestEventPattern", () => {
  it('refuses an event without the envelope AWS requires, as AWS does', async () => {
    const { id: _id, ...withoutId } = CLOUDWATCH_ALARM_STATE_CHANGE;
    await expect(matches(driftAlarmPattern('ServerlessMlops', 'churn'), withoutId)).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });
});

describe('the new-data rule pattern, against the documented object-created event', () => {
  const pattern = newDataPattern('offline-bucket', ['customer', 'outcome']);
  const logKey = (view: string) => ingestionLogKey(view, Date.UTC(2026, 10, 20), 'b1');

  it('matches an ingestion-log entry of a watched view in the offline bucket', async () => {
    expect(await matches(pattern, objectCreated('offline-bucket', logKey('customer')))).toBe(true);
    expect(await matches(pattern, objectCreated('offline-bucket', logKey('outcome')))).toBe(true);
  });

  it('does not match another view, another prefix (manifest, landing) or another bucket', async () => {
    expect(await matches(pattern, objectCreated('offline-bucket', logKey('merchant')))).toBe(false);
    expect(
      await matches(pattern, objectCreated('offline-bucket', ingestionManifestKey('customer', 'b1'))),
    ).toBe(false);
    expect(
      await matches(pattern, objectCreated('offline-bucket', `${landingViewPrefix('customer')}b1.jsonl`)),
    ).toBe(false);
    expect(await matches(pattern, objectCreated('other-bucket', logKey('customer')))).toBe(false);
  });
});

let tableName: string;

beforeAll(async () => {
  tableName = `trig-${randomUUID()}`;
  await createKeyedTable(tableName, TRACKING_ITEM);
});

/** A model of its own, with its own state machine (Pass) on the emulator's Step Functions. */
async function freshModel(
  wrap?: (starter: PipelineStarter) => PipelineStarter,
  documents: DynamoDBDocumentClient = clients.documents(),
) {
  const model = `m${randomUUID().slice(0, 8)}`;
  const { stateMachineArn } = await clients.sfn().send(
    new CreateStateMachineCommand({
      name: `pipeline-${model}`,
      roleArn: 'arn:aws:iam::123456789012:role/training-pipeline',
      definition: JSON.stringify({ StartAt: 'Train', States: { Train: { Type: 'Pass', End: true } } }),
    }),
  );
  if (stateMachineArn === undefined) throw new Error('no state machine ARN');
  const starter = new StepFunctionsStarter(clients.sfn(), { [model]: stateMachineArn });
  const counter = new NewDataCounter(documents, tableName, wrap ? wrap(starter) : starter);
  const arns = async () => {
    const { executions = [] } = await clients.sfn().send(new ListExecutionsCommand({ stateMachineArn }));
    return executions.map((e) => e.executionArn ?? '');
  };
  const executions = async () => {
    const { executions = [] } = await clients.sfn().send(new ListExecutionsCommand({ stateMachineArn }));
    return Promise.all(
      executions.map(async (e) => {
        const described = await clients
          .sfn()
          .send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
        return { name: e.name, input: JSON.parse(described.input ?? '{}') as TrainingPipelineInput };
      }),
    );
  };
  return { model, counter, executions, arns };
}

let batchNo = 0;
const batch = (rows: number, at = '2026-11-20T10:00:00.000Z'): CountedBatch => ({
  manifestKey: ingestionManifestKey('customer', `b${++batchNo}`),
  rows,
  ingestedAt: at,
});

describe('NewDataCounter', () => {
  it('adds the rows of each batch while below the threshold, and starts nothing', async () => {
    const { model, counter, executions } = await freshModel();
    for (const rows of [10, 20, 30])
      expect(await counter.count(model, batch(rows), 100)).toEqual({
        outcome: 'below',
        rows: expect.any(Number),
        threshold: 100,
      });
    expect((await counter.state(model)).rows).toBe(60);
    expect(await executions()).toEqual([]);
  });

  it('counts a redelivered batch once', async () => {
    const { model, counter } = await freshModel();
    const once = batch(40);
    expect(await counter.add(model, once)).toBe(true);
    expect(await counter.add(model, once)).toBe(false);
    expect(await counter.count(model, once, 100)).toMatchObject({ outcome: 'below', rows: 40 });
    expect((await counter.state(model)).rows).toBe(40);
  });

  it('starts one execution when the count reaches the threshold, with the rows and window, and zeroes the count', async () => {
    const { model, counter, executions } = await freshModel();
    await counter.count(model, batch(60, '2026-11-20T10:00:00.000Z'), 100);
    const crossing = batch(50, '2026-11-20T11:00:00.000Z');
    const result = await counter.count(model, crossing, 100);
    expect(result).toMatchObject({ outcome: 'started', existed: false });
    const started = await executions();
    expect(started).toHaveLength(1);
    expect(started[0]?.input.trigger).toMatchObject({
      kind: 'new-data',
      rows: 110,
      window: { start: '2026-11-20T10:00:00.000Z', end: '2026-11-20T11:00:00.000Z' },
    });
    expect(await counter.state(model)).toMatchObject({ rows: 0, generation: 1 });
    expect((await counter.state(model)).launch).toBeUndefined();
    // The crossing batch delivered again: counted already, nothing to start.
    expect(await counter.count(model, crossing, 100)).toMatchObject({ outcome: 'below', rows: 0 });
    expect(await executions()).toHaveLength(1);
  });

  it('starts again under a new name once the next generation reaches the threshold', async () => {
    const { model, counter, executions } = await freshModel();
    const first = await counter.count(model, batch(100), 100);
    const second = await counter.count(model, batch(120), 100);
    expect(first).toMatchObject({ outcome: 'started' });
    expect(second).toMatchObject({ outcome: 'started' });
    const names = (await executions()).map((e) => e.name).sort();
    expect(names).toHaveLength(2);
    expect(names[0]).toMatch(/^new-data-0-[0-9a-f]{16}$/);
    expect(names[1]).toMatch(/^new-data-1-[0-9a-f]{16}$/);
  });

  it('starts exactly once when concurrent batches cross the threshold together, and loses no row', async () => {
    const { model, counter, executions } = await freshModel();
    const results = await Promise.all(Array.from({ length: 10 }, () => counter.count(model, batch(15), 100)));
    const started = await executions();
    expect(started).toHaveLength(1);
    expect(
      new Set(
        results.filter((r) => r.outcome === 'started').map((r) => r.outcome === 'started' && r.execution),
      ),
    ).toEqual(new Set([started[0]?.name]));
    const consumed = started[0]?.input.trigger?.rows ?? 0;
    expect(consumed).toBeGreaterThanOrEqual(100);
    expect(consumed + (await counter.state(model)).rows).toBe(150);
  });

  it('keeps a batch counted between reading the count and claiming it (the claim reads again)', async () => {
    // A document client whose first claim is preceded by another batch's count, as a concurrent
    // delivery would do between this settle's read and its conditional claim.
    const documents = createDocumentClient();
    let interleave: (() => Promise<unknown>) | undefined;
    documents.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as { UpdateExpression?: string };
        const before = interleave;
        if (before !== undefined && input.UpdateExpression?.includes('#launch = :launch')) {
          interleave = undefined;
          await before();
        }
        return next(args);
      },
      { step: 'initialize', name: 'interleaveBatch' },
    );
    const { model, counter, executions } = await freshModel(undefined, documents);
    await counter.add(model, batch(100));
    interleave = () => counter.add(model, batch(30));
    expect(await counter.settle(model, 100)).toMatchObject({ outcome: 'started' });
    const [execution] = await executions();
    expect((execution?.input.trigger?.rows ?? 0) + (await counter.state(model)).rows).toBe(130);
    expect(interleave).toBeUndefined();
  });

  it('makes a start that failed after its claim when the batch is delivered again', async () => {
    let failNext = true;
    const { model, counter, executions } = await freshModel((starter) => ({
      async start(m: string, launch: Launch) {
        if (failNext) {
          failNext = false;
          throw new Error('injected: Step Functions unreachable');
        }
        return starter.start(m, launch);
      },
    }));
    const crossing = batch(100);
    await expect(counter.count(model, crossing, 100)).rejects.toThrow('injected');
    expect((await counter.state(model)).launch).toBeDefined();
    expect(await executions()).toEqual([]);
    expect(await counter.count(model, crossing, 100)).toMatchObject({ outcome: 'started', existed: false });
    expect(await executions()).toHaveLength(1);
    expect((await counter.state(model)).launch).toBeUndefined();
  });

  it('takes an existing execution of the same name as started (a crash between start and bookkeeping)', async () => {
    let crashAfterStart = true;
    let executionArns: () => Promise<string[]> = async () => [];
    const { model, counter, executions, arns } = await freshModel((starter) => ({
      async start(m: string, launch: Launch) {
        const result = await starter.start(m, launch);
        if (crashAfterStart) {
          crashAfterStart = false;
          // Finished before the retry: Step Functions then refuses the name (ExecutionAlreadyExists).
          const [execution] = await executionArns();
          await clients.sfn().send(new StopExecutionCommand({ executionArn: execution }));
          throw new Error('injected: crashed after StartExecution');
        }
        return result;
      },
    }));
    executionArns = arns;
    const crossing = batch(100);
    await expect(counter.count(model, crossing, 100)).rejects.toThrow('injected');
    expect(await counter.count(model, crossing, 100)).toMatchObject({ outcome: 'started', existed: true });
    expect(await executions()).toHaveLength(1);
    expect((await counter.state(model)).launch).toBeUndefined();
  });

  it('reset zeroes the count into the next generation', async () => {
    const { model, counter, executions } = await freshModel();
    await counter.count(model, batch(80), 100);
    expect(await counter.reset(model)).toBe(true);
    expect(await counter.state(model)).toMatchObject({ rows: 0, generation: 1 });
    expect(await counter.count(model, batch(30), 100)).toMatchObject({ outcome: 'below', rows: 30 });
    expect(await executions()).toEqual([]);
  });

  it('refuses a negative row count, writing nothing', async () => {
    const { model, counter } = await freshModel();
    await expect(counter.add(model, batch(-1))).rejects.toThrow(ValidationError);
    const { Items = [] } = await clients.documents().send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': trainingPk(model) },
        ConsistentRead: true,
      }),
    );
    expect(Items).toEqual([]);
  });
});

describe('countIngestedBatch', () => {
  const view = defineFeatureView(testFeatureViews[0] as FeatureViewInput);
  let store: S3ObjectStore;

  beforeAll(async () => {
    const bucket = `trig-${randomUUID()}`;
    await clients.s3().send(new CreateBucketCommand({ Bucket: bucket }));
    store = new S3ObjectStore(clients.s3(), bucket);
  });

  const ingest = (batchId: string) =>
    ingestBatch(
      { view: view.name, batchId, format: 'jsonl' },
      new TextEncoder().encode(
        [
          '{"customer_id":"c1","event_time":"2026-11-01T10:00:00Z","orders":3,"spend":12.5}',
          '{"customer_id":"c2","event_time":"2026-11-02T10:00:00Z","orders":1,"spend":null}',
          '{"customer_id":"c3","event_time":"2026-11-02T10:00:00Z","orders":-1,"spend":1}',
        ].join('\n'),
      ),
      { store, views: new Map([[view.name, view]]), now: () => new Date('2026-11-20T00:00:00Z') },
    );

  it("counts an ingested batch's accepted rows for each model watching its view", async () => {
    const a = await freshModel();
    const b = await freshModel();
    const result = await ingest('count-1');
    expect(result.accepted).toBe(2);
    const outcomes = await countIngestedBatch(result.logKey as string, {
      store,
      counter: a.counter,
      watches: [
        { model: a.model, views: [view.name], rows: 2 },
        { model: b.model, views: ['merchant'], rows: 2 },
      ],
    });
    expect(outcomes).toEqual([{ model: a.model, result: expect.objectContaining({ outcome: 'started' }) }]);
    const [execution] = await a.executions();
    expect(execution?.input.trigger).toMatchObject({
      kind: 'new-data',
      rows: 2,
      window: { start: '2026-11-20T00:00:00.000Z', end: '2026-11-20T00:00:00.000Z' },
    });
    expect((await b.counter.state(b.model)).rows).toBe(0);
  });

  it('fails on a log entry whose manifest is missing', async () => {
    const { model, counter } = await freshModel();
    const orphan = ingestionLogKey(view.name, Date.UTC(2026, 10, 20), 'never-ingested');
    await expect(
      countIngestedBatch(orphan, { store, counter, watches: [{ model, views: [view.name], rows: 1 }] }),
    ).rejects.toThrow(CorruptDataError);
    expect((await counter.state(model)).rows).toBe(0);
  });

  it('refuses a key that is not an ingestion-log entry', async () => {
    const { model, counter } = await freshModel();
    await expect(
      countIngestedBatch(ingestionManifestKey(view.name, 'count-1'), {
        store,
        counter,
        watches: [{ model, views: [view.name], rows: 1 }],
      }),
    ).rejects.toThrow(ValidationError);
  });
});
