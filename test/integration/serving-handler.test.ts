/**
 * The inference handler in-process against the emulator: its module imported with a function's
 * environment (a fresh module instance per "Lambda version", as each cold start is), the feature
 * views a bundle would carry given as the bundle's define would, requests as API Gateway sends them.
 */
import { randomUUID } from 'node:crypto';
import { CreateDeliveryStreamCommand } from '@aws-sdk/client-firehose';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { ingestBatch } from '../../lambdas/feature-store/ingest.js';
import { materializeView } from '../../lambdas/feature-store/materialize.js';
import { OnlineStore } from '../../lambdas/feature-store/online-store.js';
import { ModelAliasStore } from '../../lambdas/registry/alias-store.js';
import { putModelArtifact } from '../../lambdas/registry/artifact-store.js';
import { ModelRegistryStore } from '../../lambdas/registry/registry-store.js';
import type { CaptureRecord, ErrorBody, PredictResponse } from '../../lambdas/serving/contract.js';
import { requestRef } from '../../lambdas/serving/request-ids.js';
import { clients } from '../../lambdas/shared/clients.js';
import {
  API_ROUTES,
  captureErrorFirehosePrefix,
  captureFirehosePrefix,
  capturePrefix,
  ENV,
  modelPk,
  versionSk,
} from '../../lambdas/shared/layout.js';
import { SERVING_METRICS } from '../../lambdas/shared/metric-names.js';
import { S3ObjectStore } from '../../lambdas/shared/object-store.js';
import { readModelContract } from '../../lambdas/training/model-contract.js';
import { writeOnnxModel } from '../../lambdas/training/onnx/writer.js';
import { loadAssembly } from '../../local/assembly.js';
import { startLocalStack } from '../../local/local-stack.js';
import {
  registerServedModel,
  servedModelBytes,
  servedViewMap,
  servedViews,
} from '../support/served-model.js';

const MIN = 60_000;
const MODEL = `served-${Date.now().toString(36)}`;
const captureBucket = `capture-${randomUUID()}`;
let registry: ModelRegistryStore;
let registryTable: string;
let artifactBucket: string;
let onlineTable: string;
let stream: string;
let signingSecret: string;

type Handler = (event: unknown, context: unknown) => Promise<{ statusCode: number; body: string }>;

/** A cold start: the handler module loaded afresh with the function's environment. */
async function coldStart(env: Record<string, string>): Promise<Handler> {
  const base = {
    [ENV.modelName]: MODEL,
    [ENV.modelVersion]: '',
    [ENV.registryTable]: registryTable,
    [ENV.artifactBucket]: artifactBucket,
    [ENV.onlineTable]: onlineTable,
    [ENV.captureStream]: stream,
    [ENV.captureSampleRate]: '1',
    [ENV.maxBatchInstances]: '100',
    [ENV.metricsNamespace]: 'ServingTest',
    [ENV.serviceName]: 'inference',
    [ENV.requestSigningSecret]: signingSecret,
  };
  for (const [name, value] of Object.entries({ ...base, ...env })) vi.stubEnv(name, value);
  vi.resetModules();
  const module = await import('../../lambdas/predict/handler.js');
  return module.handler as unknown as Handler;
}

