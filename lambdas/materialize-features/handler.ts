import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { configuredViews } from '../feature-store/configured-views.js';
import { findFeatureView } from '../feature-store/feature-view.js';
import { type MaterializeResult, materializeView } from '../feature-store/materialize.js';
import { OnlineStore } from '../feature-store/online-store.js';
import { documentClient } from '../shared/clients/dynamodb.js';
import { s3Client } from '../shared/clients/s3.js';
import { requireEnv } from '../shared/env.js';
import { ENV } from '../shared/layout.js';
import { logger } from '../shared/logger.js';
import { S3ObjectStore } from '../shared/object-store.js';

const views = configuredViews();
const store = new S3ObjectStore(s3Client(), requireEnv(ENV.offlineBucket));
const online = new OnlineStore(documentClient(), requireEnv(ENV.onlineTable));

/** Materializes one view (event: `{ view }`, as the per-view EventBridge schedule sends it). */
async function materialize(event: { view?: unknown }): Promise<MaterializeResult> {
  const view = findFeatureView(views, event?.view);
  const result = await materializeView(view, { store, online });
  logger.info('view materialized', { ...result });
  return result;
}

export const handler = middy(materialize).use(injectLambdaContext(logger));
