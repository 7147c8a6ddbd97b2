/**
 * The training pipeline end to end: each model's state machine, from the synthesized template, run
 * by the local runner with every step's real bundle against the emulator, on data with a known
 * answer (test/fixtures/training.ts). The only non-Lambda task, SageMaker's CreateTrainingJob.sync,
 * runs through the harness's explicit stand-in (local/sagemaker-local.ts); the only injected
 * faults are the transient function failures Retry must absorb (LocalLambdas.injectFailures).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { defineFeatureView, type FeatureView } from '../../lambdas/feature-store/feature-view.js';
import { ModelRegistryStore } from '../../lambdas/registry/registry-store.js';
import { TrackingStore } from '../../lambdas/registry/tracking-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { TRAINING_LEASE_SK, trainingPk } from '../../lambdas/shared/layout.js';
import { S3ObjectStore } from '../../lambdas/shared/object-store.js';
import { isTrained } from '../../lambdas/training/model-config.js';
import { readModelContract } from '../../lambdas/training/model-contract.js';
import type { DatasetRef } from '../../lambdas/training/pipeline/contract.js';
import { NewDataCounter } from '../../lambdas/training/pipeline/new-data.js';
import { trainingRunId } from '../../lambdas/training/pipeline/run-id.js';
import { loadConfig } from '../../lib/config.js';
import { type LocalStack, startLocalStack } from '../../local/local-stack.js';
import { localSagemakerTraining } from '../../local/sagemaker-local.js';
import type { ExecutionResult } from '../../local/state-machine-runner.js';
import { ingestTrainingRows, TRAINING_T0, trainingModels, trainingViews } from '../fixtures/training.js';
import { assemblyFor } from '../support/assemblies.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
let local: LocalStack;
let offline: S3ObjectStore;
let artifactBucket: string;
let trackingTable: string;
let registry: ModelRegistryStore;
let tracking: TrackingStore;
let asOf: string;

const config = loadConfig({ featureViews: trainingViews, models: trainingModels });

beforeAll(async () => {
  local = await startLocalStack(
    await assemblyFor({ context: { mlops: { featureViews: trainingViews, models: trainingModels } } }),
    { prefix: 'train-' },
  );
  offline = new S3ObjectStore(clients.s3(), local.resourceName('FeatureStoreOffline'));
  artifactBucket = local.resourceName('ModelRegistryArtifacts');
  trackingTable = local.resourceName('ModelRegistryTrackingTable');
  registry = new ModelRegistryStore({
    documents: clients.documents(),
    s3: clients.s3(),
    tableName: local.resourceName('ModelRegistryTable'),
    artifactBucket,
    trackingTable,
  });
  tracking = new TrackingStore({
    documents: clients.documents(),
    s3: clients.s3(),
    tableName: trackingTable,
    artifactBucket,
  });
  const views = new Map<string, FeatureView>(trainingViews.map((v) => [v.name, defineFeatureView(v)]));
  const rows = await ingestTrainingRows(offline, views);
  asOf = new Date(rows.lastLabelMs + 60_000).toISOString();
});

const names = (result: ExecutionResult) => result.states.map((s) => s.name);
/** A window ending `minutes` before the last label's minute: fewer rows, so another dataset (no reuse). */
const earlier = (minutes: number) => new Date(Date.parse(asOf) - minutes * 60_000).toISOString();
let executions = 0;
/** Runs the model's pipeline; the result carries the execution's ARN (its run id derives from it). */
async function run(
  model: string,
  input: Record<string, unknown>,
  options: Parameters<ReturnType<LocalStack['stateMachine']>['run']>[1] = {},
): Promise<ExecutionResult & { arn: string }> {
  const runner = local.stateMachine(`Training/Pipeline-${model}/StateMachine`);
  const executionName = `${model}-${++executions}-${Date.now()}`;
  const result = await runner.run(input, { ...options, executionName });
  return { ...result, arn: runner.executionArn(executionName) };
}

async function versionsOf(model: string) {
  return (await registry.listModelVersions(model).catch(() => ({ versions: [] }))).versions;
}

