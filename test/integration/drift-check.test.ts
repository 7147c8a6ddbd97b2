/**
 * The drift check end to end on the emulator: the stack's real drift function (run in-process by
 * the local harness) reads a capture window that the test writes to the capture bucket, compares it
 * with the serving version's reference profile from the registry, stores the report (JSON, HTML,
 * latest pointer) and emits its metrics (EMF, forwarded to the emulator's CloudWatch as CloudWatch
 * Logs would): shifted capture → drift, metrics readable with GetMetricData; unshifted → no drift;
 * bad capture and a foreign profile → findings, not a crash.
 */
import { createHash } from 'node:crypto';
import { GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DriftReport } from '../../lambdas/drift/contract.js';
import { ModelAliasStore } from '../../lambdas/registry/alias-store.js';
import { ModelRegistryStore } from '../../lambdas/registry/registry-store.js';
import type { CaptureRecord } from '../../lambdas/serving/contract.js';
import { clients } from '../../lambdas/shared/clients.js';
import { CHAMPION_ALIAS, captureHourPrefix, driftReportLatestKey } from '../../lambdas/shared/layout.js';
import { DIMENSIONS, DRIFT_METRICS, SERVICES } from '../../lambdas/shared/metric-names.js';
import { type RawRow, rowsToFrame } from '../../lambdas/training/encoding.js';
import { buildReferenceProfile } from '../../lambdas/training/evaluate/reference-profile.js';
import { forwardEmf } from '../../local/emf-metrics.js';
import { type LocalStack, startLocalStack } from '../../local/local-stack.js';
import { assemblyFor } from '../support/assemblies.js';
import { prng } from '../support/random.js';
import { registerServedModel, SEGMENTS, servedViews } from '../support/served-model.js';

const MODEL = 'drifty';
const NAMESPACE = 'DriftCheckTest';
const FEATURES = [
  { name: 'x1', type: 'float64' },
  { name: 'x2', type: 'float64' },
  { name: 'segment', type: 'string', categories: SEGMENTS },
  { name: 'balance', type: 'float64' },
] as const;

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const scoreOf = (row: RawRow) =>
  sigmoid(3 * (row.x1 as number) - 2 * (row.x2 as number) + (row.segment === 'b' ? 0.5 : 0));

/** Rows like the served model's training data; `shift` moves x1 up and makes segment `c` common. */
function rows(n: number, seed: number, shift = 0): RawRow[] {
  const rand = prng(seed);
  return Array.from({ length: n }, () => ({
    x1: rand() * 2 - 1 + shift,
    x2: rand() * 2 - 1,
    segment: shift > 0 && rand() < 0.6 ? 'c' : (SEGMENTS[Math.floor(rand() * 3)] as string),
    balance: rand() * 100,
  }));
}

let local: LocalStack;
let version: number;
let captureBucket: string;
let emf: ReturnType<typeof forwardEmf>;
let objects = 0;
let registry: ModelRegistryStore;
let artifactBucket: string;

async function capture(batch: RawRow[], timeMs: number, extraLines: string[] = []): Promise<void> {
  const lines = batch.map((features, i) =>
    JSON.stringify({
      kind: 'prediction',
      requestId: `r-${objects}-${i}`,
      instance: 0,
      timeMs,
      model: MODEL,
      version,
      variant: 'default',
      features: features as Record<string, number | string>,
      prediction: { label: scoreOf(features) >= 0.5 ? 1 : 0, score: scoreOf(features) },
    } satisfies CaptureRecord),
  );
  objects++;
  await clients.s3().send(
    new PutObjectCommand({
      Bucket: captureBucket,
      Key: `${captureHourPrefix(MODEL, timeMs)}test-${objects}.json`,
      Body: `${[...lines, ...extraLines].join('\n')}\n`,
    }),
  );
}

interface Answer {
  status: string;
  rows: number;
  drifted: string[];
  datasetDrift: boolean;
  predictionVerdict: string;
  findings: number;
  report: { json: string; html: string };
}

async function check(
  start: number,
  end: number,
  extra: { model?: string; version?: number; labelLookbackHours?: number } = {},
): Promise<{ answer: Answer; report: DriftReport }> {
  const fn = local.lambdas.logicalIds.find((id) => /^DriftCheck[0-9A-F]{8}$/.test(id)) as string;
  const answer = (await local.lambdas.invoke(fn, {
    model: MODEL,
    ...extra,
    windowMinutes: 60,
    start: new Date(start).toISOString(),
    time: new Date(end).toISOString(),
  })) as Answer;
  const object = await clients
    .s3()
    .send(new GetObjectCommand({ Bucket: captureBucket, Key: answer.report.json }));
  return { answer, report: JSON.parse((await object.Body?.transformToString()) ?? '') as DriftReport };
}

