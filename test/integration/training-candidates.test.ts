import { createHash, randomUUID } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { defineFeatureView, type FeatureView } from '../../lambdas/feature-store/feature-view.js';
import { getHistoricalFeatures } from '../../lambdas/feature-store/historical.js';
import { ingestBatch } from '../../lambdas/feature-store/ingest.js';
import { ModelAliasReader } from '../../lambdas/registry/alias-reader.js';
import { ModelAliasStore } from '../../lambdas/registry/alias-store.js';
import { putModelArtifact } from '../../lambdas/registry/artifact-store.js';
import { parseRegisterModelVersion } from '../../lambdas/registry/model-version.js';
import { ModelRegistryStore } from '../../lambdas/registry/registry-store.js';
import { TrackingStore } from '../../lambdas/registry/tracking-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { artifactKey, runArtifactPrefix } from '../../lambdas/shared/layout.js';
import { S3ObjectStore } from '../../lambdas/shared/object-store.js';
import { encodeColumns } from '../../lambdas/training/encoding.js';
import { rocAuc } from '../../lambdas/training/evaluate/metrics.js';
import { modelConfigSchema, type TrainedModelConfig } from '../../lambdas/training/model-config.js';
import { readModelContract } from '../../lambdas/training/model-contract.js';
import {
  type CandidateDeps,
  candidateFromOnnx,
  trainCandidate,
} from '../../lambdas/training/pipeline/candidate.js';
import type { DatasetRef, TrainCandidateEvent } from '../../lambdas/training/pipeline/contract.js';
import { heldOutFrame, loadTrainingFrame } from '../../lambdas/training/pipeline/dataset.js';
import {
  ChampionScoringError,
  type EvaluateDeps,
  evaluateCandidates,
} from '../../lambdas/training/pipeline/evaluate.js';
import { candidateLineage } from '../../lambdas/training/pipeline/lineage.js';
import { trainModel } from '../../lambdas/training/train-model.js';
import { loadAssembly } from '../../local/assembly.js';
import { startLocalStack } from '../../local/local-stack.js';
import { prng } from '../support/random.js';

const T0 = Date.parse('2026-11-01T00:00:00Z');
const HOUR = 3_600_000;
const views = new Map<string, FeatureView>(
  [
    {
      name: 'account',
      owner: 'ml',
      entities: [{ name: 'customer_id', type: 'string' as const }],
      ttlSeconds: 30 * 86_400,
      features: [
        { name: 'tenure', type: 'float64' as const },
        { name: 'plan', type: 'string' as const, categories: ['basic', 'pro'] },
      ],
    },
    {
      name: 'outcome',
      owner: 'ml',
      entities: [{ name: 'customer_id', type: 'string' as const }],
      ttlSeconds: 86_400,
      features: [{ name: 'churned', type: 'bool' as const }],
    },
  ].map((input) => [input.name, defineFeatureView(input)]),
);

let offline: S3ObjectStore;
let artifacts: S3ObjectStore;
let tracking: TrackingStore;
let registry: ModelRegistryStore;
let aliasStore: ModelAliasStore;
let registryTable: string;
let dataset: DatasetRef;

const sha256 = (body: Uint8Array | string) => createHash('sha256').update(body).digest('hex');

function model(name: string, extra: Record<string, unknown> = {}): TrainedModelConfig {
  return modelConfigSchema.parse({
    name,
    task: 'binary',
    label: 'outcome:churned',
    features: ['account:tenure', 'account:plan'],
    trainer: { algorithm: 'linear', params: { l2: 0.01 } },
    split: { testFraction: 0.25, validationFraction: 0.2, seed: 11 },
    gates: {},
    ...extra,
  }) as TrainedModelConfig;
}

function candidateDeps(models: TrainedModelConfig[]): CandidateDeps {
  return { offline, artifacts, tracking, models, views, latencyRows: 5 };
}

function evaluateDeps(models: TrainedModelConfig[]): EvaluateDeps {
  return {
    offline,
    artifacts,
    tracking,
    models,
    views,
    aliases: new ModelAliasReader({ documents: clients.documents(), tableName: registryTable }),
  };
}

/** A fresh experiment (named like the model) and its execution run. */
async function execution(name: string): Promise<{ runId: string; experiment: string }> {
  await tracking.createExperiment({ name });
  const runId = `exec-${randomUUID().slice(0, 8)}`;
  await tracking.createRun({ experiment: name, runId });
  return { runId, experiment: name };
}

const modelName = () => `churn-${randomUUID().slice(0, 8)}`;

