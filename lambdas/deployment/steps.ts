/**
 * The deployment workflow's steps (see ./contract.ts for the flow), as plain functions over their
 * ports: the Lambda API (traffic), CloudWatch and the capture bucket (observations), the registry
 * and the deployment store. lambdas/deployment-step/handler.ts wires them for Step Functions; the
 * tests call them against the emulator.
 *
 * Every step is safe to retry: Start keys the deployment on the execution (a retried Start finds
 * its own lock and its published version again), traffic steps set the whole alias state, history
 * entries are written once, and the registry moves read the current state first.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { S3Client } from '@aws-sdk/client-s3';
import { populationStabilityIndex } from '../drift/psi.js';
import type { ModelAliasStore } from '../registry/alias-store.js';
import { evaluateGates, GateFailedError, gatesApply, type ModelGates } from '../registry/gates.js';
import type { ModelRegistryStore } from '../registry/registry-store.js';
import type { ModelStageStore } from '../registry/stage-store.js';
import { publishPinnedVersion } from '../serving/deploy.js';
import { ValidationError } from '../shared/errors.js';
import { CHAMPION_ALIAS } from '../shared/layout.js';
import { analyzeCanary } from './analysis.js';
import {
  type CanaryAnalysis,
  DEPLOYMENT_EVENTS,
  type DeploymentEvent,
  type DeploymentRequest,
  type DeploymentState,
  type DeploymentTarget,
} from './contract.js';
import type { DeploymentStore } from './deployment-store.js';
import { alarmsInAlarm, capturedWindow, servingWindows } from './observations.js';
import { aliasState, pinnedModelVersion, pointAlias, shiftTraffic } from './traffic.js';

export interface StepPorts {
  readonly lambda: LambdaClient;
  readonly cloudwatch: CloudWatchClient;
  readonly s3: S3Client;
  readonly registry: ModelRegistryStore;
  readonly stages: ModelStageStore;
  readonly aliases: ModelAliasStore;
  readonly deployments: DeploymentStore;
  /** The CloudWatch namespace the serving metrics are in. */
  readonly namespace: string;
  /** The capture bucket; undefined when the model's capture is off. */
  readonly captureBucket?: string;
  /** Who the registry records (the execution ARN). */
  readonly principal: string;
  /** The model's promotion gates (the configuration's), checked before any traffic moves. */
  readonly gatesOf?: (model: string) => ModelGates | undefined;
  readonly now?: () => number;
}

/** Where the workflow is between steps (`$.progress`). */
export interface Progress {
  /** Index into `deployment.steps` of the step running or next. */
  readonly stepIndex: number;
  /** Whether a traffic step remains (the Choice reads it). */
  readonly more: boolean;
  /** The weight on the canary now, percent. */
  readonly weight: number;
  /** When the running step's traffic shift happened (epoch ms): its analysis window starts there. */
  readonly stepStartedAt: number;
  /** Analyses of the running step so far. */
  readonly attempt: number;
}

export interface StartResult {
  /**
   * Nothing to do: the alias already serves this model version alone, or another execution is
   * deploying this very version (a repeated request, e.g. the registry's promotion event of a
   * deployment's own promotion); `why` says which.
   */
  readonly noop: boolean;
  readonly why?: string;
  readonly deployment?: DeploymentState;
  readonly progress?: Progress;
  /** Watched alarms already in ALARM at the start: not a reason to roll back (they did not enter it). */
  readonly alarmsAtStart: readonly string[];
}

const ELIGIBLE_STAGES = ['Staging', 'Production'];

