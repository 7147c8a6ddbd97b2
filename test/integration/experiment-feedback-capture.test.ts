/**
 * Raw feedback events of an experiment in S3 (issue 12, item 3): a feedback counted for an A/B
 * experiment lands in the capture (Firehose → `capture/<model>/…`) with its experimentId, unitId
 * and the unit's variant, and it is captured even when predictions are not sampled at all
 * (captureSampleRate 0). Against the emulator: the registry table (the real ExperimentStore and
 * experiment router), the Firehose stream and its bucket.
 */
import { randomUUID } from 'node:crypto';
import { CreateDeliveryStreamCommand } from '@aws-sdk/client-firehose';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { variantOf } from '../../lambdas/experiments/assignment.js';
import { ExperimentStore, experimentAllocation } from '../../lambdas/experiments/experiment-store.js';
import { firehoseCapture } from '../../lambdas/serving/capture.js';
import type {
  CaptureRecord,
  ErrorBody,
  FeedbackResponse,
  PredictResponse,
} from '../../lambdas/serving/contract.js';
import { experimentRouter } from '../../lambdas/serving/experiments.js';
import { createInferenceApp, type ProxyEvent } from '../../lambdas/serving/http.js';
import type { LoadedModel } from '../../lambdas/serving/ports.js';
import { requestRef } from '../../lambdas/serving/request-ids.js';
import { clients } from '../../lambdas/shared/clients.js';
import {
  API_ROUTES,
  captureErrorFirehosePrefix,
  captureFirehosePrefix,
  capturePrefix,
  modelPk,
  versionSk,
} from '../../lambdas/shared/layout.js';
import { createMetrics } from '../../lambdas/shared/metrics.js';
import { testRequestIds } from '../support/request-ids.js';
import { MemoryFeatureSource } from '../support/serving-fakes.js';
import { SERVING_ENTITY, servedModel, servingViews } from '../support/serving-model.js';
import { createRegistryTable } from '../support/tables.js';

const MODEL = `fb${randomUUID().slice(0, 8)}`;
const bucket = `capture-${randomUUID()}`;
const TABLE = `feedback-capture-${Date.now()}`;
let stream: string;
let store: ExperimentStore;
let control: LoadedModel;

beforeAll(async () => {
  await clients.s3().send(new CreateBucketCommand({ Bucket: bucket }));
  stream = `capture-${MODEL}`;
  await clients.firehose().send(
    new CreateDeliveryStreamCommand({
      DeliveryStreamName: stream,
      ExtendedS3DestinationConfiguration: {
        BucketARN: `arn:aws:s3:::${bucket}`,
        RoleARN: 'arn:aws:iam::000000000000:role/firehose',
        Prefix: captureFirehosePrefix(MODEL),
        ErrorOutputPrefix: captureErrorFirehosePrefix(MODEL),
      },
    }),
  );
  await createRegistryTable(TABLE);
  for (const [version, stage] of [
    [1, 'Production'],
    [2, 'Staging'],
  ] as const)
    await clients.documents().send(
      new PutCommand({
        TableName: TABLE,
        Item: { pk: modelPk(MODEL), sk: versionSk(version), modelName: MODEL, version, stage },
      }),
    );
  store = new ExperimentStore({ documents: clients.documents(), tableName: TABLE });
  ({ model: control } = await servedModel('binary', 'linear', 'churn'));
});

async function captured(): Promise<CaptureRecord[]> {
  const { Contents = [] } = await clients
    .s3()
    .send(new ListObjectsV2Command({ Bucket: bucket, Prefix: capturePrefix(MODEL) }));
  const records: CaptureRecord[] = [];
  for (const { Key } of Contents) {
    const object = await clients.s3().send(new GetObjectCommand({ Bucket: bucket, Key }));
    const text = (await object.Body?.transformToString()) ?? '';
    for (const line of text.split('\n').filter((l) => l !== '')) records.push(JSON.parse(line));
  }
  return records;
}

const event = (route: 'predict' | 'feedback', body: unknown): ProxyEvent => ({
  resource: API_ROUTES[route],
  path: API_ROUTES[route].replace('{model}', MODEL),
  httpMethod: 'POST',
  pathParameters: { model: MODEL },
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify(body),
  isBase64Encoded: false,
});