beforeAll(async () => {
  const assembly = await assemblyFor({
    context: {
      mlops: {
        stackName: 'DriftCheckStack',
        metricsNamespace: NAMESPACE,
        featureViews: servedViews,
        models: [{ name: MODEL }],
        serving: { captureSampleRate: 1 },
        monitoring: { schedule: 'rate(5 minutes)', thresholds: { minSamples: 200 } },
      },
    },
  });
  local = await startLocalStack(assembly, { prefix: 'drift-' });
  emf = forwardEmf();
  captureBucket = local.resourceName('InferenceCapture');
  const tableName = local.resourceName('ModelRegistryTable');
  artifactBucket = local.resourceName('ModelRegistryArtifacts');
  registry = new ModelRegistryStore({
    documents: clients.documents(),
    s3: clients.s3(),
    tableName,
    artifactBucket,
  });
  // The reference: 4,000 rows and the model's scores on them, profiled as training profiles them.
  const reference = rows(4000, 1);
  const frame = rowsToFrame(FEATURES, reference);
  const probabilities = new Float64Array(reference.length * 2);
  reference.forEach((row, i) => {
    probabilities[2 * i] = 1 - scoreOf(row);
    probabilities[2 * i + 1] = scoreOf(row);
  });
  const profile = buildReferenceProfile(FEATURES, frame, {
    kind: 'probability',
    probabilities,
    classes: [0, 1],
  });
  const body = `${JSON.stringify(profile)}\n`;
  const sha256 = createHash('sha256').update(body).digest('hex');
  const key = `models/${MODEL}/reference-profile-${sha256}.json`;
  await clients.s3().send(new PutObjectCommand({ Bucket: artifactBucket, Key: key, Body: body }));
  const registered = await registerServedModel(registry, artifactBucket, MODEL, undefined, {
    artifacts: { referenceProfile: { key, sha256 } },
  });
  version = registered.version;
  await new ModelAliasStore({ documents: clients.documents(), tableName }).set({
    modelName: MODEL,
    alias: CHAMPION_ALIAS,
    version,
    expectedVersion: null,
  });
});

afterAll(async () => {
  await emf?.stop();
});