function trainEvent(
  m: TrainedModelConfig,
  run: { runId: string; experiment: string },
  index = 0,
  params: Record<string, unknown> = { l2: 0.01 },
): TrainCandidateEvent {
  return { model: m.name, ...run, dataset, fingerprint: 'f'.repeat(64), candidate: { index, params } };
}

async function scoreOnnx(
  onnx: Uint8Array,
  m: TrainedModelConfig,
): Promise<{ p: Float64Array; y: Float64Array }> {
  const loaded = await loadTrainingFrame(offline, dataset, m, { views });
  const held = heldOutFrame(loaded, m);
  const contract = readModelContract(onnx);
  const x = encodeColumns(contract.encoding, held);
  const session = await ort.InferenceSession.create(onnx);
  const out = await session.run({ features: new ort.Tensor('float64', x.data, [x.rows, x.cols]) });
  await session.release();
  return {
    p: Float64Array.from(out.probabilities?.data as Float64Array),
    y: held.columns[loaded.label] as Float64Array,
  };
}

beforeAll(async () => {
  const local = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'trainc-' });
  offline = new S3ObjectStore(clients.s3(), local.resourceName('FeatureStoreOffline'));
  const bucket = local.resourceName('ModelRegistryArtifacts');
  artifacts = new S3ObjectStore(clients.s3(), bucket);
  registryTable = local.resourceName('ModelRegistryTable');
  const trackingTable = local.resourceName('ModelRegistryTrackingTable');
  tracking = new TrackingStore({
    documents: clients.documents(),
    s3: clients.s3(),
    tableName: trackingTable,
    artifactBucket: bucket,
  });
  registry = new ModelRegistryStore({
    documents: clients.documents(),
    s3: clients.s3(),
    tableName: registryTable,
    artifactBucket: bucket,
    trackingTable,
  });
  aliasStore = new ModelAliasStore({ documents: clients.documents(), tableName: registryTable });

  // 400 customers: tenure and plan as features, churn an hour later, noisy (AUC below 1).
  const random = prng(5);
  const accounts: string[] = [];
  const outcomes: string[] = [];
  const entityRows: Record<string, unknown>[] = [];
  for (let i = 0; i < 400; i++) {
    const customer_id = `c${i}`;
    const tenure = 36 * random();
    const plan = random() < 0.5 ? 'basic' : 'pro';
    const churned = tenure + (plan === 'pro' ? 8 : 0) + 12 * random() < 22;
    accounts.push(JSON.stringify({ customer_id, event_time: T0, tenure, plan }));
    outcomes.push(JSON.stringify({ customer_id, event_time: T0 + HOUR, churned }));
    entityRows.push({ customer_id, event_time: T0 + HOUR });
  }
  const encode = (lines: string[]) => new TextEncoder().encode(lines.join('\n'));
  await ingestBatch({ view: 'account', batchId: 'a1', format: 'jsonl' }, encode(accounts), {
    store: offline,
    views,
  });
  await ingestBatch({ view: 'outcome', batchId: 'o1', format: 'jsonl' }, encode(outcomes), {
    store: offline,
    views,
  });
  // The Prepare step's request: the label rows, the features and the label itself.
  const manifest = await getHistoricalFeatures(
    { entityRows, featureRefs: ['account:tenure', 'account:plan', 'outcome:churned'], name: 'churn' },
    { store: offline, views },
  );
  const manifestBody = (await offline.get(manifest.manifestKey)) as Uint8Array;
  dataset = {
    hash: manifest.hash,
    dataKey: manifest.dataKey,
    manifestKey: manifest.manifestKey,
    manifestSha256: sha256(manifestBody),
    rowCount: manifest.rowCount,
  };
}, 120_000);

