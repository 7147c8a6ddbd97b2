/**
 * The deployment workflow's step function: one function, one action per state of the per-model
 * state machine (lib/deployment-workflow.ts). The steps are ../deployment/steps.ts; this module
 * wires them (clients, registry stores, the deployment store, the metrics namespace and the capture
 * bucket from the environment) and records who acts: the execution ARN the workflow passes.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { DeploymentRequest, DeploymentState, DeploymentTarget } from '../deployment/contract.js';
import { DeploymentStore } from '../deployment/deployment-store.js';
import {
  analyzeStep,
  checkApproval,
  failDeployment,
  type Progress,
  promoteStep,
  rollbackStep,
  type StepPorts,
  shiftStep,
  startDeployment,
} from '../deployment/steps.js';
import { configuredModels } from '../registry/configured-models.js';
import { invocationPrincipal } from '../registry/principal.js';
import { aliasStoreFromEnv, registryFromEnv, stageStoreFromEnv } from '../registry/registry.js';
import { cloudWatchClient } from '../shared/clients/cloudwatch.js';
import { documentClient } from '../shared/clients/dynamodb.js';
import { lambdaClient } from '../shared/clients/lambda.js';
import { s3Client } from '../shared/clients/s3.js';
import { requireEnv } from '../shared/env.js';
import { ValidationError } from '../shared/errors.js';
import { ENV } from '../shared/layout.js';
import { logger } from '../shared/logger.js';

const registry = registryFromEnv();
const stages = stageStoreFromEnv();
const aliases = aliasStoreFromEnv();
const tableName = requireEnv(ENV.registryTable);
const namespace = requireEnv(ENV.metricsNamespace);
const captureBucket = process.env[ENV.captureBucket] || undefined;

/** The events the state machine sends, by action (each with `execution`, the principal). */
export type DeploymentStepEvent =
  | { action: 'start'; target: DeploymentTarget; request: DeploymentRequest }
  | { action: 'shift'; deployment: DeploymentState; progress: Progress }
  | {
      action: 'analyze';
      deployment: DeploymentState;
      progress: Progress;
      target: DeploymentTarget;
      alarmsAtStart: string[];
    }
  | {
      action: 'checkApproval';
      deployment: DeploymentState;
      target: DeploymentTarget;
      waitingSince: string | null;
    }
  | { action: 'promote'; deployment: DeploymentState; reason?: string }
  | { action: 'rollback'; deployment: DeploymentState; reason: string }
  | {
      action: 'fail';
      model: string;
      deploymentId: string;
      deployment?: DeploymentState;
      target?: { functionName: string; alias: string };
      error: { Error?: string; Cause?: string };
    };

/** The deployment's id: the execution's name (stable across a step's retries). */
const deploymentIdOf = (execution: string) => execution.split(':').at(-1) ?? execution;

async function deploymentStep(event: unknown, context: { functionName: string }): Promise<unknown> {
  const { principal, request } = invocationPrincipal(event, context.functionName);
  const step = request as DeploymentStepEvent;
  const ports: StepPorts = {
    lambda: lambdaClient(),
    cloudwatch: cloudWatchClient(),
    s3: s3Client(),
    registry: registry(principal),
    stages: stages(principal),
    aliases: aliases(principal),
    deployments: new DeploymentStore({ documents: documentClient(), tableName, principal }),
    namespace,
    ...(captureBucket === undefined ? {} : { captureBucket }),
    principal,
    gatesOf: (model) => configuredModels().find((m) => m.name === model)?.gates,
  };
  logger.info('deployment step', { action: step?.action, by: principal });
  switch (step?.action) {
    case 'start':
      return startDeployment(ports, {
        target: step.target,
        request: step.request,
        deploymentId: deploymentIdOf(principal),
        execution: principal,
      });
    case 'shift':
      return shiftStep(ports, step);
    case 'analyze':
      return analyzeStep(ports, step);
    case 'checkApproval':
      return checkApproval(ports, step);
    case 'promote':
      return promoteStep(ports, step);
    case 'rollback':
      return rollbackStep(ports, step);
    case 'fail':
      return failDeployment(ports, step);
    default:
      throw new ValidationError(
        'action',
        'must be one of start, shift, analyze, checkApproval, promote, rollback, fail',
      );
  }
}

export const handler = middy(deploymentStep).use(injectLambdaContext(logger));
