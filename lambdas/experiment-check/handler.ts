import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { DeploymentStore } from '../deployment/deployment-store.js';
import {
  parseDeploymentWorkflows,
  StepFunctionsDeploymentStarter,
} from '../experiments/deployment-starter.js';
import { checkExperiments, type ExperimentCheckResult } from '../experiments/experiment-check.js';
import { ExperimentStore } from '../experiments/experiment-store.js';
import { documentClient } from '../shared/clients/dynamodb.js';
import { sfnClient } from '../shared/clients/sfn.js';
import { requireEnv } from '../shared/env.js';
import { ENV } from '../shared/layout.js';
import { logger } from '../shared/logger.js';

const workflows = parseDeploymentWorkflows(requireEnv(ENV.deploymentWorkflows));
const models = Object.keys(workflows).sort();
const tableName = requireEnv(ENV.registryTable);
const deploymentRecords = new DeploymentStore({ documents: documentClient(), tableName });
const ports = {
  experiments: new ExperimentStore({ documents: documentClient(), tableName, principal: 'experiment-check' }),
  runningDeployment: async (model: string) => {
    const current = await deploymentRecords.current(model);
    return current?.status === 'running' ? current.deploymentId : undefined;
  },
  deployments: new StepFunctionsDeploymentStarter(sfnClient(), workflows),
  log: (message: string, detail: Record<string, unknown>) => logger.info(message, detail),
};

/**
 * The scheduled experiment check (EventBridge invokes it asynchronously; the event is ignored):
 * every running experiment of every served model is reported, and the auto-promoting ones acted on
 * (lambdas/experiments/experiment-check.ts). A failure lands in the on-failure queue, which alarms.
 */
async function checkRunningExperiments(): Promise<ExperimentCheckResult[]> {
  return checkExperiments(ports, models);
}

export const handler = middy(checkRunningExperiments).use(injectLambdaContext(logger));
