/**
 * The deployment (canary) workflow from its synthesized definition, run by the local runner with
 * the real step function against the emulator: the served model's function, versions and `live`
 * alias in the emulator's Lambda API, the registry, the capture bucket, and CloudWatch metric data
 * the test puts before each analysis (what the predict function's EMF would have become), read back
 * with GetMetricData — percentiles from the project's emulator launcher (local/moto_server.py).
 * Every path: promote; roll back on error rate, latency, prediction PSI, an alarm; insufficient
 * data; a hotfix; an approval; bad input.
 */
import { PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { GetAliasCommand } from '@aws-sdk/client-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentRequest } from '../../lambdas/deployment/contract.js';
import { DeploymentStore } from '../../lambdas/deployment/deployment-store.js';
import type { Progress } from '../../lambdas/deployment/steps.js';
import { ModelAliasStore } from '../../lambdas/registry/alias-store.js';
import { ModelRegistryStore } from '../../lambdas/registry/registry-store.js';
import { ModelStageStore } from '../../lambdas/registry/stage-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { CHAMPION_ALIAS, SERVING_ALIAS } from '../../lambdas/shared/layout.js';
import { servingFunctionsOf } from '../../local/http-adapter.js';
import { type LocalStack, startLocalStack } from '../../local/local-stack.js';
import type { ExecutionResult } from '../../local/state-machine-runner.js';
import { assemblyFor } from '../support/assemblies.js';
import { healthy, putTraffic, type Traffic } from '../support/canary-traffic.js';
import { registerServedModel, servedModelBytes, servedViews } from '../support/served-model.js';

const MODEL = 'deployed';
const NAMESPACE = 'DeployWorkflowTest';
const WATCHED_ALARM = 'deploy-test-watched-alarm';
const MIN_REQUESTS = 50;

let local: LocalStack;
let functionName: string;
let deployments: DeploymentStore;
let registry: ModelRegistryStore;
let captureBucket: string;
let runs = 0;

/**
 * Runs the model's workflow deploying `request`, putting each version's traffic before every
 * analysis; `during` runs before each task state (e.g. approve while it polls).
 */
async function deploy(
  request: DeploymentRequest,
  traffic: { canary?: Traffic; stable?: Traffic } = {},
  during?: (state: string, input: unknown) => Promise<void>,
  options: { freshMinute?: boolean } = {},
): Promise<ExecutionResult> {
  runs++;
  // Metric timestamps travel in whole seconds: start in a second no earlier run wrote data in.
  // GetMetricData rounds a window's start down to its minute (as CloudWatch does), so the stable
  // version's traffic of earlier runs in the same minute counts too: a test that counts requests
  // starts in a minute of its own.
  const unit = options.freshMinute ? 60_000 : 1000;
  await new Promise((resolve) => setTimeout(resolve, unit - (Date.now() % unit) + 5));
  const runner = local.stateMachine(`Deployment/Model${MODEL}/StateMachine`);
  return runner.run(request, {
    executionName: `deploy-${runs}-${Date.now()}`,
    beforeTask: async (state, input) => {
      if (state === 'Analyze') {
        const { deployment } = input as { deployment: { modelVersion: number; stableModelVersion: number } };
        const target = { namespace: NAMESPACE, model: MODEL, captureBucket };
        await putTraffic(target, deployment.modelVersion, traffic.canary ?? healthy);
        await putTraffic(target, deployment.stableModelVersion, traffic.stable ?? healthy);
      }
      await during?.(state, input);
    },
  });
}

async function alias() {
  return clients.lambda().send(new GetAliasCommand({ FunctionName: functionName, Name: SERVING_ALIAS }));
}

async function registerStaging(seed: number): Promise<number> {
  const tableName = local.resourceName('ModelRegistryTable');
  const version = await registerServedModel(
    registry,
    local.resourceName('ModelRegistryArtifacts'),
    MODEL,
    servedModelBytes(seed),
  );
  await new ModelStageStore({ documents: clients.documents(), tableName }).transition({
    modelName: MODEL,
    version: version.version,
    expectedStage: 'None',
    toStage: 'Staging',
    reason: 'test',
  });
  return version.version;
}

const historyTypes = async () =>
  (await deployments.history(MODEL)).map((e) => (e.weight === undefined ? e.type : `${e.type} ${e.weight}`));

let v1: number;

beforeAll(async () => {
  const assembly = await assemblyFor({
    context: {
      mlops: {
        stackName: 'DeployWorkflowStack',
        metricsNamespace: NAMESPACE,
        featureViews: servedViews,
        models: [{ name: MODEL }],
        serving: { captureSampleRate: 1 },
        deployment: {
          steps: [10, 50, 100],
          bakeSeconds: 1,
          minRequests: MIN_REQUESTS,
          maxInsufficientChecks: 1,
          alarms: [WATCHED_ALARM],
          approvalPollSeconds: 1,
          approvalTimeoutSeconds: 600,
        },
      },
    },
  });
  local = await startLocalStack(assembly, { prefix: 'deploy-wf-' });
  const tableName = local.resourceName('ModelRegistryTable');
  registry = new ModelRegistryStore({
    documents: clients.documents(),
    s3: clients.s3(),
    tableName,
    artifactBucket: local.resourceName('ModelRegistryArtifacts'),
  });
  deployments = new DeploymentStore({ documents: clients.documents(), tableName });
  captureBucket = local.resourceName('InferenceCapture');
  functionName = servingFunctionsOf(local.stack, local.provisioned)[MODEL] ?? '';
  await clients.cloudwatch().send(
    new PutMetricAlarmCommand({
      AlarmName: WATCHED_ALARM,
      Namespace: NAMESPACE,
      MetricName: 'Anything',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    }),
  );
  // The first deployment: nothing serves yet, so no canary steps — straight to the promotion.
  v1 = await registerStaging(7);
  const first = await deploy({ modelVersion: v1 });
  expect(first.status, JSON.stringify(first)).toBe('SUCCEEDED');
}, 240_000);

describe('deployment workflow (synthesized definition, local runner, emulator)', () => {
  it('the first deployment promotes at once: nothing serves to compare against', async () => {
    expect((await registry.getModelVersion(MODEL, v1)).stage).toBe('Production');
    const state = await alias();
    expect(state.RoutingConfig?.AdditionalVersionWeights ?? {}).toEqual({});
    expect((await deployments.current(MODEL))?.status).toBe('promoted');
  });

  it('rolls back on the error rate: alias back on the stable version, the reason recorded', async () => {
    const before = await alias();
    const v2 = await registerStaging(11);
    const result = await deploy({ modelVersion: v2 }, { canary: { ...healthy, serverErrors: 20 } });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('CanaryRolledBack');
    expect(result.cause).toMatch(/5xx rate canary 10\.00 %/);
    const after = await alias();
    expect(after.FunctionVersion).toBe(before.FunctionVersion);
    expect(after.RoutingConfig?.AdditionalVersionWeights ?? {}).toEqual({});
    expect(await historyTypes()).toEqual(['CanaryStarted', 'CanaryRolledBack']);
    expect((await deployments.current(MODEL))?.status).toBe('rolled-back');
    expect((await registry.getModelVersion(MODEL, v2)).stage).toBe('Staging');
  });

  it('rolls back on p99 latency (percentiles from the emulator launcher)', async () => {
    const v = await registerStaging(12);
    // 600 requests each: the p99 is judged (from 500); 2 % of the canary's take 400 ms.
    const many = { ...healthy, requests: 600 };
    const result = await deploy(
      { modelVersion: v },
      { canary: { ...many, latencyMs: (i) => (i % 50 === 0 ? 400 : 25) }, stable: many },
    );
    expect(result.status).toBe('FAILED');
    expect(result.cause).toMatch(/p99 canary 400\.0 ms vs stable 29\.0 ms/);
  });

  it('rolls back on the PSI between the two versions’ captured predictions', async () => {
    const v = await registerStaging(13);
    const result = await deploy(
      { modelVersion: v },
      { canary: { ...healthy, score: (i) => 0.9 + (i % 10) / 100 } },
    );
    expect(result.status).toBe('FAILED');
    expect(result.cause).toMatch(/PSI of the canary's predictions/);
  });

  it('rolls back at once when a watched alarm enters ALARM during the rollout', async () => {
    const v = await registerStaging(14);
    const result = await deploy({ modelVersion: v }, {}, async (state) => {
      if (state === 'Analyze')
        await clients
          .cloudwatch()
          .send(
            new SetAlarmStateCommand({ AlarmName: WATCHED_ALARM, StateValue: 'ALARM', StateReason: 'test' }),
          );
    });
    await clients
      .cloudwatch()
      .send(new SetAlarmStateCommand({ AlarmName: WATCHED_ALARM, StateValue: 'OK', StateReason: 'test' }));
    expect(result.status).toBe('FAILED');
    expect(result.cause).toBe(`in ALARM: ${WATCHED_ALARM}`);
  });

  it('waits for data, then rolls back as insufficient data — never a pass', async () => {
    const v = await registerStaging(15);
    const silent = { requests: 0, silent: true };
    const result = await deploy({ modelVersion: v }, { canary: silent, stable: silent }, undefined, {
      freshMinute: true,
    });
    expect(result.status).toBe('FAILED');
    expect(result.cause).toMatch(/^insufficient data after 2 analyses: requests: canary 0/);
    expect(result.states.filter((s) => s.name === 'Analyze')).toHaveLength(2);
  }, 120_000);

  it('rolls back at once a canary that answers nothing while the stable version answers plenty', async () => {
    const v = await registerStaging(22);
    const result = await deploy({ modelVersion: v }, { canary: { requests: 0, silent: true } }, undefined, {
      freshMinute: true,
    });
    expect(result.status).toBe('FAILED');
    expect(result.cause).toMatch(/the canary answered no requests while the stable version answered 200/);
    expect(result.states.filter((s) => s.name === 'Analyze')).toHaveLength(1);
  }, 120_000);

  it('a step failing after its retries puts the alias back, marks the deployment failed and frees the lock', async () => {
    const before = await alias();
    const v = await registerStaging(23);
    const step = local.lambdas.logicalIds.find((id) => id.startsWith('DeploymentStep')) ?? '';
    const result = await deploy({ modelVersion: v }, {}, async (state) => {
      // Promote's first attempt and its three retries fail as a crashed function would (injected).
      if (state === 'Promote')
        local.lambdas.injectFailures(step, [
          { errorType: 'Runtime.ExitError', errorMessage: 'injected crash' },
        ]);
    });
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('DeploymentFailed');
    expect(result.cause).toMatch(/Runtime\.ExitError: injected crash/);
    const after = await alias();
    expect(after.FunctionVersion).toBe(before.FunctionVersion);
    expect(after.RoutingConfig?.AdditionalVersionWeights ?? {}).toEqual({});
    expect((await deployments.current(MODEL))?.status).toBe('failed');
    expect((await registry.getModelVersion(MODEL, v)).stage).toBe('Staging');
  });

  it('a version promoted in the registry that fails its canary: the registry is restored to what serves', async () => {
    const tableName = local.resourceName('ModelRegistryTable');
    const aliases = new ModelAliasStore({ documents: clients.documents(), tableName });
    const serving = (await aliases.current(MODEL, CHAMPION_ALIAS))?.version as number;
    const servingStage = (await registry.getModelVersion(MODEL, serving)).stage;
    const v = await registerStaging(24);
    // The registry promotion (its event would start this deployment) archives the serving version.
    await new ModelStageStore({ documents: clients.documents(), tableName }).transition({
      modelName: MODEL,
      version: v,
      expectedStage: 'Staging',
      toStage: 'Production',
      reason: 'promoted by hand',
    });
    const result = await deploy(
      { modelVersion: v, requestedBy: 'registry', reason: 'promoted to Production in the registry' },
      { canary: { ...healthy, serverErrors: 20 } },
    );
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('CanaryRolledBack');
    expect(servingStage).toBe('Production');
    expect((await registry.getModelVersion(MODEL, serving)).stage).toBe('Production');
    expect((await registry.getModelVersion(MODEL, v)).stage).toBe('Archived');
    expect((await aliases.current(MODEL, CHAMPION_ALIAS))?.version).toBe(serving);
  });

  it('a hotfix skips the canary explicitly and is recorded as one', async () => {
    const v = await registerStaging(16);
    const result = await deploy({ modelVersion: v, hotfix: true, reason: 'revert a bad feature' });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.some((s) => s.name === 'Shift')).toBe(false);
    const history = await deployments.history(MODEL);
    expect(history.map((e) => e.type)).toEqual(['CanaryStarted', 'CanaryPromoted']);
    expect(history[0]).toMatchObject({ hotfix: true, reason: 'hotfix: revert a bad feature' });
    expect((await registry.getModelVersion(MODEL, v)).stage).toBe('Production');
  });

  it('a deployment an experiment started names the experiment in its history', async () => {
    const v = await registerStaging(18);
    const result = await deploy({
      modelVersion: v,
      hotfix: true,
      reason: 'ship — conversion improved',
      requestedBy: 'experiment churn-ab',
      experimentId: 'churn-ab',
    });
    expect(result.status).toBe('SUCCEEDED');
    const [started] = await deployments.history(MODEL);
    expect(started).toMatchObject({
      type: 'CanaryStarted',
      by: 'experiment churn-ab',
      reason: 'experiment churn-ab: hotfix: ship — conversion improved',
    });
  });

  it('waits for an approval before the promotion, and promotes once approved', async () => {
    const v = await registerStaging(17);
    let polls = 0;
    const result = await deploy({ modelVersion: v, requireApproval: true }, {}, async (state) => {
      if (state === 'CheckApproval' && ++polls === 2) await deployments.approve(MODEL, { by: 'reviewer' });
    });
    expect(result.status, `${result.error}: ${result.cause}`).toBe('SUCCEEDED');
    expect(polls).toBe(2);
    expect((await deployments.current(MODEL))?.approvedBy).toBe('reviewer');
  });

  it('promotes a healthy canary through 10 → 50 → 100: Production, champion, the old one archived', async () => {
    const stableBefore = (await deployments.current(MODEL))?.modelVersion as number;
    const v = await registerStaging(18);
    const result = await deploy({ modelVersion: v });
    expect(result.status, result.cause).toBe('SUCCEEDED');
    const weights = result.states
      .filter((s) => s.name === 'Shift')
      .map((s) => (s.output as { progress: Progress }).progress.weight);
    expect(weights).toEqual([10, 50]);
    expect(await historyTypes()).toEqual([
      'CanaryStarted',
      'CanaryStepPassed 10',
      'CanaryStepPassed 50',
      'CanaryPromoted',
    ]);
    const state = await alias();
    expect(state.RoutingConfig?.AdditionalVersionWeights ?? {}).toEqual({});
    const record = await deployments.current(MODEL);
    expect(state.FunctionVersion).toBe(record?.canaryVersion);
    expect((await registry.getModelVersion(MODEL, v)).stage).toBe('Production');
    expect((await registry.getModelVersion(MODEL, stableBefore)).stage).toBe('Archived');
    const champion = await new ModelAliasStore({
      documents: clients.documents(),
      tableName: local.resourceName('ModelRegistryTable'),
    }).current(MODEL, CHAMPION_ALIAS);
    expect(champion?.version).toBe(v);
  });

  it('refuses a version that is not Staging or Production, and a second deployment while one runs', async () => {
    const none = await registerServedModel(
      registry,
      local.resourceName('ModelRegistryArtifacts'),
      MODEL,
      servedModelBytes(19),
    );
    const refused = await deploy({ modelVersion: none.version });
    expect(refused.status).toBe('FAILED');
    expect(refused.cause).toMatch(/ValidationError|only Staging or Production versions are deployed/);
    const v = await registerStaging(20);
    const other = await registerStaging(21);
    let same: ExecutionResult | undefined;
    let second: ExecutionResult | undefined;
    const first = await deploy({ modelVersion: v, requireApproval: true }, {}, async (state) => {
      if (state === 'CheckApproval' && second === undefined) {
        // The same version again (e.g. the registry's event of this deployment's promotion): nothing to do.
        same = await deploy({ modelVersion: v });
        second = await deploy({ modelVersion: other });
        await deployments.requestRollback(MODEL, { by: 'tester', reason: 'second deployment checked' });
      }
    });
    expect(same?.status).toBe('SUCCEEDED');
    expect(same?.states.map((s) => s.name)).toContain('AlreadyServing');
    expect(second?.status).toBe('FAILED');
    expect(second?.cause).toMatch(/DeploymentInProgressError|already being deployed/);
    expect(first.status).toBe('FAILED');
    expect(first.cause).toBe('rollback asked for by tester: second deployment checked');
  });
});
