/**
 * The landing layout: producers put a batch at `landing/<view>/<batchId>.<format>` and its
 * ingestion starts from the bucket's object-created event (lib/feature-store.ts routes
 * `landing/<view>/` of every configured view to the ingest function). No SDK: the construct, the
 * handler and the CLI share it.
 */
import { ValidationError } from '../shared/errors.js';
import { landingViewPrefix, OFFLINE_PREFIX } from '../shared/layout.js';
import { INGEST_FORMATS, type IngestFormat } from './row-sources.js';

export const LANDING_PREFIX = OFFLINE_PREFIX.landing;

/** Where a batch for `view` lands. */
export const landingKey = (view: string, batchId: string, format: IngestFormat) =>
  `${landingViewPrefix(view)}${batchId}.${format}`;

export interface LandedBatch {
  readonly view: string;
  readonly batchId: string;
  readonly format: IngestFormat;
  readonly sourceKey: string;
}

const LANDED = new RegExp(`^${LANDING_PREFIX}([^/]+)/([^/]+)\\.([^./]+)$`);

/**
 * The batch a landed key names. Keys are taken as they arrive (S3 event keys are URL-encoded; the
 * characters a valid key may hold need no encoding). The view and batch id are checked by the
 * ingestion request's own rules; `field` names the event field in errors.
 */
export function parseLandingKey(key: string, field = 'key'): LandedBatch {
  const match = LANDED.exec(key);
  if (match === null)
    throw new ValidationError(field, `must be ${LANDING_PREFIX}<view>/<batchId>.<format> (got ${key})`);
  const [, view, batchId, format] = match as unknown as [string, string, string, string];
  if (!(INGEST_FORMATS as readonly string[]).includes(format))
    throw new ValidationError(
      field,
      `must end in .${INGEST_FORMATS.join(', .')} (the batch format; got .${format} in ${key})`,
    );
  return { view, batchId, format: format as IngestFormat, sourceKey: key };
}

/** The S3 "Object Created" event EventBridge delivers (the fields ingestion reads). */
export interface ObjectCreatedEvent {
  readonly source: 'aws.s3';
  readonly 'detail-type': 'Object Created';
  readonly detail: {
    readonly bucket?: { readonly name?: unknown };
    readonly object?: { readonly key?: unknown };
  };
}

export function isObjectCreatedEvent(event: unknown): event is ObjectCreatedEvent {
  const e = event as Partial<ObjectCreatedEvent> | null;
  return e?.source === 'aws.s3' && e['detail-type'] === 'Object Created' && typeof e.detail === 'object';
}
