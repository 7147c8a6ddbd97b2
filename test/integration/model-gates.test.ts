import { randomBytes } from 'node:crypto';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { putModelArtifact } from '../../lambdas/registry/artifact-store.js';
import { GateFailedError } from '../../lambdas/registry/gates.js';
import { ModelRegistryStore } from '../../lambdas/registry/registry-store.js';
import { ModelStageStore } from '../../lambdas/registry/stage-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { modelPk } from '../../lambdas/shared/layout.js';
import { loadConfig } from '../../lib/config.js';
import { loadAssembly } from '../../local/assembly.js';
import { startLocalStack } from '../../local/local-stack.js';
import { rejection } from '../support/errors.js';

let registry: ModelRegistryStore;
let stages: ModelStageStore;
let tableName: string;
let bucket: string;

const { models } = loadConfig({
  models: [
    {
      name: 'gated',
      gates: {
        metrics: [
          { metric: 'auc', direction: 'max', threshold: 0.8 },
          { metric: 'logloss', direction: 'min', threshold: 0.4 },
        ],
        maxArtifactBytes: 64,
        maxP95LatencyMs: 30,
      },
    },
    {
      name: 'gated-staging',
      gates: {
        metrics: [{ metric: 'auc', direction: 'max', threshold: 0.9 }],
        stages: ['Staging', 'Production'],
      },
    },
  ],
});

beforeAll(async () => {
  const local = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'gates-' });
  tableName = local.resourceName('ModelRegistryTable');
  bucket = local.resourceName('ModelRegistryArtifacts');
  const documents = clients.documents();
  registry = new ModelRegistryStore({ documents, s3: clients.s3(), tableName, artifactBucket: bucket });
  stages = new ModelStageStore({ documents, tableName, principal: 'arn:aws:iam::1:role/ci', models });
});

async function modelItems(modelName: string): Promise<Record<string, unknown>[]> {
  const result = await clients.documents().send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': modelPk(modelName) },
      ConsistentRead: true,
    }),
  );
  return result.Items ?? [];
}

async function register(modelName: string, metrics: Record<string, number>, bytes = 32): Promise<number> {
  const artifact = await putModelArtifact(clients.s3(), bucket, modelName, randomBytes(bytes));
  const version = await registry.registerModelVersion({
    modelName,
    artifact: { key: artifact.key, sha256: artifact.sha256 },
    metrics,
  });
  return version.version;
}

const move = (
  modelName: string,
  version: number,
  expectedStage: string,
  toStage: string,
  gateOverride?: { reason: string },
) =>
  stages.transition({
    modelName,
    version,
    expectedStage,
    toStage,
    reason: `move ${version} to ${toStage}`,
    ...(gateOverride ? { gateOverride } : {}),
  });

const good = { auc: 0.85, logloss: 0.3, p95LatencyMs: 20 };

describe('promotion gates on the emulator', () => {
  it('promotes a version meeting every gate and records each result in the history entry', async () => {
    const v = await register('gated', good);
    await move('gated', v, 'None', 'Staging');
    const promoted = await move('gated', v, 'Staging', 'Production');

    expect(promoted.version.stage).toBe('Production');
    const entry = (await stages.history('gated', v)).at(-1);
    expect(entry).toMatchObject({ from: 'Staging', to: 'Production' });
    expect(entry?.gates?.map((g) => [g.gate, g.value, g.passed])).toEqual([
      ['metric:auc', 0.85, true],
      ['metric:logloss', 0.3, true],
      ['maxArtifactBytes', 32, true],
      ['maxP95LatencyMs', 20, true],
    ]);
    expect(entry?.gateOverride).toBeUndefined();
    // Staging is not gated for this model: its entry carries no gate results.
    expect((await stages.history('gated', v))[0]?.gates).toBeUndefined();
  });

  it('refuses a failing version listing every failed gate, writing nothing', async () => {
    const v = await register('gated', { auc: 0.7, logloss: 0.3 }, 100);
    await move('gated', v, 'None', 'Staging');
    const before = await modelItems('gated');

    const error = await rejection(move('gated', v, 'Staging', 'Production'));

    expect(error).toBeInstanceOf(GateFailedError);
    expect(error).toMatchObject({ name: 'GateFailedError', status: 422, toStage: 'Production' });
    expect((error as GateFailedError).failed).toEqual([
      { gate: 'metric:auc', value: 0.7, threshold: 0.8, comparison: '>=', passed: false },
      { gate: 'maxArtifactBytes', value: 100, threshold: 64, comparison: '<=', passed: false },
      { gate: 'maxP95LatencyMs', value: null, threshold: 30, comparison: '<=', passed: false },
    ]);
    expect(await modelItems('gated')).toEqual(before);
    expect((await registry.getModelVersion('gated', v)).stage).toBe('Staging');
  });

  it('enters Production over failing gates with an override reason, recorded with every result', async () => {
    const previous = (await registry.listModelVersions('gated')).versions.find(
      (x) => x.stage === 'Production',
    );
    const v = await register('gated', { auc: 0.75, logloss: 0.5, p95LatencyMs: 10 });
    await move('gated', v, 'None', 'Staging');

    const result = await move('gated', v, 'Staging', 'Production', {
      reason: 'incident 42: rollback target',
    });

    expect(result.version.stage).toBe('Production');
    const entry = (await stages.history('gated', v)).at(-1);
    expect(entry?.gateOverride).toEqual({ reason: 'incident 42: rollback target' });
    expect(entry?.gates?.filter((g) => !g.passed).map((g) => g.gate)).toEqual([
      'metric:auc',
      'metric:logloss',
    ]);
    expect(entry?.by).toBe('arn:aws:iam::1:role/ci');
    // The previous Production version was archived in the same transaction, as without gates.
    if (previous) expect((await registry.getModelVersion('gated', previous.version)).stage).toBe('Archived');
  });

  it('checks the stage before the gates: a stale expectation is a ConflictError, not a gate failure', async () => {
    const v = await register('gated', { auc: 0.1 });
    const error = await rejection(move('gated', v, 'Staging', 'Production'));
    expect(error).toMatchObject({ name: 'ConflictError', current: 'None' });
  });

  it('gates Staging when the model configures it; models not configured are ungated', async () => {
    const v = await register('gated-staging', { auc: 0.5 });
    const before = await modelItems('gated-staging');
    const error = await rejection(move('gated-staging', v, 'None', 'Staging'));
    expect(error).toMatchObject({ name: 'GateFailedError', toStage: 'Staging' });
    expect(await modelItems('gated-staging')).toEqual(before);

    const free = await register('ungated', {});
    await move('ungated', free, 'None', 'Staging');
    await move('ungated', free, 'Staging', 'Production');
    expect((await stages.history('ungated', free)).every((h) => h.gates === undefined)).toBe(true);
  });
});
