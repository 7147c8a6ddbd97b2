/**
 * The registry's Lambda functions (transition-model-stage, set-model-alias, get-model-version by
 * alias, register-model-version's principal) run in-process from the synthesized bundles against
 * the emulator, as the workflows call them: typed errors surface with their `name` (Step Functions
 * matches Catch on it), and nothing is written by a refused call.
 */
import { randomBytes } from 'node:crypto';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { putModelArtifact } from '../../lambdas/registry/artifact-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { modelPk } from '../../lambdas/shared/layout.js';
import {
  LambdaFunctionError as FunctionError,
  type LambdaFunctionError,
} from '../../local/lambda-runtime.js';
import { type LocalStack, startLocalStack } from '../../local/local-stack.js';
import { assemblyFor } from '../support/assemblies.js';

let local: LocalStack;
let bucket: string;
let tableName: string;
const EXECUTION = 'arn:aws:states:us-east-1:123456789012:execution:Promote:run-1';

beforeAll(async () => {
  const assembly = await assemblyFor({
    context: {
      mlops: {
        models: [
          { name: 'gated', gates: { metrics: [{ metric: 'auc', direction: 'max', threshold: 0.8 }] } },
        ],
      },
    },
  });
  local = await startLocalStack(assembly, { prefix: 'fns-' });
  bucket = local.resourceName('ModelRegistryArtifacts');
  tableName = local.resourceName('ModelRegistryTable');
});

/** Invokes the stack's function whose logical id starts with `prefix`. */
function invoke(prefix: string, event: unknown): Promise<Record<string, unknown>> {
  const ids = local.lambdas.logicalIds.filter((id) => id.startsWith(`ModelRegistry${prefix}`));
  expect(ids, prefix).toHaveLength(1);
  return local.lambdas.invoke(ids[0] as string, event) as Promise<Record<string, unknown>>;
}

async function refusal(prefix: string, event: unknown): Promise<LambdaFunctionError> {
  const error = await invoke(prefix, event).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FunctionError);
  return error as LambdaFunctionError;
}