describe('loadTrainingFrame', () => {
  it('reads the features by name in model order, the label, and the identity columns', async () => {
    const loaded = await loadTrainingFrame(offline, dataset, model('churn-a'), { views });
    expect(loaded.frame.rows).toBe(400);
    expect(loaded.features).toEqual([
      { name: 'tenure', type: 'float64', featureView: 'account' },
      { name: 'plan', type: 'string', featureView: 'account', categories: ['basic', 'pro'] },
    ]);
    expect(loaded.label).toBe('outcome__churned');
    expect(loaded.identity).toEqual(['customer_id', 'event_time']);
    const labels = loaded.frame.columns.outcome__churned as Float64Array;
    expect(new Set(labels)).toEqual(new Set([0, 1]));
    const plan = loaded.frame.columns.plan as { codes: Int32Array; dictionary: string[] };
    expect([...plan.dictionary].sort()).toEqual(['basic', 'pro']);
    expect(loaded.frame.columns.event_time).toEqual(new Float64Array(400).fill(T0 + HOUR));
  });

  it('reads slice attributes that are not inputs under their view:feature ref', async () => {
    const m = model('churn-a', { features: ['account:tenure'], slices: ['account:plan'] });
    const loaded = await loadTrainingFrame(offline, dataset, m, { views });
    expect(loaded.slices).toEqual(['account:plan']);
    const plan = loaded.frame.columns['account:plan'] as { codes: Int32Array; dictionary: string[] };
    expect(plan.codes.length).toBe(400);
    expect([...plan.dictionary].sort()).toEqual(['basic', 'pro']);
    expect(loaded.frame.columns.plan).toBeUndefined();
  });

  it('refuses a training set without a column the model needs, naming the field', async () => {
    const account = views.get('account') as FeatureView;
    const wider = new Map(views);
    wider.set('account', {
      ...account,
      features: [...account.features, { ...account.features[0], name: 'age' }],
    } as FeatureView);
    const m = model('churn-a', { features: ['account:age', 'account:tenure'] });
    await expect(loadTrainingFrame(offline, dataset, m, { views: wider })).rejects.toMatchObject({
      name: 'ValidationError',
      field: 'features.0',
    });
    await expect(
      loadTrainingFrame(offline, { ...dataset, dataKey: `${dataset.dataKey}.missing` }, model('churn-a'), {
        views,
      }),
    ).rejects.toMatchObject({ name: 'ValidationError', field: 'dataset.dataKey' });
  });
});

describe('TrainCandidate', () => {
  it('stores a model whose ONNX scores equal the trainer in memory (1e-6), with its evaluation under the run', async () => {
    const m = model(modelName());
    const run = await execution(m.name);
    const result = await trainCandidate(trainEvent(m, run), candidateDeps([m]));
    const prefix = runArtifactPrefix(m.name, run.runId);
    expect(result).toMatchObject({ index: 0, runId: run.runId });
    expect(result.model.key).toBe(`${prefix}model.onnx`);
    const stored = (await artifacts.get(result.model.key)) as Uint8Array;
    expect(sha256(stored)).toBe(result.model.sha256);
    expect(stored.byteLength).toBe(result.model.sizeBytes);

    // The same training in memory: its predictions on the held-out rows against the stored model's.
    const loaded = await loadTrainingFrame(offline, dataset, m, { views });
    const again = await trainModel({
      task: 'binary',
      frame: loaded.frame,
      label: loaded.label,
      features: loaded.features,
      trainer: { algorithm: 'linear', params: { l2: 0.01 } },
      split: { ...m.split, identity: loaded.identity },
      lineage: candidateLineage(dataset, run.runId, 'f'.repeat(64)),
      latencyRows: 5,
    });
    expect(sha256(again.onnx)).toBe(result.model.sha256);
    const { p } = await scoreOnnx(stored, m);
    const memory = again.inMemory.probabilities as Float64Array;
    expect(p.length).toBe(memory.length);
    expect(Math.max(...p.map((v, i) => Math.abs(v - (memory[i] as number))))).toBeLessThan(1e-6);

    // Scores: validation score from the validation rows; flat held-out metrics logged to the run.
    expect(result.validationScore).toBe(
      again.validationMetrics?.task === 'binary' ? again.validationMetrics.rocAuc : Number.NaN,
    );
    expect(result.metrics.rocAuc).toBe(
      again.evaluation.metrics.task === 'binary' ? again.evaluation.metrics.rocAuc : Number.NaN,
    );
    expect(result.metrics.p95LatencyMs).toBeGreaterThan(0);
    const report = JSON.parse(new TextDecoder().decode(await artifacts.get(result.evaluationReport.key)));
    expect(report).toMatchObject({ validationScoreFrom: 'validation', rows: again.evaluation.rows });
    expect(sha256((await artifacts.get(result.referenceProfile.key)) as Uint8Array)).toBe(
      result.referenceProfile.sha256,
    );
    const tracked = await tracking.getRun(run.runId);
    expect(tracked.status).toBe('RUNNING'); // the execution's run: FinishTraining ends it
    expect(tracked.params).toMatchObject({ algorithm: 'linear', l2: 0.01 });
    expect(tracked.metrics.rocAuc?.latest).toBe(result.metrics.rocAuc);

    // A retried step returns the stored result without training again.
    expect(await trainCandidate(trainEvent(m, run), candidateDeps([m]))).toEqual(result);
    expect(readModelContract(stored).lineage).toMatchObject({ runId: run.runId, datasetHash: dataset.hash });
  });

  it('with a search, each candidate is a FINISHED child run of the execution run', async () => {
    const m = model(modelName(), { search: { space: { l2: [0.001, 100] } } });
    const run = await execution(m.name);
    const results = [];
    for (const [index, l2] of [0.001, 100].entries())
      results.push(await trainCandidate(trainEvent(m, run, index, { l2 }), candidateDeps([m])));
    expect(results.map((r) => r.runId)).toEqual([`${run.runId}-c0`, `${run.runId}-c1`]);
    const children = await tracking.listRuns(m.name, { parentRunId: run.runId });
    expect(children.runs.map((r) => [r.runId, r.status, r.params.l2]).sort()).toEqual([
      [`${run.runId}-c0`, 'FINISHED', 0.001],
      [`${run.runId}-c1`, 'FINISHED', 100],
    ]);
    expect(results[0]?.model.key.startsWith(runArtifactPrefix(m.name, `${run.runId}-c0`))).toBe(true);
    expect(results[0]?.model.sha256).not.toBe(results[1]?.model.sha256);
  });

  it('a child run whose training is refused ends FAILED with the reason', async () => {
    const m = model(modelName(), { search: { space: { l2: [1] } } });
    const run = await execution(m.name);
    await expect(trainCandidate(trainEvent(m, run, 0, { l2: -1 }), candidateDeps([m]))).rejects.toMatchObject(
      { name: 'ValidationError' },
    );
    const child = await tracking.getRun(`${run.runId}-c0`);
    expect(child.status).toBe('FAILED');
    expect(child.reason).toMatch(/l2/);
  });

  it('judges a model trained elsewhere (its ONNX and contract) like a built-in one', async () => {
    const m = model(modelName());
    const run = await execution(m.name);
    const builtin = await trainCandidate(trainEvent(m, run), candidateDeps([m]));
    const onnx = (await artifacts.get(builtin.model.key)) as Uint8Array;
    const other = await execution(`${m.name}-sm`);
    const m2 = { ...m, name: `${m.name}-sm` };
    const outside = await candidateFromOnnx(
      {
        model: m2.name,
        ...other,
        dataset,
        index: 0,
        params: { image: 'x' },
        onnx,
        reportedMetrics: { auc: 0.5 },
      },
      candidateDeps([m2]),
    );
    expect(outside.validationScore).toBe(builtin.validationScore);
    expect(outside.metrics.rocAuc).toBe(builtin.metrics.rocAuc);
    expect(outside.metrics.testRows).toBe(builtin.metrics.testRows);
    expect((await tracking.getRun(other.runId)).metrics['reported.auc']?.latest).toBe(0.5);
  });
});