/** Start: validate, take the lock, pin and publish the canary version, record CanaryStarted. */
export async function startDeployment(
  ports: StepPorts,
  input: { target: DeploymentTarget; request: DeploymentRequest; deploymentId: string; execution: string },
): Promise<StartResult> {
  const { target, request, deploymentId } = input;
  if (!Number.isInteger(request.modelVersion) || request.modelVersion < 1)
    throw new ValidationError('modelVersion', 'must be a positive integer (a registry version)');
  if (request.hotfix === true && (request.reason ?? '').trim() === '')
    throw new ValidationError('reason', 'must say why when the deployment is a hotfix (it skips the canary)');
  const version = await ports.registry.getModelVersion(target.model, request.modelVersion);
  if (!ELIGIBLE_STAGES.includes(version.stage))
    throw new ValidationError(
      'modelVersion',
      'must be in Staging or Production to be deployed',
      `modelVersion: ${target.model} version ${request.modelVersion} is ${version.stage}; only Staging or Production versions are deployed`,
    );
  const alias = await aliasState(ports.lambda, target.functionName, target.alias);
  const servingModelVersion = await pinnedModelVersion(
    ports.lambda,
    target.functionName,
    alias.functionVersion,
  );
  const alarmsAtStart = await alarmsInAlarm(ports.cloudwatch, target.alarms);
  if (servingModelVersion === request.modelVersion && alias.additional === undefined)
    return {
      noop: true,
      why: `${target.model} version ${request.modelVersion} already serves alone`,
      alarmsAtStart,
    };
  const running = await ports.deployments.current(target.model);
  if (
    running?.status === 'running' &&
    running.deploymentId !== deploymentId &&
    running.modelVersion === request.modelVersion
  )
    return {
      noop: true,
      why: `${target.model} version ${request.modelVersion} is being deployed by ${running.deploymentId}`,
      alarmsAtStart,
    };

  // The promotion gates, before any traffic moves (Promote checks them again in the registry).
  const gates = ports.gatesOf?.(target.model);
  if (version.stage !== 'Production' && gatesApply(gates, 'Production') && gates !== undefined) {
    const results = evaluateGates(gates, version);
    if (results.some((r) => !r.passed))
      throw new GateFailedError(target.model, request.modelVersion, 'Production', results);
  }

  const requireApproval = request.requireApproval ?? target.config.requireApproval;
  const hotfix = request.hotfix === true;
  const requestedBy = request.requestedBy ?? ports.principal;
  await ports.deployments.begin({
    deploymentId,
    model: target.model,
    modelVersion: request.modelVersion,
    requestedBy,
    hotfix,
    requireApproval,
    execution: input.execution,
  });
  const canaryVersion = await publishPinnedVersion({
    lambda: ports.lambda,
    functionName: target.functionName,
    model: target.model,
    version: request.modelVersion,
  });
  // Read again under the lock: what serves now is what a rollback returns to (an interrupted
  // deployment's weighted alias keeps the stable version as its target).
  const locked = await aliasState(ports.lambda, target.functionName, target.alias);
  const stableVersion = locked.functionVersion;
  const stableModelVersion = await pinnedModelVersion(ports.lambda, target.functionName, stableVersion);
  await ports.deployments.update(target.model, deploymentId, { canaryVersion, stableVersion, weight: 0 });
  // Nothing serves yet (the first deployment): nothing to compare against, so no canary steps.
  const initial = stableModelVersion === null;
  const steps = hotfix || initial ? [] : target.config.steps.filter((s) => s < 100);
  const startedAt = new Date(now(ports)).toISOString();
  const deployment: DeploymentState = {
    deploymentId,
    model: target.model,
    modelVersion: request.modelVersion,
    functionName: target.functionName,
    alias: target.alias,
    stableVersion,
    canaryVersion,
    stableModelVersion,
    hotfix,
    requireApproval,
    steps,
    startedAt,
    registryPromoted: version.stage === 'Production',
  };
  await ports.deployments.record({
    type: DEPLOYMENT_EVENTS.started,
    deploymentId,
    model: target.model,
    modelVersion: request.modelVersion,
    at: startedAt,
    by: requestedBy,
    hotfix,
    canaryVersion,
    stableVersion,
    reason:
      // The experiment whose ship decision started it, kept in the history's CanaryStarted.
      (
        (request.experimentId !== undefined ? `experiment ${request.experimentId}: ` : '') +
        (hotfix
          ? `hotfix: ${request.reason}`
          : initial
            ? `first deployment of ${target.model}: nothing serves to compare against, no canary steps`
            : (request.reason ?? `canary ${steps.join(' → ')} → 100 %`))
      ).slice(0, 1024),
  });
  return {
    noop: false,
    deployment,
    progress: { stepIndex: 0, more: steps.length > 0, weight: 0, stepStartedAt: now(ports), attempt: 0 },
    alarmsAtStart,
  };
}

