import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { logger } from '../shared/logger.js';
import { candidateFromOnnx } from '../training/pipeline/candidate.js';
import { configuredTrainedModels } from '../training/pipeline/configured-models.js';
import type { CandidateResult, UnpackSagemakerModelEvent } from '../training/pipeline/contract.js';
import { unpackSagemakerModel } from '../training/pipeline/sagemaker-model.js';
import { stepDepsFromEnv } from '../training/pipeline/step-deps.js';

const candidates = stepDepsFromEnv();
const { artifactBucket, offline, artifacts } = candidates;
const models = configuredTrainedModels();

/**
 * The UnpackSagemakerModel step: the job's model.tar.gz unpacked, its model.onnx checked against
 * the job's contract and given the contract's metadata, then scored on the held-out rows as
 * candidate 0 of the run.
 */
async function handle(event: UnpackSagemakerModelEvent): Promise<CandidateResult> {
  const result = await unpackSagemakerModel(event, {
    artifacts,
    artifactBucket,
    offline,
    models,
    score: (input) => candidateFromOnnx(input, candidates),
  });
  logger.info('sagemaker model unpacked', {
    model: event.model,
    runId: result.runId,
    jobName: event.sagemaker.jobName,
    validationScore: result.validationScore,
  });
  return result;
}

export const handler = middy(handle).use(injectLambdaContext(logger));