describe('training pipeline (state machine from the template)', () => {
  it('trains, evaluates, registers a Staging version whose ONNX model scores as the trainer did', async () => {
    const result = await run('churn', { asOf, trigger: { kind: 'manual', reason: 'first' } });

    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    expect(names(result)).toEqual([
      'PrepareTraining',
      'PrepareOutcome',
      'TrainCandidate',
      'TrainCandidates',
      'EvaluateCandidates',
      'PassedGates',
      'PrepareRegistration',
      'RegisterModelVersion',
      'TransitionToStaging',
      'FinishSucceeded',
      'TrainingSucceeded',
    ]);
    const [version] = await versionsOf('churn');
    expect(version).toMatchObject({ modelName: 'churn', version: 1, stage: 'Staging' });
    expect(version?.lineage.runId).toBeDefined();

    // The registered bytes are what the trainer exported, and onnxruntime scores them as evaluated.
    const bytes = await clients
      .s3()
      .send(new GetObjectCommand({ Bucket: artifactBucket, Key: version?.artifact.key }))
      .then((r) => r.Body?.transformToByteArray() as Promise<Uint8Array>);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(version?.artifact.sha256);
    const contract = readModelContract(bytes);
    expect(contract.signature.inputs.map((i) => i.name)).toEqual(['x1', 'x2', 'segment']);
    const runRecord = await tracking.getRun(version?.lineage.runId);
    expect(runRecord).toMatchObject({ status: 'FINISHED', experiment: 'churn' });
    expect(runRecord.tags).toMatchObject({ outcome: 'succeeded' });
    expect(runRecord.runId).toBe(trainingRunId(result.arn));
    expect(version?.metrics.rocAuc).toBeGreaterThan(0.75);

    // The registered bytes are the best candidate's, and onnxruntime (in a process of its own)
    // scores them on the held-out rows to the AUC the evaluation recorded.
    const output = result.output as {
      evaluation: { best: { model: { sha256: string } } };
      prepared: { dataset: DatasetRef };
    };
    expect(version?.artifact.sha256).toBe(output.evaluation.best.model.sha256);
    const model = config.models.filter(isTrained).find((m) => m.name === 'churn');
    // Asynchronously: a worker blocked for seconds misses the test runner's calls.
    const { stdout } = await promisify(execFile)(
      path.join(ROOT, 'node_modules/.bin/tsx'),
      [
        path.join(ROOT, 'test/support/score-registered.ts'),
        JSON.stringify({
          bucket: artifactBucket,
          key: version?.artifact.key,
          offlineBucket: offline.bucket,
          dataset: output.prepared.dataset,
          model,
          views: trainingViews,
        }),
      ],
      { encoding: 'utf8', env: process.env },
    );
    const scored = JSON.parse(stdout) as { rows: number; rocAuc: number };
    expect(scored.rows).toBeGreaterThan(100);
    expect(scored.rocAuc).toBe(version?.metrics.rocAuc);
  });

  it('reuses the earlier result for the same data and configuration, registering nothing new', async () => {
    const before = await versionsOf('churn');
    const result = await run('churn', { asOf, trigger: { kind: 'schedule' } });
    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    expect(names(result)).toEqual(['PrepareTraining', 'PrepareOutcome', 'ReusedEarlierResult']);
    expect(await versionsOf('churn')).toHaveLength(before.length);
  });

  it('retries a registration and a stage move whose answers were lost, with one version in Staging', async () => {
    const before = await versionsOf('churn');
    const id = (prefix: string) => local.lambdas.logicalIds.find((l) => l.startsWith(prefix)) ?? prefix;
    // Injected: each function runs to completion, then its answer is lost (a dropped connection).
    const lost = [
      { errorType: 'Lambda.ServiceException', errorMessage: 'injected: answer lost', afterRunning: true },
    ];
    local.lambdas.injectFailures(id('ModelRegistryRegisterModelVersion'), lost);
    local.lambdas.injectFailures(id('ModelRegistryTransitionModelStage'), lost);
    // Rows counted toward the new-data trigger before this training: it consumes them.
    const counter = new NewDataCounter(clients.documents(), trackingTable, {
      start: () => Promise.reject(new Error('this test starts no execution')),
    });
    await counter.add('churn', { manifestKey: 'ingestion/customer/lost.json', rows: 40, ingestedAt: asOf });
    expect((await counter.state('churn')).rows).toBe(40);

    const result = await run('churn', { asOf: earlier(5) });

    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    expect(result.retries).toMatchObject({ RegisterModelVersion: 1, TransitionToStaging: 1 });
    // The retried move met the version in Staging already (ConflictError): read back, carried on.
    expect(names(result).slice(-5)).toEqual([
      'TransitionToStaging',
      'ReadBackStage',
      'AlreadyStaging',
      'FinishSucceeded',
      'TrainingSucceeded',
    ]);
    const after = await versionsOf('churn');
    expect(after).toHaveLength(before.length + 1);
    expect(after.filter((v) => v.stage === 'Staging')).toHaveLength(after.length);
    expect((await counter.state('churn')).rows).toBe(0);
  });

  it('ends a run that fails a gate as Rejected with its reasons, registering nothing', async () => {
    const result = await run('churn-strict', { asOf });
    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    expect(names(result).slice(-3)).toEqual(['PassedGates', 'FinishRejected', 'TrainingRejected']);
    expect(await versionsOf('churn-strict')).toEqual([]);
    const reasons = (result.output as { evaluation: { reasons: string[] } }).evaluation.reasons;
    expect(reasons.join('\n')).toMatch(/rocAuc .*must be >= 0.9999/);
  });

  it('retries a transient trainer failure, and records the run as failed once retries run out', async () => {
    const fn = local.lambdas.find(
      local.lambdas.logicalIds.find((id) => id.startsWith('TrainingTrainCandidate')) ?? 'TrainCandidate',
    );
    // Injected: two crashes Retry absorbs (the emulator cannot make a function crash).
    local.lambdas.injectFailures(fn.logicalId, [
      { errorType: 'Runtime.ExitError', errorMessage: 'injected crash 1' },
      { errorType: 'Runtime.ExitError', errorMessage: 'injected crash 2' },
    ]);
    const retried = await run('churn-strict', {
      asOf: earlier(2),
    });
    expect(retried.status, `${retried.error}: ${retried.cause}`).toBe('SUCCEEDED');
    expect(retried.retries.TrainCandidate).toBe(2);

    // Injected: more crashes than the retries (1 + 3 attempts).
    local.lambdas.injectFailures(
      fn.logicalId,
      Array.from({ length: 4 }, (_, i) => ({
        errorType: 'Runtime.ExitError',
        errorMessage: `injected crash ${i}`,
      })),
    );
    const failed = await run('churn-strict', { asOf: earlier(3) });
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toBe('TrainingFailed');
    expect(names(failed)).toContain('RecordFailure');
    expect(names(failed).at(-1)).toBe('TrainingFailed');
    const record = await tracking.getRun(trainingRunId(failed.arn));
    expect(record.status).toBe('FAILED');
    expect(record.reason).toMatch(/Runtime.ExitError: injected crash/);
    // The lease went with the run: the next execution trains.
    const next = await run('churn-strict', { asOf: earlier(4) });
    expect(names(next)).toContain('TrainCandidates');
  });

  it('fails a run on an empty training window with the field named, registering nothing', async () => {
    const result = await run('churn-strict', { asOf: new Date(TRAINING_T0 - 90 * 86_400_000).toISOString() });
    expect(result.status, `${result.error}: ${result.cause}`).toBe('FAILED');
    expect(result.error).toBe('TrainingFailed');
    expect(result.cause).toMatch(/windowDays/);
    expect(await versionsOf('churn-strict')).toEqual([]);
  });

  it('lets one execution per model run: a concurrent trigger is recorded and dropped; an expired lease is taken', async () => {
    const [a, b] = await Promise.all([
      run('churn-strict', { asOf: earlier(10) }),
      run('churn-strict', { asOf: earlier(11) }),
    ]);
    const dropped = [a, b].filter((r) => names(r).includes('TriggerDropped'));
    const trained = [a, b].filter((r) => names(r).includes('TrainCandidates'));
    expect(dropped).toHaveLength(1);
    expect(trained).toHaveLength(1);
    const droppedRun = await tracking.getRun(trainingRunId(dropped[0]?.arn ?? ''));
    expect(droppedRun.status).toBe('KILLED');
    expect(droppedRun.tags).toMatchObject({ outcome: 'dropped' });

    // A crashed execution's lease: held by a stranger, expired a second ago.
    await clients.documents().send(
      new PutCommand({
        TableName: trackingTable,
        Item: {
          pk: trainingPk('churn-strict'),
          sk: TRAINING_LEASE_SK,
          holder: 'arn:aws:states:us-east-1:000000000000:execution:gone:crashed',
          expiresAtMs: Date.now() - 1000,
        },
      }),
    );
    const after = await run('churn-strict', { asOf: earlier(12) });
    expect(names(after)).toContain('TrainCandidates');
  });

  it('searches hyperparameters: every candidate a child run, the best by validation score registered', async () => {
    const result = await run('churn-gbdt', { asOf });
    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    expect(result.states.filter((s) => s.name === 'TrainCandidate')).toHaveLength(4);
    const [version] = await versionsOf('churn-gbdt');
    expect(version?.stage).toBe('Staging');
    // The execution's run is the parent; the registered model's lineage names the winning child.
    const parent = trainingRunId(result.arn);
    const children = (await tracking.listRuns('churn-gbdt')).runs.filter((r) => r.parentRunId === parent);
    expect(children).toHaveLength(4);
    const output = result.output as { evaluation: { best: { runId: string; validationScore: number } } };
    const best = Math.max(
      ...(result.output as { candidates: { list: { validationScore: number }[] } }).candidates.list.map(
        (c) => c.validationScore,
      ),
    );
    expect(output.evaluation.best.validationScore).toBe(best);
    expect(children.map((c) => c.runId)).toContain(version?.lineage.runId);
    expect(output.evaluation.best.runId).toBe(version?.lineage.runId);
  });

  it('trains through SageMaker: the job (harness stand-in) writes model.onnx, the workflow evaluates and registers it', async () => {
    const result = await local
      .stateMachine('Training/Pipeline-churn-sm/StateMachine')
      .run(
        { asOf },
        { serviceIntegrations: { SagemakerTraining: localSagemakerTraining({ s3: clients.s3() }) } },
      );
    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    expect(names(result)).toContain('UnpackSagemakerModel');
    const [version] = await versionsOf('churn-sm');
    expect(version?.stage).toBe('Staging');

    const none = await local.stateMachine('Training/Pipeline-churn-sm/StateMachine').run(
      { asOf: earlier(2) },
      {
        serviceIntegrations: {
          SagemakerTraining: localSagemakerTraining({ s3: clients.s3(), behaviour: 'no-model' }),
        },
      },
    );
    expect(none.status, `${none.error}: ${none.cause}`).toBe('FAILED');
    expect(none.cause).toMatch(/model\.onnx/);
    expect(await versionsOf('churn-sm')).toHaveLength(1);
  });
});
