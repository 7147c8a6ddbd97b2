import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { logger } from '../shared/logger.js';
import { trainCandidate } from '../training/pipeline/candidate.js';
import type { CandidateResult, TrainCandidateEvent } from '../training/pipeline/contract.js';
import { stepDepsFromEnv } from '../training/pipeline/step-deps.js';

const deps = stepDepsFromEnv();

/** The TrainCandidate step: one hyperparameter candidate trained, evaluated and stored under its run. */
async function handle(event: TrainCandidateEvent): Promise<CandidateResult> {
  const result = await trainCandidate(event, deps);
  logger.info('candidate trained', {
    model: event.model,
    runId: result.runId,
    index: result.index,
    validationScore: result.validationScore,
  });
  return result;
}

export const handler = middy(handle).use(injectLambdaContext(logger));
