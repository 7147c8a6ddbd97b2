import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { TrackingStore } from '../registry/tracking-store.js';
import { documentClient } from '../shared/clients/dynamodb.js';
import { s3Client } from '../shared/clients/s3.js';
import { requireEnv } from '../shared/env.js';
import { ENV } from '../shared/layout.js';
import { logger } from '../shared/logger.js';
import { S3ObjectStore } from '../shared/object-store.js';
import { type CandidateDeps, candidateFromOnnx } from '../training/pipeline/candidate.js';
import { configuredTrainedModels } from '../training/pipeline/configured-models.js';
import type { CandidateResult, UnpackSagemakerModelEvent } from '../training/pipeline/contract.js';
import { unpackSagemakerModel } from '../training/pipeline/sagemaker-model.js';

const artifactBucket = requireEnv(ENV.artifactBucket);
const offline = new S3ObjectStore(s3Client(), requireEnv(ENV.offlineBucket));
const artifacts = new S3ObjectStore(s3Client(), artifactBucket);
const candidates: CandidateDeps = {
  offline,
  artifacts,
  tracking: new TrackingStore({
    documents: documentClient(),
    s3: s3Client(),
    tableName: requireEnv(ENV.trackingTable),
    artifactBucket,
  }),
};
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
