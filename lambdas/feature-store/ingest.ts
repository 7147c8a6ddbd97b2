/**
 * Validated ingestion of one batch into the offline store.
 *
 * Writes, in this order: accepted rows as Parquet, one file per event-time date
 * (`features/<view>/date=YYYY-MM-DD/<batch>.parquet`); rejected rows with their reasons
 * (`quarantine/<view>/<batch>.jsonl`); the batch manifest (`ingestion/<view>/<batch>.json`) with a
 * write-if-absent; and last, an entry in the time-ordered ingestion log
 * (`ingestion-log/<view>/<time>_<batch>`, read by materialization). The manifest marks the batch
 * done: ingesting the same batch id again returns the recorded result and writes nothing, and
 * training sets read only files a manifest lists. A crash before the manifest leaves files that a
 * rerun overwrites (keys derive from the batch id). Every received record is accepted or rejected.
 */
import * as z from 'zod';
import type { ObjectStore } from '../shared/object-store.js';
import { parseOrThrow } from '../shared/validation.js';
import { type FeatureView, findFeatureView } from './feature-view.js';
import { encodeFeatureRows } from './parquet-codec.js';
import { INGEST_FORMATS, type IngestFormat, parseBody } from './row-sources.js';
import { compileRowValidator, MAX_EVENT_TIME_SKEW_MS, type TypedRow } from './row-validation.js';

export const ingestRequestSchema = z.strictObject({
  view: z.string({ error: 'must be a string' }).min(1, 'must name a feature view'),
  batchId: z
    .string({ error: 'must be a string' })
    .regex(/^[A-Za-z0-9._-]{1,128}$/, 'must be 1-128 of A-Z a-z 0-9 . _ -'),
  format: z.enum(INGEST_FORMATS, { error: `must be one of ${INGEST_FORMATS.join(', ')}` }),
});

export interface IngestResult {
  readonly view: string;
  readonly batchId: string;
  readonly received: number;
  readonly accepted: number;
  readonly rejected: number;
  /** Parquet files written, one per event date. */
  readonly files: string[];
  readonly quarantineKey?: string;
  /** True when this batch id had been ingested before and nothing was written now. */
  readonly duplicate: boolean;
  /** When the batch's ingestion started (epoch ms): the rows' `ingested_at`, which breaks ties. */
  readonly ingestedAtMs: number;
  /** The batch's entry in the ingestion log (see {@link commitBatch}). */
  readonly logKey?: string;
}

/** JSON replacer for raw rows: Parquet int64 values arrive as bigint, which JSON cannot hold. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value !== 'bigint') return value;
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value.toString();
}

export const featureFileKey = (view: string, date: string, batchId: string) =>
  `features/${view}/date=${date}/${batchId}.parquet`;
export const quarantineKey = (view: string, batchId: string) => `quarantine/${view}/${batchId}.jsonl`;
export const ingestionManifestKey = (view: string, batchId: string) => `ingestion/${view}/${batchId}.json`;
/** Digits of an ingestion time in log keys: key order is time order (epoch ms up to year 33658). */
const LOG_TIME_DIGITS = 15;
/**
 * The ingestion log: one small object per ingestion, keyed by its time, so materialization lists
 * only what came since its watermark (ListObjectsV2 StartAfter) instead of every batch ever.
 */
export const ingestionLogPrefix = (view: string) => `ingestion-log/${view}/`;
export const ingestionLogKey = (view: string, ingestedAtMs: number, batchId: string) =>
  `${ingestionLogPrefix(view)}${String(Math.max(0, Math.floor(ingestedAtMs))).padStart(LOG_TIME_DIGITS, '0')}_${batchId}`;
/** The time and batch id of a log key (undefined for a key that is not one). */
export function parseIngestionLogKey(key: string): { ingestedAtMs: number; batchId: string } | undefined {
  const match = /\/(\d{15})_([A-Za-z0-9._-]{1,128})$/.exec(key);
  return match ? { ingestedAtMs: Number(match[1]), batchId: match[2] as string } : undefined;
}

export interface IngestOptions {
  readonly store: ObjectStore;
  readonly views: ReadonlyMap<string, FeatureView>;
  readonly now?: () => Date;
}

export interface PreparedBatch {
  readonly received: number;
  readonly accepted: number;
  /** Parquet files by event date (YYYY-MM-DD), in date order. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  /** Rejected records as JSON lines: position, the row or text, reasons. */
  readonly quarantine: readonly string[];
}

