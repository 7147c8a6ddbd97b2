import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { TrackingStore } from '../registry/tracking-store.js';
import { documentClient } from '../shared/clients/dynamodb.js';
import { eventBridgeClient } from '../shared/clients/eventbridge.js';
import { s3Client } from '../shared/clients/s3.js';
import { requireEnv } from '../shared/env.js';
import { ConfigurationError } from '../shared/errors.js';
import { ENV } from '../shared/layout.js';
import { logger } from '../shared/logger.js';
import type { FinishTrainingEvent } from '../training/pipeline/contract.js';
import { type FinishTrainingResult, finishTraining } from '../training/pipeline/finish.js';
import { NewDataCounter } from '../training/pipeline/new-data.js';
import { TrainingStateStore } from '../training/pipeline/training-state.js';

const trackingTable = requireEnv(ENV.trackingTable);
const tracking = new TrackingStore({ documents: documentClient(), s3: s3Client(), tableName: trackingTable });
const state = new TrainingStateStore(documentClient(), trackingTable);
const eventBridge = eventBridgeClient();
const busName = requireEnv(ENV.eventBus);
// Finishing only resets the counter; it never starts an execution.
const newData = new NewDataCounter(documentClient(), trackingTable, {
  start: () => Promise.reject(new ConfigurationError('FinishTraining starts no training execution')),
});

/**
 * The training workflow's FinishTraining task: records the outcome on the run and for reuse,
 * releases the lease and emits TrainingSucceeded, TrainingRejected or TrainingFailed
 * (lambdas/training/pipeline/finish.ts).
 */
async function finish(event: FinishTrainingEvent): Promise<FinishTrainingResult> {
  const result = await finishTraining(event, { tracking, state, eventBridge, busName, newData });
  logger.info('training finished', { model: event.model, outcome: result.outcome, runId: result.runId });
  return result;
}

export const handler = middy(finish).use(injectLambdaContext(logger));