const now = (ports: StepPorts) => (ports.now ?? Date.now)();

/** Records one history entry of `deployment`, by this step's principal, now. */
async function recordEvent(
  ports: StepPorts,
  deployment: DeploymentState,
  type: DeploymentEvent['type'],
  extra: Pick<DeploymentEvent, 'weight' | 'hotfix' | 'reason' | 'analysis'>,
): Promise<void> {
  await ports.deployments.record({
    type,
    deploymentId: deployment.deploymentId,
    model: deployment.model,
    modelVersion: deployment.modelVersion,
    at: new Date(now(ports)).toISOString(),
    by: ports.principal,
    ...extra,
    canaryVersion: deployment.canaryVersion,
    stableVersion: deployment.stableVersion,
  });
}

/** Shift: the next step's weight onto the canary. */
export async function shiftStep(
  ports: StepPorts,
  input: { deployment: DeploymentState; progress: Progress },
): Promise<Progress> {
  const { deployment, progress } = input;
  const weight = deployment.steps[progress.stepIndex];
  if (weight === undefined) throw new ValidationError('progress.stepIndex', 'must name a traffic step');
  await shiftTraffic(
    ports.lambda,
    {
      functionName: deployment.functionName,
      alias: deployment.alias,
      stable: deployment.stableVersion,
      canary: deployment.canaryVersion,
    },
    weight,
  );
  await ports.deployments.update(deployment.model, deployment.deploymentId, { weight });
  return { ...progress, weight, stepStartedAt: now(ports), attempt: 0 };
}

/** Analyze: the running step's window, judged; a pass records CanaryStepPassed and moves on. */
export async function analyzeStep(
  ports: StepPorts,
  input: {
    deployment: DeploymentState;
    progress: Progress;
    target: DeploymentTarget;
    alarmsAtStart: readonly string[];
  },
): Promise<{ analysis: CanaryAnalysis; progress: Progress }> {
  const { deployment, progress, target } = input;
  // From the shift on (CloudWatch itself rounds a start time down to the minute for 60-second
  // periods, so there up to a minute before the shift may count), to now; whole seconds apart.
  const window = {
    fromMs: progress.stepStartedAt,
    toMs: Math.max(now(ports), progress.stepStartedAt) + 1000,
  };
  const stableModel = deployment.stableModelVersion as number;
  const [windows, firing, record, captured] = await Promise.all([
    servingWindows(ports.cloudwatch, {
      namespace: ports.namespace,
      model: deployment.model,
      versions: [deployment.modelVersion, stableModel],
      window,
    }),
    alarmsInAlarm(ports.cloudwatch, target.alarms),
    ports.deployments.current(deployment.model),
    ports.captureBucket === undefined
      ? undefined
      : capturedWindow(ports.s3, {
          bucket: ports.captureBucket,
          model: deployment.model,
          canary: deployment.modelVersion,
          stable: stableModel,
          window,
        }),
  ]);
  const canaryValues = captured?.predictions.get(deployment.modelVersion) ?? [];
  const stableValues = captured?.predictions.get(stableModel) ?? [];
  const empty = { requests: 0, serverErrors: 0 };
  const analysis = analyzeCanary({
    canary: windows.get(deployment.modelVersion) ?? empty,
    stable: windows.get(stableModel) ?? empty,
    ...(captured === undefined
      ? {}
      : {
          predictions: {
            ...(canaryValues.length > 0 && stableValues.length > 0
              ? { psi: populationStabilityIndex(stableValues, canaryValues) }
              : {}),
            canarySamples: canaryValues.length,
            stableSamples: stableValues.length,
          },
          business: captured.outcomes,
        }),
    alarmsInAlarm: firing.filter((name: string) => !input.alarmsAtStart.includes(name)),
    ...(record?.deploymentId === deployment.deploymentId && record.rollbackRequested !== undefined
      ? { rollbackRequested: record.rollbackRequested }
      : {}),
    attempt: progress.attempt + 1,
    weight: progress.weight,
    config: target.config,
    from: new Date(window.fromMs).toISOString(),
    to: new Date(window.toMs).toISOString(),
  });
  if (analysis.verdict !== 'pass')
    return { analysis, progress: { ...progress, attempt: progress.attempt + 1 } };
  await recordEvent(ports, deployment, DEPLOYMENT_EVENTS.stepPassed, { weight: progress.weight, analysis });
  const stepIndex = progress.stepIndex + 1;
  return {
    analysis,
    progress: { ...progress, stepIndex, more: stepIndex < deployment.steps.length, attempt: 0 },
  };
}

