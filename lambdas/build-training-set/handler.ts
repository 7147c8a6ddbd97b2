import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { configuredViews } from '../feature-store/configured-views.js';
import {
  type DatasetManifest,
  getHistoricalFeatures,
  MAX_ENTITY_ROWS_BYTES,
  parseEntityRows,
} from '../feature-store/historical.js';
import { s3Client } from '../shared/clients/s3.js';
import { requireEnv } from '../shared/env.js';
import { ValidationError } from '../shared/errors.js';
import { ENV, OFFLINE_PREFIX } from '../shared/layout.js';
import { logger } from '../shared/logger.js';
import { metrics, recordTrainingSet } from '../shared/metrics.js';
import { readBounded, S3ObjectStore } from '../shared/object-store.js';

const views = configuredViews();
const store = new S3ObjectStore(s3Client(), requireEnv(ENV.offlineBucket));

interface BuildTrainingSetEvent {
  /** Key under landing/ of the entity rows (JSON lines or Parquet): entity keys and the timestamp. */
  readonly entityRowsKey?: unknown;
  readonly featureRefs?: unknown;
  readonly timestampColumn?: unknown;
  readonly name?: unknown;
}

/** What the function returns: the manifest without its list of inputs, which stays in S3. */
export type TrainingSetResult = Omit<DatasetManifest, 'inputs'> & { readonly inputCount: number };

/**
 * Builds a point-in-time-correct training set (the training workflow's Prepare step) and returns
 * `{ hash, dataKey, manifestKey, rowCount, featureRefs, inputCount, semantics }`. The input list
 * (one entry per offline file read) stays in the manifest object: a year of hourly batches would
 * outgrow a state machine's 256 KB payload.
 */
async function buildTrainingSet(event: BuildTrainingSetEvent): Promise<TrainingSetResult> {
  const started = Date.now();
  const key = event?.entityRowsKey;
  if (typeof key !== 'string' || !key.startsWith(OFFLINE_PREFIX.landing) || key.includes('..')) {
    throw new ValidationError('entityRowsKey', `must be a key under ${OFFLINE_PREFIX.landing}`);
  }
  if (!Array.isArray(event.featureRefs) || !event.featureRefs.every((r) => typeof r === 'string')) {
    throw new ValidationError('featureRefs', 'must be a list of view:feature strings');
  }
  for (const field of ['timestampColumn', 'name'] as const) {
    if (event[field] !== undefined && typeof event[field] !== 'string')
      throw new ValidationError(field, 'must be a string when given');
  }
  const format = key.endsWith('.parquet')
    ? 'parquet'
    : key.endsWith('.jsonl') || key.endsWith('.json')
      ? 'jsonl'
      : undefined;
  if (format === undefined)
    throw new ValidationError(
      'entityRowsKey',
      'must end in .jsonl, .json or .parquet (CSV cells carry no types)',
    );
  const body = await readBounded(store, key, 'entityRowsKey', MAX_ENTITY_ROWS_BYTES);
  const entityRows = await parseEntityRows(format, body);
  const manifest = await getHistoricalFeatures(
    {
      entityRows,
      featureRefs: event.featureRefs as string[],
      ...(typeof event.timestampColumn === 'string' ? { timestampColumn: event.timestampColumn } : {}),
      ...(typeof event.name === 'string' ? { name: event.name } : {}),
    },
    { store, views },
  );
  recordTrainingSet(metrics, manifest.rowCount, Date.now() - started);
  logger.info('training set built', { hash: manifest.hash, rowCount: manifest.rowCount });
  const { inputs, ...summary } = manifest;
  return { ...summary, inputCount: inputs.length };
}

export const handler = middy(buildTrainingSet).use(injectLambdaContext(logger)).use(logMetrics(metrics));
