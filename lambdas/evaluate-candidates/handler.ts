import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { ModelAliasReader } from '../registry/alias-reader.js';
import { documentClient } from '../shared/clients/dynamodb.js';
import { requireEnv } from '../shared/env.js';
import { ENV } from '../shared/layout.js';
import { logger } from '../shared/logger.js';
import type { EvaluateCandidatesEvent, EvaluateCandidatesResult } from '../training/pipeline/contract.js';
import { type EvaluateDeps, evaluateCandidates } from '../training/pipeline/evaluate.js';
import { stepDepsFromEnv } from '../training/pipeline/step-deps.js';

const deps: EvaluateDeps = {
  ...stepDepsFromEnv(),
  aliases: new ModelAliasReader({ documents: documentClient(), tableName: requireEnv(ENV.registryTable) }),
};

/**
 * The EvaluateCandidates step: the best candidate, the champion re-scored on the same held-out rows,
 * the gates, and (passed) the registration request. A rejection is a result, not an error.
 */
async function handle(event: EvaluateCandidatesEvent): Promise<EvaluateCandidatesResult> {
  const result = await evaluateCandidates(event, deps);
  logger.info(result.passed ? 'candidate passed' : 'candidate rejected', {
    model: event.model,
    runId: event.runId,
    best: result.best.index,
    primaryMetric: result.primaryMetric,
    ...(result.champion === undefined ? {} : { champion: result.champion }),
    reasons: result.reasons,
  });
  return result;
}

export const handler = middy(handle).use(injectLambdaContext(logger));
