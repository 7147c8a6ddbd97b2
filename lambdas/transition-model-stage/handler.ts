import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { invocationPrincipal } from '../registry/principal.js';
import { type RegistryInvocationContext, stageStoreFromEnv } from '../registry/registry.js';
import type { StageTransitionResult } from '../registry/stage-store.js';
import { logger } from '../shared/logger.js';

const stages = stageStoreFromEnv();

/**
 * Moves a version between stages (input: TransitionStageInput — modelName, version, expectedStage,
 * toStage, reason, gateOverride?: { reason } — plus `execution` when a workflow invokes it) and
 * returns the moved version and the history entries written. Refusals throw typed errors whose
 * `name` Step Functions matches: ValidationError, NotFoundError, ConflictError (stale
 * expectedStage), GateFailedError (failed gates, none overridden), ContentionError (retry).
 */
async function transitionModelStage(
  event: unknown,
  context: RegistryInvocationContext,
): Promise<StageTransitionResult> {
  const { principal, request } = invocationPrincipal(event, context.functionName);
  const result = await stages(principal).transition(request);
  logger.info('model stage changed', {
    modelName: result.version.modelName,
    version: result.version.version,
    stage: result.version.stage,
    by: principal,
  });
  return result;
}

export const handler = middy(transitionModelStage).use(injectLambdaContext(logger));