async function items(modelName: string): Promise<Record<string, unknown>[]> {
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

async function register(modelName: string, auc = 0.9, extra: Record<string, unknown> = {}) {
  const artifact = await putModelArtifact(clients.s3(), bucket, modelName, randomBytes(32));
  return invoke('RegisterModelVersion', {
    modelName,
    artifact: { key: artifact.key, sha256: artifact.sha256 },
    metrics: { auc },
    ...extra,
  });
}

describe('register-model-version function', () => {
  it('records the invoking execution as createdBy', async () => {
    const version = await register('fn-created', 0.9, { execution: EXECUTION });
    expect(version).toMatchObject({ version: 1, createdBy: EXECUTION });
  });

  it('records a direct invocation as lambda:<function name>', async () => {
    const version = await register('fn-direct');
    expect(version.createdBy).toMatch(/^lambda:fns-.*RegisterModelVersion/);
  });

  it('refuses an execution that is not an execution ARN, writing nothing', async () => {
    const error = await register('fn-spoof', 0.9, { execution: 'alice' }).then(
      () => undefined,
      (e: unknown) => e as LambdaFunctionError,
    );
    expect(error).toMatchObject({ errorType: 'ValidationError' });
    expect(error?.errorMessage).toMatch(/^execution: must be a Step Functions execution ARN/);
    expect(await items('fn-spoof')).toEqual([]);
  });
});

describe('transition-model-stage function', () => {
  it('moves a version and records the execution and reason in its history', async () => {
    await register('fn-stage');
    const result = await invoke('TransitionModelStage', {
      modelName: 'fn-stage',
      version: 1,
      expectedStage: 'None',
      toStage: 'Staging',
      reason: 'candidate',
      execution: EXECUTION,
    });
    expect(result).toMatchObject({
      version: { version: 1, stage: 'Staging' },
      history: [{ from: 'None', to: 'Staging', by: EXECUTION, reason: 'candidate' }],
    });
  });

  it('surfaces a stale expected stage as ConflictError, writing nothing', async () => {
    await register('fn-stale');
    const before = await items('fn-stale');
    const error = await refusal('TransitionModelStage', {
      modelName: 'fn-stale',
      version: 1,
      expectedStage: 'Staging',
      toStage: 'Production',
      reason: 'ship',
    });
    expect(error.errorType).toBe('ConflictError');
    expect(await items('fn-stale')).toEqual(before);
  });

  it('surfaces an illegal transition as ValidationError naming toStage', async () => {
    const error = await refusal('TransitionModelStage', {
      modelName: 'fn-stale',
      version: 1,
      expectedStage: 'None',
      toStage: 'Production',
      reason: 'skip staging',
    });
    expect(error.errorType).toBe('ValidationError');
    expect(error.errorMessage).toMatch(/^toStage: cannot move from None to Production/);
  });

  it('surfaces an unknown version as NotFoundError', async () => {
    const error = await refusal('TransitionModelStage', {
      modelName: 'fn-none',
      version: 7,
      expectedStage: 'None',
      toStage: 'Staging',
      reason: 'x',
    });
    expect(error.errorType).toBe('NotFoundError');
  });

  it('enforces the configured gates (GateFailedError lists them) and records an override with its reason', async () => {
    await register('gated', 0.7);
    const toStaging = { modelName: 'gated', version: 1, reason: 'try' };
    await invoke('TransitionModelStage', { ...toStaging, expectedStage: 'None', toStage: 'Staging' });
    const before = await items('gated');
    const promote = { ...toStaging, expectedStage: 'Staging', toStage: 'Production' };

    const error = await refusal('TransitionModelStage', promote);
    expect(error.errorType).toBe('GateFailedError');
    expect(error.errorMessage).toContain('metric:auc = 0.7 (must be >= 0.8)');
    expect(await items('gated')).toEqual(before);

    const result = await invoke('TransitionModelStage', {
      ...promote,
      gateOverride: { reason: 'exec sign-off' },
    });
    expect(result).toMatchObject({
      version: { stage: 'Production' },
      history: [
        {
          to: 'Production',
          gateOverride: { reason: 'exec sign-off' },
          gates: [{ gate: 'metric:auc', value: 0.7, passed: false }],
        },
      ],
    });
  });
});

describe('set-model-alias and get-model-version by alias', () => {
  it('sets and moves an alias with compare-and-set, and get by alias follows it', async () => {
    await register('fn-alias');
    await register('fn-alias');
    const set = await invoke('SetModelAlias', {
      modelName: 'fn-alias',
      alias: 'champion',
      version: 1,
      expectedVersion: null,
      execution: EXECUTION,
    });
    expect(set).toMatchObject({ alias: 'champion', from: null, to: 1, by: EXECUTION });
    // Version 1 keeps another alias, so its alias set stays non-empty after champion moves on.
    await invoke('SetModelAlias', {
      modelName: 'fn-alias',
      alias: 'challenger',
      version: 1,
      expectedVersion: null,
    });
    expect(await invoke('GetModelVersion', { modelName: 'fn-alias', alias: 'champion' })).toMatchObject({
      version: 1,
      aliases: ['challenger', 'champion'],
    });

    await invoke('SetModelAlias', {
      modelName: 'fn-alias',
      alias: 'champion',
      version: 2,
      expectedVersion: 1,
    });
    // The warm function remembered version 1: it must notice the move, not serve the old version.
    expect(await invoke('GetModelVersion', { modelName: 'fn-alias', alias: 'champion' })).toMatchObject({
      version: 2,
      aliases: ['champion'],
    });
  });

  it('surfaces a stale expected version as ConflictError naming where the alias is, writing nothing', async () => {
    const before = await items('fn-alias');
    const error = await refusal('SetModelAlias', {
      modelName: 'fn-alias',
      alias: 'champion',
      version: 1,
      expectedVersion: 1,
    });
    expect(error.errorType).toBe('ConflictError');
    expect(error.errorMessage).toContain('points at 2');
    expect(await items('fn-alias')).toEqual(before);
  });

  it('surfaces a malformed alias as ValidationError naming alias', async () => {
    const error = await refusal('SetModelAlias', {
      modelName: 'fn-alias',
      alias: 'Champion!',
      version: 1,
      expectedVersion: null,
    });
    expect(error.errorType).toBe('ValidationError');
    expect(error.errorMessage).toMatch(/^alias: /);
  });

  it('deletes an alias; get by alias then answers NotFoundError', async () => {
    await invoke('SetModelAlias', {
      modelName: 'fn-alias',
      alias: 'champion',
      version: null,
      expectedVersion: 2,
    });
    const error = await refusal('GetModelVersion', { modelName: 'fn-alias', alias: 'champion' });
    expect(error.errorType).toBe('NotFoundError');
  });

  it('refuses a get naming both a version and an alias', async () => {
    const error = await refusal('GetModelVersion', { modelName: 'fn-alias', alias: 'champion', version: 1 });
    expect(error.errorType).toBe('ValidationError');
    expect(error.errorMessage).toMatch(/^alias: must not be given with version/);
  });
});
