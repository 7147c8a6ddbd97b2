import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { TrackingStore } from '../registry/tracking-store.js';
import { documentClient } from '../shared/clients/dynamodb.js';
import { s3Client } from '../shared/clients/s3.js';
import { requireEnv } from '../shared/env.js';
import { ENV } from '../shared/layout.js';
import { logger } from '../shared/logger.js';
import { S3ObjectStore } from '../shared/object-store.js';
import { type CandidateDeps, trainCandidate } from '../training/pipeline/candidate.js';
import type { CandidateResult, TrainCandidateEvent } from '../training/pipeline/contract.js';

const artifactBucket = requireEnv(ENV.artifactBucket);
const deps: CandidateDeps = {
  offline: new S3ObjectStore(s3Client(), requireEnv(ENV.offlineBucket)),
  artifacts: new S3ObjectStore(s3Client(), artifactBucket),
  tracking: new TrackingStore({
    documents: documentClient(),
    s3: s3Client(),
    tableName: requireEnv(ENV.trackingTable),
    artifactBucket,
  }),
};

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