/** CheckApproval's answer; `waitingSince` (ISO) is carried to the next check. */
export interface ApprovalCheck {
  readonly decision: 'approved' | 'pending' | 'rollback';
  readonly waitingSince: string;
  readonly reason?: string;
}

/**
 * CheckApproval: approved, still pending, or to roll back (asked for, or no approval within
 * approvalTimeoutSeconds of the first check, whose time `waitingSince` carries; null the first time).
 */
export async function checkApproval(
  ports: StepPorts,
  input: {
    deployment: DeploymentState;
    target: DeploymentTarget;
    waitingSince: string | null;
    alarmsAtStart?: readonly string[];
  },
): Promise<ApprovalCheck> {
  const waitingSince = input.waitingSince ?? new Date(now(ports)).toISOString();
  // The canary serves its last step's share while it waits: a watched alarm still rolls it back.
  const firing = (await alarmsInAlarm(ports.cloudwatch, input.target.alarms)).filter(
    (name) => !(input.alarmsAtStart ?? []).includes(name),
  );
  if (firing.length > 0)
    return { decision: 'rollback', waitingSince, reason: `in ALARM: ${firing.join(', ')}` };
  const record = await ports.deployments.current(input.deployment.model);
  if (record === undefined || record.deploymentId !== input.deployment.deploymentId)
    return { decision: 'rollback', waitingSince, reason: 'the deployment record is gone or was replaced' };
  if (record.rollbackRequested !== undefined)
    return {
      decision: 'rollback',
      waitingSince,
      reason: `rollback asked for by ${record.rollbackRequested.by}: ${record.rollbackRequested.reason}`,
    };
  if (record.approvedBy !== undefined) return { decision: 'approved', waitingSince };
  if (now(ports) - Date.parse(waitingSince) > input.target.config.approvalTimeoutSeconds * 1000)
    return {
      decision: 'rollback',
      waitingSince,
      reason: `no approval within ${input.target.config.approvalTimeoutSeconds} s`,
    };
  return { decision: 'pending', waitingSince };
}

/**
 * Promote: the alias fully onto the canary, then the registry (Production through the promotion
 * gates, the previous Production version archived, `champion` moved), then CanaryPromoted. The
 * alias goes first so that a registry refusal (a gate) fails the step with the alias moved, and the
 * failure path puts it back: the registry never names a Production version that does not serve.
 */
export async function promoteStep(
  ports: StepPorts,
  input: { deployment: DeploymentState; reason?: string },
): Promise<{ promoted: true }> {
  const { deployment } = input;
  const reason = input.reason ?? `deployment ${deployment.deploymentId} promoted`;
  await pointAlias(
    ports.lambda,
    { functionName: deployment.functionName, alias: deployment.alias },
    deployment.canaryVersion,
  );
  await ports.deployments.update(deployment.model, deployment.deploymentId, { weight: 100 });
  await makeProduction(ports, deployment.model, deployment.modelVersion, reason);
  await recordEvent(ports, deployment, DEPLOYMENT_EVENTS.promoted, { hotfix: deployment.hotfix, reason });
  return { promoted: true };
}

/**
 * Makes `version` the model's Production version and `champion` (idempotent: reads first). From
 * Archived it goes through Staging, the only way back the registry allows.
 */