describe('EvaluateCandidates', () => {
  async function trained(m: TrainedModelConfig) {
    const run = await execution(m.name);
    const candidate = await trainCandidate(trainEvent(m, run), candidateDeps([m]));
    return {
      event: {
        model: m.name,
        ...run,
        dataset,
        fingerprint: 'f'.repeat(64),
        candidates: [candidate],
        execution: `arn:exec:${run.runId}`,
      },
      candidate,
    };
  }

  it('a failing gate rejects with the reason and copies nothing to the registry', async () => {
    const m = model(modelName(), {
      gates: { metrics: [{ metric: 'accuracy', direction: 'max', threshold: 0.999 }] },
    });
    const { event, candidate } = await trained(m);
    const result = await evaluateCandidates(event, evaluateDeps([m]));
    expect(result.passed).toBe(false);
    expect(result.reasons).toEqual([expect.stringMatching(/^metric:accuracy = .* \(must be >= 0.999\)$/)]);
    expect(result.registration).toBeUndefined();
    expect(result.champion).toBeUndefined();
    expect(await artifacts.get(artifactKey(m.name, candidate.model.sha256))).toBeUndefined();
    expect((await tracking.getRun(event.runId)).tags.bestCandidate).toBe('0');
  });

  it('passing without a champion: the artifacts at their registry keys and a registration the registry takes', async () => {
    const m = model(modelName(), {
      gates: {
        metrics: [{ metric: 'rocAuc', direction: 'max', threshold: 0.6 }],
        maxArtifactBytes: 1_000_000,
      },
    });
    const { event, candidate } = await trained(m);
    const result = await evaluateCandidates(event, evaluateDeps([m]));
    expect(result.reasons).toEqual([]);
    expect(result.passed).toBe(true);
    expect(result.gates.map((g) => g.gate)).toEqual(['metric:rocAuc', 'maxArtifactBytes']);
    const registration = parseRegisterModelVersion(result.registration);
    expect(registration.artifact).toEqual({
      key: artifactKey(m.name, candidate.model.sha256),
      sha256: candidate.model.sha256,
    });
    expect(sha256((await artifacts.get(registration.artifact.key)) as Uint8Array)).toBe(
      candidate.model.sha256,
    );
    expect(registration.lineage).toMatchObject({
      runId: candidate.runId,
      datasetHash: dataset.hash,
      trainer: { name: 'builtin-linear' },
    });
    const version = await registry.registerModelVersion(registration);
    expect(version.metrics.rocAuc).toBe(candidate.metrics.rocAuc);
    expect(version.artifacts.evaluationReport?.sha256).toBe(candidate.evaluationReport.sha256);
    // Evaluated again (a retried step): the same request, the registry keys written once.
    expect((await evaluateCandidates(event, evaluateDeps([m]))).registration).toEqual(registration);
  });

  it('re-scores the champion on the same held-out rows and holds the candidate to the delta', async () => {
    const name = modelName();
    // The champion: the same data with only `plan` as input, so a weaker model.
    const weak = model(name, { features: ['account:plan'] });
    const loaded = await loadTrainingFrame(offline, dataset, weak, { views });
    const champ = await trainModel({
      task: 'binary',
      frame: loaded.frame,
      label: loaded.label,
      features: loaded.features,
      trainer: { algorithm: 'linear', params: { l2: 0.01 } },
      split: { ...weak.split, identity: loaded.identity },
      latencyRows: 5,
    });
    const stored = await putModelArtifact(clients.s3(), artifacts.bucket, name, champ.onnx);
    const version = await registry.registerModelVersion({
      modelName: name,
      artifact: { key: stored.key, sha256: stored.sha256 },
    });
    await aliasStore.set({
      modelName: name,
      alias: 'champion',
      version: version.version,
      expectedVersion: null,
    });
    const { p, y } = await scoreOnnx(champ.onnx, model(name));
    const championAuc = rocAuc(
      y,
      p.filter((_, i) => i % 2 === 1),
    ).value as number;

    const m = model(name, { championMinDelta: 0.01 });
    const { event, candidate } = await trained(m);
    const passed = await evaluateCandidates(event, evaluateDeps([m]));
    expect(passed.champion).toEqual({ version: version.version, value: championAuc });
    expect(candidate.metrics.rocAuc).toBeGreaterThan(championAuc + 0.01);
    expect(passed.passed).toBe(true);
    expect(passed.gates.at(-1)).toMatchObject({ gate: 'champion:rocAuc', passed: true });

    const strict = { ...m, championMinDelta: 0.9 };
    const rejected = await evaluateCandidates(event, evaluateDeps([strict]));
    expect(rejected.passed).toBe(false);
    expect(rejected.reasons).toEqual([expect.stringContaining(`champion version ${version.version}`)]);
    expect(rejected.registration).toBeUndefined();
  });

  it('slices the held-out metrics by attribute; a gate on a fairness gap can reject', async () => {
    const m = model(modelName(), {
      slices: ['account:plan'],
      gates: { metrics: [{ metric: 'account:plan.demographicParity', direction: 'min', threshold: 0 }] },
    });
    const { event, candidate } = await trained(m);
    const gap = candidate.metrics['account:plan.demographicParity'] as number;
    expect(gap).toBeGreaterThan(0); // pro customers churn less: their predicted-positive share differs
    const report = JSON.parse(new TextDecoder().decode(await artifacts.get(candidate.evaluationReport.key)));
    expect(report.slices[0].attribute).toBe('account:plan');
    expect(report.slices[0].slices.map((s: { value: string }) => s.value)).toEqual(['basic', 'pro']);
    expect(report.slices[0].demographicParity.value).toBe(gap);
    const result = await evaluateCandidates(event, evaluateDeps([m]));
    expect(result.passed).toBe(false);
    expect(result.reasons).toEqual([`metric:account:plan.demographicParity = ${gap} (must be <= 0)`]);
  });

  it('a champion that cannot be scored is a ChampionScoringError, not a pass', async () => {
    const name = modelName();
    const stored = await putModelArtifact(
      clients.s3(),
      artifacts.bucket,
      name,
      new TextEncoder().encode('not a model'),
    );
    const version = await registry.registerModelVersion({
      modelName: name,
      artifact: { key: stored.key, sha256: stored.sha256 },
    });
    await aliasStore.set({
      modelName: name,
      alias: 'champion',
      version: version.version,
      expectedVersion: null,
    });
    const m = model(name);
    const { event } = await trained(m);
    await expect(evaluateCandidates(event, evaluateDeps([m]))).rejects.toBeInstanceOf(ChampionScoringError);
  });
});