describe('the drift function on a capture window', () => {
  it('finds no drift in capture drawn like the reference, at the default thresholds', async () => {
    const t0 = Date.now() - 10 * 60_000;
    for (let b = 0; b < 4; b++) await capture(rows(500, 100 + b), t0 + b * 1000);
    const { answer, report } = await check(t0 - 1000, t0 + 60_000);
    expect(answer).toMatchObject({ status: 'checked', rows: 2000, drifted: [], datasetDrift: false });
    expect(report.prediction.verdict).toBe('no-drift');
    expect(report.features.map((f) => [f.name, f.verdict])).toEqual([
      ['x1', 'no-drift'],
      ['x2', 'no-drift'],
      ['segment', 'no-drift'],
      ['balance', 'no-drift'],
    ]);
  });

  it('finds the shifted features drifted, stores the report where `mlops drift report` reads it, and emits the metrics the alarms watch', async () => {
    const t0 = Date.now() - 5 * 60_000;
    for (let b = 0; b < 4; b++) await capture(rows(500, 200 + b, 0.8), t0 + b * 1000);
    const { answer, report } = await check(t0 - 1000, t0 + 60_000);
    expect(answer.status).toBe('checked');
    expect(answer.drifted).toEqual(['x1', 'segment']);
    expect(answer.predictionVerdict).toBe('drift');
    expect(report.summary).toMatchObject({
      features: 4,
      checked: 4,
      drifted: 2,
      driftShare: 0.5,
      datasetDrift: true,
    });
    const x1 = report.features.find((f) => f.name === 'x1');
    expect(x1?.drift?.psi).toBeGreaterThan(0.2);
    expect(x1?.drift?.kind === 'numeric' ? x1.drift.ks?.statistic : undefined).toBeGreaterThan(0.2);

    const latest = await clients
      .s3()
      .send(new GetObjectCommand({ Bucket: captureBucket, Key: driftReportLatestKey(MODEL) }));
    expect(JSON.parse((await latest.Body?.transformToString()) ?? '')).toMatchObject({
      json: answer.report.json,
      html: answer.report.html,
    });
    const html = await clients
      .s3()
      .send(new GetObjectCommand({ Bucket: captureBucket, Key: answer.report.html }));
    expect(html.ContentType).toMatch(/^text\/html/);

    await emf.flush();
    const metric = (name: string, dims: Record<string, string>) => ({
      Id: `m${name.toLowerCase().replace(/[^a-z0-9]/g, '')}`,
      MetricStat: {
        Metric: {
          Namespace: NAMESPACE,
          MetricName: name,
          Dimensions: Object.entries({ [DIMENSIONS.service]: SERVICES.drift, ...dims }).map(
            ([Name, Value]) => ({
              Name,
              Value,
            }),
          ),
        },
        Period: 60,
        Stat: 'Maximum',
      },
    });
    const data = await clients.cloudwatch().send(
      new GetMetricDataCommand({
        StartTime: new Date(Date.now() - 3_600_000),
        EndTime: new Date(Date.now() + 60_000),
        MetricDataQueries: [
          metric(DRIFT_METRICS.maxFeaturePsi.name, { [DIMENSIONS.model]: MODEL }),
          metric(DRIFT_METRICS.driftShare.name, { [DIMENSIONS.model]: MODEL }),
          metric(DRIFT_METRICS.featurePsi.name, { [DIMENSIONS.model]: MODEL, [DIMENSIONS.feature]: 'x1' }),
        ],
      }),
    );
    const values = Object.fromEntries(
      (data.MetricDataResults ?? []).map((r) => [r.Id, Math.max(...(r.Values ?? []))]),
    );
    expect(values.mmaxfeaturepsi).toBeCloseTo(Math.max(...report.features.map((f) => f.drift?.psi ?? 0)), 6);
    expect(values.mdriftedfeatureshare).toBe(0.5);
    expect(values.mfeaturepsi).toBeCloseTo(x1?.drift?.psi ?? Number.NaN, 6);
  });

  it('records unreadable capture and an empty window as findings, without a verdict, and still answers', async () => {
    const t0 = Date.now() - 30 * 60_000;
    await capture(rows(50, 300), t0, ['not json', '{"kind":"prediction"}']);
    const { answer, report } = await check(t0 - 1000, t0 + 60_000);
    expect(answer.status).toBe('insufficient-data');
    expect(report.features.every((f) => f.verdict === 'insufficient-data')).toBe(true);
    expect(report.findings.map((f) => f.code)).toContain('malformed-record');

    const empty = await check(t0 - 120_000, t0 - 60_000);
    expect(empty.answer.status).toBe('no-data');
    // Said once (the check's own finding), beside the unreadable lines of the object it read.
    expect(empty.report.findings.map((f) => f.code).sort()).toEqual(['empty-window', 'malformed-record']);
  });

  it('answers a model that has no champion yet with a no-data report naming why, instead of failing every scheduled check', async () => {
    const t0 = Date.now() - 60_000;
    const { answer, report } = await check(t0 - 60_000, t0, { model: 'unpromoted' });
    expect(answer.status).toBe('no-data');
    expect(report.findings.map((f) => f.code)).toEqual(['no-serving-version']);
  });

  it('records a reference profile that is not the one registered with the version (altered in S3) as a finding, not a crash', async () => {
    const body = '{"formatVersion":1}\n';
    const sha256 = createHash('sha256').update(body).digest('hex');
    const key = `models/${MODEL}/reference-profile-${sha256}.json`;
    await clients.s3().send(new PutObjectCommand({ Bucket: artifactBucket, Key: key, Body: body }));
    const other = await registerServedModel(registry, artifactBucket, MODEL, undefined, {
      artifacts: { referenceProfile: { key, sha256 } },
    });
    await clients
      .s3()
      .send(new PutObjectCommand({ Bucket: artifactBucket, Key: key, Body: '{"tampered":true}' }));
    const t0 = Date.now() - 60_000;
    const { answer, report } = await check(t0 - 60_000, t0, { version: other.version });
    expect(answer.status).toBe('no-data');
    expect(report.findings.map((f) => f.code).filter((c) => c !== 'malformed-record')).toEqual([
      'profile-version-mismatch',
      'empty-window',
    ]);
    expect(report.findings[0]?.message).toMatch(/is not the one registered with version/);
  });

  it('measures model quality from feedback in the window answering predictions captured before it (labels come late)', async () => {
    const predictedAt = Date.now() - 3 * 3_600_000;
    const batch = rows(300, 400);
    await capture(batch, predictedAt);
    const requestIds = batch.map((_, i) => `r-${objects - 1}-${i}`);
    const feedbackAt = Date.now() - 90_000;
    const lines = batch.map((features, i) => {
      const predictedDefault = scoreOf(features) > 0.5;
      const agrees = i % 5 !== 0;
      return JSON.stringify({
        kind: 'feedback',
        requestId: requestIds[i] as string,
        instance: 0,
        timeMs: feedbackAt,
        model: MODEL,
        // Labels that agree with the score more often than not: an AUC well above 0.5.
        outcome: agrees ? predictedDefault : !predictedDefault,
      } satisfies CaptureRecord);
    });
    await clients.s3().send(
      new PutObjectCommand({
        Bucket: captureBucket,
        Key: `${captureHourPrefix(MODEL, feedbackAt)}feedback-${objects}.json`,
        Body: `${lines.join('\n')}\n`,
      }),
    );
    const without = await check(feedbackAt - 1000, feedbackAt + 1000);
    expect(without.report.quality).toMatchObject({ labelled: 0, value: null });
    const { report } = await check(feedbackAt - 1000, feedbackAt + 1000, { labelLookbackHours: 4 });
    expect(report.quality?.metric).toBe('auc');
    expect(report.quality?.labelled).toBe(300);
    expect(report.quality?.value).toBeGreaterThan(0.6);
  });
});
