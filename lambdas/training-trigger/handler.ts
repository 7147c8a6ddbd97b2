import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { isObjectCreatedEvent } from '../feature-store/landing.js';
import { documentClient } from '../shared/clients/dynamodb.js';
import { s3Client } from '../shared/clients/s3.js';
import { sfnClient } from '../shared/clients/sfn.js';
import { requireEnv } from '../shared/env.js';
import { ValidationError } from '../shared/errors.js';
import { ENV } from '../shared/layout.js';
import { logger } from '../shared/logger.js';
import { S3ObjectStore } from '../shared/object-store.js';
import { configuredTrainedModels } from '../training/pipeline/configured-models.js';
import {
  countIngestedBatch,
  type ModelTriggerResult,
  NewDataCounter,
  parsePipelineArns,
  StepFunctionsStarter,
} from '../training/pipeline/new-data.js';
import { newDataWatches } from '../training/pipeline/triggers.js';

const bucket = requireEnv(ENV.offlineBucket);
const store = new S3ObjectStore(s3Client(), bucket);
const watches = newDataWatches(configuredTrainedModels());
const counter = new NewDataCounter(
  documentClient(),
  requireEnv(ENV.trackingTable),
  new StepFunctionsStarter(sfnClient(), parsePipelineArns(requireEnv(ENV.trainingPipelines))),
);

/**
 * The S3 "Object Created" event of an ingestion-log entry (EventBridge invokes the function
 * asynchronously): counts the batch's accepted rows toward each watching model's new-data trigger
 * and starts the pipelines whose count reached their threshold. A failure lands in the on-failure
 * queue after Lambda's retries; a retried event counts its batch once.
 */
async function onIngested(event: unknown): Promise<ModelTriggerResult[]> {
  if (!isObjectCreatedEvent(event))
    throw new ValidationError('detail-type', 'must be an S3 Object Created event delivered by EventBridge');
  if (event.detail.bucket?.name !== bucket)
    throw new ValidationError('detail.bucket.name', `must be the offline bucket ${bucket}`);
  const key = event.detail.object?.key;
  if (typeof key !== 'string') throw new ValidationError('detail.object.key', 'must be a string');
  const results = await countIngestedBatch(key, { store, counter, watches });
  logger.info('batch counted for retraining', { key, results });
  return results;
}

export const handler = middy(onIngested).use(injectLambdaContext(logger));