const context = () => ({
  awsRequestId: randomUUID(),
  functionName: `predict-${MODEL}`,
  functionVersion: '1',
  invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:predict-${MODEL}:live`,
  memoryLimitInMB: '1769',
  logGroupName: '/aws/lambda/predict',
  logStreamName: 'local',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 30_000,
});

const predictEvent = (body: unknown) => ({
  httpMethod: 'POST',
  resource: API_ROUTES.predict,
  path: `/v1/models/${MODEL}/predict`,
  pathParameters: { model: MODEL },
  headers: { 'Content-Type': 'application/json' },
  isBase64Encoded: false,
  body: JSON.stringify(body),
});

async function predict(handler: Handler, body: unknown) {
  const result = await handler(predictEvent(body), context());
  return { status: result.statusCode, body: JSON.parse(result.body) as PredictResponse & ErrorBody };
}

/** Captured records of the model (every object under capture/<model>/). */
async function capturedRecords(): Promise<CaptureRecord[]> {
  const { Contents = [] } = await clients
    .s3()
    .send(new ListObjectsV2Command({ Bucket: captureBucket, Prefix: capturePrefix(MODEL) }));
  const records: CaptureRecord[] = [];
  for (const { Key } of Contents) {
    const object = await clients.s3().send(new GetObjectCommand({ Bucket: captureBucket, Key }));
    const text = (await object.Body?.transformToString()) ?? '';
    for (const line of text.split('\n').filter((l) => l !== '')) records.push(JSON.parse(line));
  }
  return records;
}

beforeAll(async () => {
  const local = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'serve-handler-' });
  registryTable = local.resourceName('ModelRegistryTable');
  artifactBucket = local.resourceName('ModelRegistryArtifacts');
  onlineTable = local.resourceName('FeatureStoreOnline');
  signingSecret = local.resourceName('InferenceRequestSigningKey');
  registry = new ModelRegistryStore({
    documents: clients.documents(),
    s3: clients.s3(),
    tableName: registryTable,
    artifactBucket,
  });
  // Versions: 1 the champion, 2 with its artifact rewritten, 3 with its record's digest changed,
  // 4 a valid ONNX model without the mlops contract (registered from outside mlops training).
  await registerServedModel(registry, artifactBucket, MODEL);
  const v2 = await registerServedModel(registry, artifactBucket, MODEL, servedModelBytes(21));
  await clients.s3().send(
    new PutObjectCommand({
      Bucket: artifactBucket,
      Key: v2.artifacts.model.key,
      Body: servedModelBytes(22),
    }),
  );
  await registerServedModel(registry, artifactBucket, MODEL, servedModelBytes(23));
  await clients.documents().send(
    new UpdateCommand({
      TableName: registryTable,
      Key: { pk: modelPk(MODEL), sk: versionSk(3) },
      UpdateExpression: 'SET artifacts.model.sha256 = :d, artifact.sha256 = :d',
      ExpressionAttributeValues: { ':d': 'e'.repeat(64) },
    }),
  );
  const contract = readModelContract(servedModelBytes());
  const outside = await putModelArtifact(
    clients.s3(),
    artifactBucket,
    MODEL,
    writeOnnxModel({
      graph: {
        name: 'outside',
        inputs: [{ name: 'x', elemType: 'double', shape: ['N', 4] }],
        outputs: [{ name: 'y', elemType: 'double', shape: ['N', 4] }],
        nodes: [{ opType: 'Identity', inputs: ['x'], outputs: ['y'] }],
      },
      opsetImports: [{ domain: '', version: 17 }],
    }),
  );
  await registry.registerModelVersion({
    modelName: MODEL,
    artifact: { key: outside.key, sha256: outside.sha256 },
    signature: contract.signature,
    output: contract.output,
    lineage: {},
  });
  await new ModelAliasStore({ documents: clients.documents(), tableName: registryTable }).set({
    modelName: MODEL,
    alias: 'champion',
    version: 1,
    expectedVersion: null,
  });

  // Online features: customer c1 and account 7, materialized a few minutes ago.
  const now = Date.now();
  const store = new S3ObjectStore(clients.s3(), local.resourceName('FeatureStoreOffline'));
  const online = new OnlineStore(clients.documents(), onlineTable);
  const rows = {
    serve_customer: [{ customer_id: 'c1', event_time: now - 10 * MIN, x1: 1, x2: -1, segment: 'b' }],
    serve_account: [{ account_id: 7, event_time: now - 5 * MIN, balance: 10 }],
  };
  for (const view of servedViews) {
    await ingestBatch(
      { view: view.name, batchId: `handler-${view.name}`, format: 'jsonl' },
      new TextEncoder().encode(rows[view.name as keyof typeof rows].map((r) => JSON.stringify(r)).join('\n')),
      { store, views: servedViewMap, now: () => new Date(now - 2 * MIN) },
    );
    await materializeView(view, { store, online, now: () => now - MIN });
  }

  // The capture stream, as the construct makes it.
  await clients.s3().send(new CreateBucketCommand({ Bucket: captureBucket }));
  stream = `capture-${MODEL}`.slice(0, 64);
  await clients.firehose().send(
    new CreateDeliveryStreamCommand({
      DeliveryStreamName: stream,
      ExtendedS3DestinationConfiguration: {
        BucketARN: `arn:aws:s3:::${captureBucket}`,
        RoleARN: 'arn:aws:iam::000000000000:role/firehose',
        Prefix: captureFirehosePrefix(MODEL),
        ErrorOutputPrefix: captureErrorFirehosePrefix(MODEL),
      },
    }),
  );
  // The feature views a bundle carries (esbuild define in a bundle; a global here).
  (globalThis as { __MLOPS_FEATURE_VIEWS__?: unknown }).__MLOPS_FEATURE_VIEWS__ = servedViews;
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('the inference handler on the emulator', () => {
  it('serves the version it is pinned to: a raw-feature request, an entity-key request with feature ages, both captured', async () => {
    const handler = await coldStart({ [ENV.modelVersion]: '1' });
    const raw = await predict(handler, { features: { x1: 1, x2: -1, segment: 'b', balance: 10 } });
    expect(raw.status).toBe(200);
    expect(raw.body).toMatchObject({ model: MODEL, version: 1, variant: 'default' });
    expect(raw.body.predictions).toHaveLength(1);
    expect(raw.body.predictions[0]).toMatchObject({ label: 1 });
    expect(raw.body.predictions[0]?.score).toBeGreaterThan(0.9);
    expect(raw.body.predictions[0]?.featureAges).toBeUndefined();

    const byEntity = await predict(handler, { entity: { customer_id: 'c1', account_id: 7 } });
    expect(byEntity.status).toBe(200);
    // The stored values are the raw request's: the same answer.
    expect(byEntity.body.predictions[0]?.score).toBeCloseTo(raw.body.predictions[0]?.score as number, 12);
    const ages = byEntity.body.predictions[0]?.featureAges ?? {};
    expect(Object.keys(ages).sort()).toEqual(['balance', 'segment', 'x1', 'x2']);
    expect(ages.x1).toBeGreaterThanOrEqual(600);
    expect(ages.balance).toBeGreaterThanOrEqual(300);
    expect(ages.balance).toBeLessThan(600);

    const unknown = await predict(handler, { entity: { customer_id: 'nobody' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: 'UnknownEntity', instance: 0 });

    // Capture at rate 1: every prediction of both successful requests, under capture/<model>/.
    let records: CaptureRecord[] = [];
    for (let i = 0; i < 50 && records.length < 2; i++) {
      records = await capturedRecords();
      if (records.length < 2) await new Promise((r) => setTimeout(r, 100));
    }
    // Capture names each request by its short reference (the id's first and last fields).
    expect(records.map((r) => r.requestId).sort()).toEqual(
      [requestRef(raw.body.requestId), requestRef(byEntity.body.requestId)].sort(),
    );
    const entityRecord = records.find((r) => r.requestId === requestRef(byEntity.body.requestId));
    expect(entityRecord).toMatchObject({
      kind: 'prediction',
      model: MODEL,
      version: 1,
      variant: 'default',
      features: { x1: 1, x2: -1, segment: 'b', balance: 10 },
    });
  });

  it.each([
    [2, 'its artifact was rewritten after registration'],
    [3, 'its record is pinned to another digest'],
  ])('refuses to serve version %i (%s): 503 ModelIntegrityError and the metric', async (version) => {
    const lines: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    let handler: Handler;
    try {
      handler = await coldStart({ [ENV.modelVersion]: String(version) });
    } finally {
      write.mockRestore();
    }
    const emf = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.includes(SERVING_METRICS.integrityFailures.name));
    expect(emf).toHaveLength(1);
    expect(JSON.parse(emf[0] as string)).toMatchObject({
      [SERVING_METRICS.integrityFailures.name]: 1,
      model: MODEL,
    });
    for (let i = 0; i < 2; i++) {
      const answer = await predict(handler, { features: { x1: 1, x2: -1, segment: 'b', balance: 10 } });
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe('ModelIntegrityError');
    }
  });

  it('signs request ids with the secret the stack generated: its feedback is taken, a made-up one refused', async () => {
    const handler = await coldStart({ [ENV.modelVersion]: '1' });
    const answered = await predict(handler, { features: { x1: 1, x2: -1, segment: 'b', balance: 10 } });
    expect(answered.status).toBe(200);
    const feedback = (requestId: string) =>
      handler(
        {
          ...predictEvent({ requestId, outcome: 1 }),
          resource: API_ROUTES.feedback,
          path: `/v1/models/${MODEL}/feedback`,
        },
        context(),
      );
    const taken = await feedback(answered.body.requestId);
    expect(taken.statusCode, taken.body).toBe(202);
    const refused = await feedback(randomUUID());
    expect(refused.statusCode).toBe(404);
    expect((JSON.parse(refused.body) as ErrorBody).error).toMatchObject({
      code: 'UnknownRequest',
      field: 'requestId',
    });
    // Another instance (a cold start reading the same secret) verifies it too.
    const other = await coldStart({ [ENV.modelVersion]: '1' });
    const again = await other(
      {
        ...predictEvent({ requestId: answered.body.requestId, outcome: 0 }),
        resource: API_ROUTES.feedback,
        path: `/v1/models/${MODEL}/feedback`,
      },
      context(),
    );
    expect(again.statusCode, again.body).toBe(202);
  });

  it('answers 502, never an unsigned id, while its request-signing secret cannot be read', async () => {
    const lines: string[] = [];
    const quiet = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    let handler: Handler;
    let answer: Awaited<ReturnType<typeof predict>>;
    try {
      handler = await coldStart({
        [ENV.modelVersion]: '1',
        [ENV.requestSigningSecret]: `${signingSecret}-deleted`,
      });
      answer = await predict(handler, { features: { x1: 1, x2: -1, segment: 'b', balance: 10 } });
    } finally {
      quiet.mockRestore();
    }
    // The failed read is counted (the signing-key alarm watches it).
    const emf = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.includes(SERVING_METRICS.signingKeyFailures.name));
    expect(emf.length).toBeGreaterThan(0);
    expect(JSON.parse(emf[0] as string)).toMatchObject({
      [SERVING_METRICS.signingKeyFailures.name]: 1,
      model: MODEL,
    });
    expect(answer.status).toBe(502);
    expect(answer.body.error.code).toBe('DependencyError');
    expect(answer.body.predictions).toBeUndefined();
  });

  it('unpinned, serves nothing (never the champion): 503 ModelNotDeployed saying how to deploy', async () => {
    const handler = await coldStart({ [ENV.modelVersion]: '' });
    const answer = await predict(handler, { features: { x1: 1, x2: -1, segment: 'b', balance: 10 } });
    expect(answer.status).toBe(503);
    expect(answer.body.error).toMatchObject({
      code: 'ModelNotDeployed',
      message: 'no model version is deployed to this function; run `mlops serve deploy <model> [version]`',
    });
  });

  it('refuses a model without the mlops contract as 503 ModelUnsupported, without the integrity metric', async () => {
    const lines: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    let handler: Handler;
    try {
      handler = await coldStart({ [ENV.modelVersion]: '4' });
    } finally {
      write.mockRestore();
    }
    expect(lines.join('')).not.toContain(SERVING_METRICS.integrityFailures.name);
    const answer = await predict(handler, { features: { x1: 1, x2: -1, segment: 'b', balance: 10 } });
    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('ModelUnsupported');
  });

  it('answers ModelNotDeployed for a version the registry does not have', async () => {
    const handler = await coldStart({ [ENV.modelVersion]: '99' });
    const answer = await predict(handler, { features: { x1: 1, x2: -1, segment: 'b', balance: 10 } });
    expect(answer.status).toBe(503);
    expect(answer.body.error.code).toBe('ModelNotDeployed');
  });
});
