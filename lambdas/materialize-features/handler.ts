import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { configuredViews } from '../feature-store/configured-views.js';
import { findFeatureView } from '../feature-store/feature-view.js';
import { type MaterializeResult, materializeView } from '../feature-store/materialize.js';
import { OnlineStore } from '../feature-store/online-store.js';
import { ViewLeases } from '../feature-store/view-lease.js';
import { documentClient } from '../shared/clients/dynamodb.js';
import { s3Client } from '../shared/clients/s3.js';
import { requireEnv } from '../shared/env.js';
import { ENV } from '../shared/layout.js';
import { logger } from '../shared/logger.js';
import { metrics, recordMaterialization, recordOverlapAvoided } from '../shared/metrics.js';
import { S3ObjectStore } from '../shared/object-store.js';

const views = configuredViews();
const store = new S3ObjectStore(s3Client(), requireEnv(ENV.offlineBucket));
const online = new OnlineStore(documentClient(), requireEnv(ENV.onlineTable));
const leases = new ViewLeases(documentClient(), requireEnv(ENV.leaseTable));
/** A lease outlives its invocation by this much, so a live run never loses it to clock skew. */
const LEASE_MARGIN_MS = 60_000;

/** The parts of the Lambda context a run reads. */
interface InvocationContext {
  readonly awsRequestId: string;
  getRemainingTimeInMillis(): number;
}

/** What a run returns: the materialization, or that another run of the view holds its lease. */
export type MaterializeOutcome = MaterializeResult | { readonly view: string; readonly overlapped: true };

/**
 * Materializes one view (event: `{ view }`, as the per-view EventBridge schedule sends it), holding
 * the view's lease for as long as this invocation may live, so runs of one view never overlap. A
 * run that finds the lease taken does nothing (counted in MaterializeOverlapsAvoided): the running
 * one covers the same batches, and the freshness alarm fires if it never finishes.
 */
async function materialize(
  event: { view?: unknown },
  context: InvocationContext,
): Promise<MaterializeOutcome> {
  const started = Date.now();
  const view = findFeatureView(views, event?.view);
  const lease = await leases.acquire(
    view.name,
    context.awsRequestId,
    context.getRemainingTimeInMillis() + LEASE_MARGIN_MS,
  );
  if (lease === undefined) {
    recordOverlapAvoided(metrics, view.name);
    logger.warn('view is being materialized by another run; nothing done', { view: view.name });
    return { view: view.name, overlapped: true };
  }
  try {
    const result = await materializeView(view, { store, online });
    recordMaterialization(metrics, result, Date.now() - started, { moved: true, nowMs: Date.now() });
    logger.info('view materialized', { ...result });
    return result;
  } finally {
    await leases.release(lease);
  }
}

export const handler = middy(materialize).use(injectLambdaContext(logger)).use(logMetrics(metrics));
