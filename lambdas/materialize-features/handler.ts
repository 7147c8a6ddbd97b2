import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { defineFeatureView, type FeatureView, type FeatureViewInput } from '../feature-store/feature-view.js';
import { type MaterializeResult, materializeView } from '../feature-store/materialize.js';
import { OnlineStore } from '../feature-store/online-store.js';
import { clients } from '../shared/clients.js';
import { requireEnv } from '../shared/env.js';
import { ValidationError } from '../shared/errors.js';
import { logger } from '../shared/logger.js';
import { S3ObjectStore } from '../shared/object-store.js';

/** The feature view definitions the CDK app validated, baked in at bundle time (lib/feature-store.ts). */
declare const __MLOPS_FEATURE_VIEWS__: FeatureViewInput[] | undefined;

const views = new Map<string, FeatureView>(
  (typeof __MLOPS_FEATURE_VIEWS__ === 'undefined' ? [] : __MLOPS_FEATURE_VIEWS__).map((v) => [
    v.name,
    defineFeatureView(v),
  ]),
);
const store = new S3ObjectStore(clients.s3(), requireEnv('OFFLINE_BUCKET'));
const online = new OnlineStore(clients.documents(), requireEnv('ONLINE_TABLE'));

/** Materializes one view (event: `{ view }`, as the per-view EventBridge schedule sends it). */
async function materialize(event: { view?: unknown }): Promise<MaterializeResult> {
  const view = typeof event?.view === 'string' ? views.get(event.view) : undefined;
  if (view === undefined)
    throw new ValidationError('view', `must be a defined feature view (${String(event?.view)} is not)`);
  const result = await materializeView(view, { store, online });
  logger.info('view materialized', { ...result });
  return result;
}

export const handler = middy(materialize).use(injectLambdaContext(logger));