/** The CPU part of ingestion, no I/O: parse, validate, group by event date, encode Parquet. */
export async function prepareBatch(
  view: FeatureView,
  format: IngestFormat,
  body: Uint8Array,
  ingestedAtMs: number,
): Promise<PreparedBatch> {
  const parsed = await parseBody(format, body);
  // Rows stamped more than a day after their ingestion would pin the online value until then.
  const validate = compileRowValidator(view, parsed.kind, {
    maxEventTimeMs: ingestedAtMs + MAX_EVENT_TIME_SKEW_MS,
  });
  const byDate = new Map<string, TypedRow[]>();
  const quarantine: string[] = [];
  for (const record of parsed.records) {
    if ('malformed' in record) {
      quarantine.push(
        JSON.stringify({ position: record.position, text: record.text, reasons: [record.malformed] }),
      );
      continue;
    }
    const verdict = validate(record.row);
    if (!verdict.ok) {
      quarantine.push(
        JSON.stringify({ position: record.position, row: record.row, reasons: verdict.reasons }, jsonSafe),
      );
      continue;
    }
    const date = new Date(verdict.row.eventTimeMs).toISOString().slice(0, 10);
    const rows = byDate.get(date);
    if (rows === undefined) byDate.set(date, [verdict.row]);
    else rows.push(verdict.row);
  }
  const files = new Map<string, Uint8Array>();
  let accepted = 0;
  for (const [date, rows] of [...byDate].sort(([a], [b]) => a.localeCompare(b))) {
    files.set(date, encodeFeatureRows(view, rows, ingestedAtMs));
    accepted += rows.length;
  }
  return { received: parsed.records.length, accepted, files, quarantine };
}

/** Ingests one batch. Throws a ValidationError (nothing written) for an unknown view or a bad request/body. */
export async function ingestBatch(
  request: { view: unknown; batchId: unknown; format: unknown },
  body: Uint8Array,
  options: IngestOptions,
): Promise<IngestResult> {
  const { view: viewName, batchId, format } = parseOrThrow(ingestRequestSchema, request);
  const view = findFeatureView(options.views, viewName);
  const previous = await readManifest(options.store, view.name, batchId);
  if (previous !== undefined) return duplicateOf(previous, options);
  const ingestedAtMs = (options.now?.() ?? new Date()).getTime();
  const prepared = await prepareBatch(view, format as IngestFormat, body, ingestedAtMs);
  return commitBatch(view, batchId, prepared, ingestedAtMs, options);
}

/**
 * The I/O part of ingestion: writes a prepared batch's files, its quarantine, its manifest (if
 * absent) and then its ingestion-log entry, keyed by the time it is written — so however long the
 * batch took, the entry lands inside the window of the next materialization. A crash before the
 * manifest leaves files a rerun overwrites (same keys) and readers pass over (no manifest lists
 * them); a crash between manifest and log entry is healed by the rerun, which finds the manifest and
 * writes the missing entry.
 */
export async function commitBatch(
  view: FeatureView,
  batchId: string,
  prepared: PreparedBatch,
  ingestedAtMs: number,
  options: Pick<IngestOptions, 'store' | 'now'>,
): Promise<IngestResult> {
  const files: string[] = [];
  for (const [date, parquet] of prepared.files) {
    const key = featureFileKey(view.name, date, batchId);
    await options.store.put(key, parquet, { contentType: 'application/vnd.apache.parquet' });
    files.push(key);
  }
  const { received, accepted, quarantine } = prepared;
  if (accepted + quarantine.length !== received) {
    throw new Error(`ingestion lost rows: ${accepted} + ${quarantine.length} != ${received}`);
  }
  if (quarantine.length > 0) {
    await options.store.put(quarantineKey(view.name, batchId), `${quarantine.join('\n')}\n`, {
      contentType: 'application/x-ndjson',
    });
  }
  const logKey = ingestionLogKey(view.name, (options.now?.() ?? new Date()).getTime(), batchId);
  const result: IngestResult = {
    view: view.name,
    batchId,
    received,
    accepted,
    rejected: quarantine.length,
    files,
    ...(quarantine.length > 0 ? { quarantineKey: quarantineKey(view.name, batchId) } : {}),
    duplicate: false,
    ingestedAtMs,
    logKey,
  };
  const written = await options.store.put(ingestionManifestKey(view.name, batchId), JSON.stringify(result), {
    contentType: 'application/json',
    ifAbsent: true,
  });
  if (!written) {
    // A concurrent ingestion of the same batch finished first; its manifest is the record.
    const winner = await readManifest(options.store, view.name, batchId);
    if (winner !== undefined) return duplicateOf(winner, options);
  }
  await options.store.put(logKey, logEntry(view.name, batchId), { contentType: 'application/json' });
  return result;
}

/** A log entry's body: the manifest it points at (the key alone says as much; this is for people). */
const logEntry = (view: string, batchId: string) =>
  JSON.stringify({ manifest: ingestionManifestKey(view, batchId) });

async function readManifest(
  store: ObjectStore,
  view: string,
  batchId: string,
): Promise<IngestResult | undefined> {
  const body = await store.get(ingestionManifestKey(view, batchId));
  return body === undefined ? undefined : (JSON.parse(new TextDecoder().decode(body)) as IngestResult);
}

/** The recorded result of a batch ingested before; writes its log entry if a crash lost it. */
async function duplicateOf(
  manifest: IngestResult,
  options: Pick<IngestOptions, 'store' | 'now'>,
): Promise<IngestResult> {
  if (manifest.logKey !== undefined && (await options.store.get(manifest.logKey)) === undefined) {
    const now = (options.now?.() ?? new Date()).getTime();
    await options.store.put(
      ingestionLogKey(manifest.view, now, manifest.batchId),
      logEntry(manifest.view, manifest.batchId),
      {
        contentType: 'application/json',
      },
    );
  }
  return { ...manifest, duplicate: true };
}