async function makeProduction(
  ports: StepPorts,
  model: string,
  version: number,
  reason: string,
): Promise<void> {
  let stage = (await ports.registry.getModelVersion(model, version)).stage;
  if (stage === 'Archived' || stage === 'None') {
    await ports.stages.transition({
      modelName: model,
      version,
      expectedStage: stage,
      toStage: 'Staging',
      reason,
    });
    stage = 'Staging';
  }
  if (stage !== 'Production')
    await ports.stages.transition({
      modelName: model,
      version,
      expectedStage: stage,
      toStage: 'Production',
      reason,
    });
  const champion = await ports.aliases.current(model, CHAMPION_ALIAS);
  if (champion?.version !== version)
    await ports.aliases.set({
      modelName: model,
      alias: CHAMPION_ALIAS,
      version,
      expectedVersion: champion?.version ?? null,
      reason,
    });
}

/**
 * After a rollback or a failure of a deployment the registry started (its version was promoted to
 * Production there, archiving the one that serves): the serving version back to Production and
 * `champion`, which archives the rejected one, so the registry names what serves.
 */
async function restoreRegistry(ports: StepPorts, deployment: DeploymentState, reason: string): Promise<void> {
  if (deployment.registryPromoted !== true || deployment.stableModelVersion === null) return;
  await makeProduction(
    ports,
    deployment.model,
    deployment.stableModelVersion,
    `version ${deployment.modelVersion} rolled back: ${reason}`.slice(0, 1024),
  );
}

/** Rollback: the alias back on the stable version alone; the rejection and its reason recorded. */
export async function rollbackStep(
  ports: StepPorts,
  input: { deployment: DeploymentState; reason: string; analysis?: CanaryAnalysis },
): Promise<{ reason: string }> {
  const { deployment } = input;
  await pointAlias(
    ports.lambda,
    { functionName: deployment.functionName, alias: deployment.alias },
    deployment.stableVersion,
  );
  await ports.deployments.update(deployment.model, deployment.deploymentId, { weight: 0 });
  await restoreRegistry(ports, deployment, input.reason);
  await recordEvent(ports, deployment, DEPLOYMENT_EVENTS.rolledBack, {
    reason: input.reason,
    ...(input.analysis === undefined ? {} : { analysis: input.analysis }),
  });
  return { reason: input.reason };
}

/**
 * A failed step's error as one readable line: a Lambda error's Cause is its JSON
 * (`{"errorType","errorMessage","trace"}`), of which the type and message say it.
 */
export function failureReason(error: { Error?: string; Cause?: string }): string {
  let text = `${error.Error ?? 'Error'}: ${error.Cause ?? 'no cause given'}`;
  try {
    const cause = JSON.parse(error.Cause ?? '') as { errorType?: unknown; errorMessage?: unknown };
    if (typeof cause.errorMessage === 'string')
      text = `${typeof cause.errorType === 'string' ? cause.errorType : (error.Error ?? 'Error')}: ${cause.errorMessage}`;
  } catch {
    // not JSON: the Cause as it is
  }
  return text.length > 1000 ? `${text.slice(0, 999)}…` : text;
}

/**
 * A step failed after its retries: put the alias back on the stable version when the canary had
 * traffic, and mark the deployment failed with the cause (its lock released).
 */
export async function failDeployment(
  ports: StepPorts,
  input: {
    model: string;
    deploymentId: string;
    deployment?: DeploymentState;
    /** Where to put the alias back when `deployment` is not at hand (an aborted or timed-out execution). */
    target?: { functionName: string; alias: string };
    error: { Error?: string; Cause?: string };
  },
): Promise<{ reason: string }> {
  const reason = failureReason(input.error);
  // Only a deployment this execution started and still runs is undone: a Start refused before it
  // took the lock (bad input, another deployment running) leaves the other one alone.
  const current = await ports.deployments.current(input.model);
  if (current?.deploymentId !== input.deploymentId || current.status !== 'running') return { reason };
  const where = input.deployment ?? input.target;
  const stable = input.deployment?.stableVersion ?? current.stableVersion;
  if (where !== undefined && stable !== undefined)
    await pointAlias(ports.lambda, { functionName: where.functionName, alias: where.alias }, stable);
  if (input.deployment !== undefined) await restoreRegistry(ports, input.deployment, reason);
  await ports.deployments.fail(input.model, input.deploymentId, reason);
  return { reason };
}
