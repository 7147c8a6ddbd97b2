import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { configuredViews } from '../feature-store/configured-views.js';
import { findFeatureView } from '../feature-store/feature-view.js';
import {
  type IngestResult,
  ingestBatch,
  ingestRequestSchema,
  MAX_INGEST_BODY_BYTES,
} from '../feature-store/ingest.js';
import { isObjectCreatedEvent, LANDING_PREFIX, parseLandingKey } from '../feature-store/landing.js';
import { s3Client } from '../shared/clients/s3.js';
import { requireEnv } from '../shared/env.js';
import { ValidationError } from '../shared/errors.js';
import { ENV } from '../shared/layout.js';
import { logger } from '../shared/logger.js';
import { metrics, recordIngestion } from '../shared/metrics.js';
import { readBounded, S3ObjectStore } from '../shared/object-store.js';
import { parseOrThrow } from '../shared/validation.js';

const views = configuredViews();
const bucket = requireEnv(ENV.offlineBucket);
const store = new S3ObjectStore(s3Client(), bucket);

export { LANDING_PREFIX };

/** A direct request: the batch is already under landing/ (any key there). */
interface IngestEvent {
  readonly view?: unknown;
  readonly batchId?: unknown;
  readonly format?: unknown;
  /** Key of the batch under landing/ in the offline bucket. */
  readonly sourceKey?: unknown;
}

/**
 * The request an event stands for: a direct `{ view, batchId, format, sourceKey }`, or the S3
 * "Object Created" event of a batch landed at `landing/<view>/<batchId>.<format>` (EventBridge
 * invokes the function asynchronously; a key that breaks the layout fails into the failure queue).
 */
function requestOf(event: unknown): IngestEvent {
  if (!isObjectCreatedEvent(event)) return (event ?? {}) as IngestEvent;
  if (event.detail.bucket?.name !== bucket)
    throw new ValidationError('detail.bucket.name', `must be the offline bucket ${bucket}`);
  const key = event.detail.object?.key;
  if (typeof key !== 'string') throw new ValidationError('detail.object.key', 'must be a string');
  return parseLandingKey(key, 'detail.object.key');
}

/** Ingests one landed batch into the offline store. */
async function ingest(event: unknown): Promise<IngestResult> {
  const started = Date.now();
  const { sourceKey, ...rest } = requestOf(event);
  if (typeof sourceKey !== 'string' || !sourceKey.startsWith(LANDING_PREFIX) || sourceKey.includes('..')) {
    throw new ValidationError('sourceKey', `must be a key under ${LANDING_PREFIX}`);
  }
  // The request is checked before the (possibly large) batch is read.
  const request = { view: rest.view, batchId: rest.batchId, format: rest.format };
  findFeatureView(views, parseOrThrow(ingestRequestSchema, request).view);
  const body = await readBounded(store, sourceKey, 'sourceKey', MAX_INGEST_BODY_BYTES);
  const result = await ingestBatch(request, body, {
    store,
    views,
  });
  recordIngestion(metrics, result, Date.now() - started);
  logger.info('batch ingested', { ...result, files: result.files.length });
  return result;
}

export const handler = middy(ingest).use(injectLambdaContext(logger)).use(logMetrics(metrics));
