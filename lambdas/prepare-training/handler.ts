import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { configuredViews } from '../feature-store/configured-views.js';
import { TrackingStore } from '../registry/tracking-store.js';
import { documentClient } from '../shared/clients/dynamodb.js';
import { s3Client } from '../shared/clients/s3.js';
import { requireEnv } from '../shared/env.js';
import { ENV } from '../shared/layout.js';
import { logger } from '../shared/logger.js';
import { metrics, recordTrainingSet } from '../shared/metrics.js';
import { S3ObjectStore } from '../shared/object-store.js';
import type { PrepareTrainingEvent, PrepareTrainingResult } from '../training/pipeline/contract.js';
import { prepareTraining } from '../training/pipeline/prepare.js';
import { TrainingStateStore } from '../training/pipeline/training-state.js';

const trackingTable = requireEnv(ENV.trackingTable);
const buckets = { offline: requireEnv(ENV.offlineBucket), artifact: requireEnv(ENV.artifactBucket) };
const store = new S3ObjectStore(s3Client(), buckets.offline);
const tracking = new TrackingStore({ documents: documentClient(), s3: s3Client(), tableName: trackingTable });
const state = new TrainingStateStore(documentClient(), trackingTable);
const views = configuredViews();

/**
 * The training workflow's PrepareTraining task: run, lease, training set, candidates
 * (lambdas/training/pipeline/prepare.ts). Returns `dropped`, `reused` or `train`.
 */
async function prepare(event: PrepareTrainingEvent): Promise<PrepareTrainingResult> {
  const started = Date.now();
  const result = await prepareTraining(event, { tracking, state, store, views, buckets });
  if (result.outcome === 'train') recordTrainingSet(metrics, result.dataset.rowCount, Date.now() - started);
  logger.info('training prepared', {
    model: event.model,
    outcome: result.outcome,
    runId: result.runId,
    ...(result.outcome === 'train'
      ? {
          datasetHash: result.dataset.hash,
          rows: result.dataset.rowCount,
          candidates: result.candidates.length,
        }
      : {}),
  });
  return result;
}

export const handler = middy(prepare).use(injectLambdaContext(logger)).use(logMetrics(metrics));