describe('experiment feedback in the capture (S3)', () => {
  it('lands with experimentId, unitId and variant, and is never sampled away', async () => {
    const experiment = await store.create({
      id: `${MODEL}-ab`,
      model: MODEL,
      control: 1,
      treatment: 2,
      allocation: 50,
      unitKey: 'userId',
      minimumDetectableEffect: 0.02,
      maxDurationDays: 14,
    });
    const servedControl = { ...control, version: 1 };
    const router = experimentRouter({
      controlVersion: () => 1,
      running: () => store.running(MODEL),
      load: async (version) => ({ ...control, version }),
      recordOutcome: (input, known) => store.recordOutcome(input, known),
      recordAssignments: (id, counts) => store.recordAssignments(id, counts),
    });
    await router.ready();
    const handle = createInferenceApp({
      modelName: MODEL,
      model: () => servedControl,
      features: new MemoryFeatureSource({ entity: SERVING_ENTITY, features: [], ttlMs: 1, entities: {} }),
      capture: firehoseCapture({ firehose: clients.firehose(), streamName: stream }),
      requestIds: testRequestIds(MODEL),
      metrics: createMetrics({ namespace: 'FeedbackCaptureTest', serviceName: 'inference' }),
      maxBatchInstances: 1000,
      // No prediction is captured: feedback must be all the same.
      captureSampleRate: 0,
      views: servingViews,
      experiments: router,
    });
    const predicted = await handle(
      event('predict', {
        instances: [{ unitId: 'user-7', features: { x1: 1.5, x2: 2, visits: 3, segment: 'a', vip: false } }],
      }),
      { awsRequestId: 'req-fb-1' },
    );
    expect(predicted.statusCode, predicted.body).toBe(200);
    const { requestId } = JSON.parse(predicted.body) as PredictResponse;

    const variant = variantOf(experiment.id, experimentAllocation(experiment), 'user-7');
    const answered = await handle(
      event('feedback', {
        requestId,
        outcome: true,
        experimentId: experiment.id,
        unitId: 'user-7',
        idempotencyKey: 'fb-1',
      }),
      { awsRequestId: 'req-fb-2' },
    );
    expect(answered.statusCode, answered.body).toBe(202);
    expect(JSON.parse(answered.body) as FeedbackResponse).toMatchObject({ counted: true, variant });

    const records = await captured();
    // The prediction was sampled away (rate 0); the feedback was not.
    expect(records.filter((r) => r.kind === 'prediction')).toEqual([]);
    const feedback = records.filter((r) => r.kind === 'feedback');
    expect(feedback).toHaveLength(1);
    expect(feedback[0]).toMatchObject({
      kind: 'feedback',
      requestId: requestRef(requestId),
      model: MODEL,
      outcome: true,
      idempotencyKey: 'fb-1',
      experimentId: experiment.id,
      unitId: 'user-7',
      variant,
    });
    expect((await store.counters(experiment.id)).find((c) => c.variant === variant)?.outcomes).toBe(1);

    // The same served instance again: without a key, with other keys, with another unit — never a
    // second count (the key is the served instance; another unit's variant must be the served one).
    const otherVariant = variant === 'control' ? 'treatment' : 'control';
    const otherUnit = Array.from({ length: 100 }, (_, i) => `user-${i}`).find(
      (u) => variantOf(experiment.id, experimentAllocation(experiment), u) === otherVariant,
    ) as string;
    const again = async (extra: Record<string, unknown>) => {
      const result = await handle(
        event('feedback', {
          requestId,
          outcome: true,
          experimentId: experiment.id,
          unitId: 'user-7',
          ...extra,
        }),
        { awsRequestId: randomUUID() },
      );
      return { status: result.statusCode, body: JSON.parse(result.body) as FeedbackResponse & ErrorBody };
    };
    expect(await again({})).toMatchObject({ status: 202, body: { counted: false } });
    expect(await again({ idempotencyKey: 'fb-2' })).toMatchObject({ status: 202, body: { counted: false } });
    expect(await again({ idempotencyKey: 'fb-3', unitId: otherUnit })).toMatchObject({
      status: 409,
      body: { error: { code: 'ExperimentConflict', field: 'unitId' } },
    });
    const totals = await store.counters(experiment.id);
    expect(totals.reduce((sum, c) => sum + c.outcomes, 0)).toBe(1);

    // A batch at the default limit: its id carries 1,000 variants, the count's key stays short.
    const big = await handle(
      event('predict', {
        instances: Array.from({ length: 1000 }, (_, i) => ({
          unitId: `big-${i}`,
          features: { x1: 1.5, x2: 2, visits: 3, segment: 'a', vip: false },
        })),
      }),
      { awsRequestId: randomUUID() },
    );
    expect(big.statusCode, big.body.slice(0, 300)).toBe(200);
    const bigId = (JSON.parse(big.body) as PredictResponse).requestId;
    expect(bigId.length).toBeGreaterThan(256);
    const last = await handle(
      event('feedback', {
        requestId: bigId,
        instance: 999,
        outcome: true,
        experimentId: experiment.id,
        unitId: 'big-999',
      }),
      { awsRequestId: randomUUID() },
    );
    expect(last.statusCode, last.body).toBe(202);
    expect(JSON.parse(last.body)).toMatchObject({ counted: true });
    const after = await store.counters(experiment.id);
    expect(after.reduce((sum, c) => sum + c.outcomes, 0)).toBe(2);
  });
});
