import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { configuredViews } from '../feature-store/configured-views.js';
import { findFeatureView } from '../feature-store/feature-view.js';
import {
  type IngestResult,
  ingestBatch,
  ingestRequestSchema,
  MAX_INGEST_BODY_BYTES,
} from '../feature-store/ingest.js';
import { clients } from '../shared/clients.js';
import { requireEnv } from '../shared/env.js';
import { ValidationError } from '../shared/errors.js';
import { logger } from '../shared/logger.js';
import { readBounded, S3ObjectStore } from '../shared/object-store.js';
import { parseOrThrow } from '../shared/validation.js';

const views = configuredViews();
const store = new S3ObjectStore(clients.s3(), requireEnv('OFFLINE_BUCKET'));

/** Where callers put batches before asking for their ingestion. */
export const LANDING_PREFIX = 'landing/';

interface IngestEvent {
  readonly view?: unknown;
  readonly batchId?: unknown;
  readonly format?: unknown;
  /** Key of the batch under landing/ in the offline bucket. */
  readonly sourceKey?: unknown;
}

/** Ingests one landed batch into the offline store. */
async function ingest(event: IngestEvent): Promise<IngestResult> {
  const sourceKey = event?.sourceKey;
  if (typeof sourceKey !== 'string' || !sourceKey.startsWith(LANDING_PREFIX) || sourceKey.includes('..')) {
    throw new ValidationError('sourceKey', `must be a key under ${LANDING_PREFIX}`);
  }
  // The request is checked before the (possibly large) batch is read.
  const request = { view: event.view, batchId: event.batchId, format: event.format };
  findFeatureView(views, parseOrThrow(ingestRequestSchema, request).view);
  const body = await readBounded(store, sourceKey, 'sourceKey', MAX_INGEST_BODY_BYTES);
  const result = await ingestBatch(request, body, {
    store,
    views,
  });
  logger.info('batch ingested', { ...result, files: result.files.length });
  return result;
}

export const handler = middy(ingest).use(injectLambdaContext(logger));
