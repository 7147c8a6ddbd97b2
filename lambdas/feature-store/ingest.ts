/**
 * Validated ingestion of one batch into the offline store.
 *
 * A batch is claimed before anything else is written, and becomes visible only when it commits:
 *
 * 1. Claim: `ingestion/<view>/<batch>.claim.json`, written only if absent (S3 If-None-Match), records
 *    the body's SHA-256, its format and the ingestion time. Of concurrent ingestions of one batch id,
 *    one claim wins; another body under a claimed id is a {@link ConflictError} and writes nothing;
 *    the same body takes the claim's ingestion time, so every attempt encodes identical bytes.
 * 2. Stage: accepted rows as Parquet, one file per event-time date, under
 *    `staging/<view>/<batch>/date=YYYY-MM-DD.parquet` — outside `features/`, so Athena, Glue and
 *    training sets never read a batch that has not committed; and rejected rows with their reasons
 *    (`quarantine/<view>/<batch>.jsonl`).
 * 3. Commit: the batch manifest (`ingestion/<view>/<batch>.json`), written if absent.
 * 4. Publish: each staged file copied to `features/<view>/date=YYYY-MM-DD/<batch>.parquet`, then
 *    deleted from staging; last, an entry in the time-ordered ingestion log
 *    (`ingestion-log/<view>/<time>_<batch>`, read by materialization) — so an entry means every file
 *    is in place.
 *
 * Recovery is a rerun of the same batch (same id, same body): a crash before the manifest left
 * staged files only (nothing readers see), which the rerun writes again; a crash after it left
 * publishing or the log entry unfinished, which the rerun (answering `duplicate: true`) finishes.
 * Every received record is accepted or rejected.
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import {
  ConflictError,
  CorruptDataError,
  DependencyError,
  InternalError,
  ValidationError,
} from '../shared/errors.js';
import {
  featureFileKey,
  ingestionClaimKey,
  ingestionLogPrefix,
  ingestionManifestKey,
  PARQUET_CONTENT_TYPE,
  quarantineKey,
  stagedFileKey,
  stagingPrefix,
} from '../shared/layout.js';
import type { ObjectStore, StagingStore } from '../shared/object-store.js';
import { parseOrThrow } from '../shared/validation.js';
import { type FeatureView, findFeatureView } from './feature-view.js';
import { encodeFeatureRows } from './parquet-codec.js';
import { INGEST_FORMATS, type IngestFormat, parseBody } from './row-sources.js';
import { compileRowValidator, MAX_EVENT_TIME_SKEW_MS, type TypedRow } from './row-validation.js';

/**
 * Batch ids name S3 objects. They start with a letter or digit: Hive and Trino (Athena) pass over
 * files whose names start with `_` or `.`, so such a batch would be committed yet never read.
 */
export const BATCH_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const BATCH_ID_RULE = 'must be 1-128 of A-Z a-z 0-9 . _ -, starting with a letter or digit';

/**
 * The largest body one ingestion takes: 32 MiB. Parsing holds the text, a record per row and the
 * encoded files: bench/ingest-memory.bench.ts measured peaks of 0.6 GB (JSON lines), 1.1 GB (CSV)
 * and 1.6 GB (Parquet, which compresses ~10×: 3M rows) at this size, inside the ingestion
 * function's 2048 MB. Larger inputs are split into several batches.
 */
export const MAX_INGEST_BODY_BYTES = 32 * 2 ** 20;

export const ingestRequestSchema = z.strictObject({
  view: z.string({ error: 'must be a string' }).min(1, 'must name a feature view'),
  batchId: z.string({ error: 'must be a string' }).regex(BATCH_ID, BATCH_ID_RULE),
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
  /** SHA-256 (hex) of the ingested body; absent in manifests written before claims existed. */
  readonly contentSha256?: string;
  /** The body's format, recorded with its hash. */
  readonly format?: IngestFormat;
}

/** JSON replacer for raw rows: Parquet int64 values arrive as bigint, which JSON cannot hold. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value !== 'bigint') return value;
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value.toString();
}

export {
  featureFileKey,
  ingestionClaimKey,
  ingestionLogPrefix,
  ingestionManifestKey,
  quarantineKey,
  stagedFileKey,
  stagingPrefix,
};

/** Digits of an ingestion time in log keys: key order is time order (epoch ms up to year 33658). */
const LOG_TIME_DIGITS = 15;
/**
 * The ingestion log: one small object per ingestion, keyed by its time, so materialization lists
 * only what came since its watermark (ListObjectsV2 StartAfter) instead of every batch ever.
 */
export const ingestionLogKey = (view: string, ingestedAtMs: number, batchId: string) =>
  `${ingestionLogPrefix(view)}${String(Math.max(0, Math.floor(ingestedAtMs))).padStart(LOG_TIME_DIGITS, '0')}_${batchId}`;
/** The time and batch id of a log key (undefined for a key that is not one). */
export function parseIngestionLogKey(key: string): { ingestedAtMs: number; batchId: string } | undefined {
  const match = /\/(\d{15})_([A-Za-z0-9._-]{1,128})$/.exec(key);
  return match ? { ingestedAtMs: Number(match[1]), batchId: match[2] as string } : undefined;
}

/** What a claim records: which body owns the batch id, and the ingestion time every attempt uses. */
interface BatchClaim {
  readonly contentSha256: string;
  readonly format: string;
  readonly ingestedAtMs: number;
}

export interface IngestOptions {
  readonly store: StagingStore;
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

/**
 * Ingests one batch. Throws a ValidationError (nothing written) for an unknown view or a bad
 * request/body, and a ConflictError (nothing written) when the batch id was claimed by another body.
 */
export async function ingestBatch(
  request: { view: unknown; batchId: unknown; format: unknown },
  body: Uint8Array,
  options: IngestOptions,
): Promise<IngestResult> {
  const { view: viewName, batchId, format } = parseOrThrow(ingestRequestSchema, request);
  const view = findFeatureView(options.views, viewName);
  if (body.byteLength > MAX_INGEST_BODY_BYTES)
    throw new ValidationError(
      'body',
      `must be at most ${MAX_INGEST_BODY_BYTES} bytes (32 MiB); split the batch (this one is ${body.byteLength})`,
    );
  const contentSha256 = createHash('sha256').update(body).digest('hex');
  const conflict = (recorded: { contentSha256?: string; format?: string }) => {
    if (recorded.contentSha256 !== undefined && recorded.contentSha256 !== contentSha256)
      return new ConflictError(
        `batchId: ${batchId} was already ingested into ${view.name} with other content (sha256 ${recorded.contentSha256}); use a new batch id`,
      );
    if (recorded.format !== undefined && recorded.format !== format)
      return new ConflictError(
        `batchId: ${batchId} was already ingested into ${view.name} as ${recorded.format}, not ${format}; use a new batch id`,
      );
    return undefined;
  };
  const previous = await readJson<IngestResult>(options.store, ingestionManifestKey(view.name, batchId));
  if (previous !== undefined) {
    const error = conflict(previous);
    if (error !== undefined) throw error;
    return duplicateOf(previous, options);
  }

  // The body is parsed and validated before the claim, so a refused body leaves nothing behind.
  const now = (options.now?.() ?? new Date()).getTime();
  let prepared = await prepareBatch(view, format as IngestFormat, body, now);
  const claimKey = ingestionClaimKey(view.name, batchId);
  const claim: BatchClaim = { contentSha256, format, ingestedAtMs: now };
  let ingestedAtMs = now;
  const claimed = await options.store.put(claimKey, JSON.stringify(claim), {
    contentType: 'application/json',
    ifAbsent: true,
  });
  if (!claimed) {
    const owner = await readJson<BatchClaim>(options.store, claimKey);
    // S3 said the claim exists, then that it does not (deleted in between): a retry claims afresh.
    if (owner === undefined)
      throw new DependencyError('s3', `the claim ${claimKey} was taken but cannot be read`);
    const error = conflict(owner);
    if (error !== undefined) throw error;
    // The same body: a rerun after a crash, or a concurrent twin. Each encodes at the claim's time,
    // so all write the same bytes.
    ingestedAtMs = owner.ingestedAtMs;
    if (ingestedAtMs !== now) prepared = await prepareBatch(view, format as IngestFormat, body, ingestedAtMs);
  }
  return commitBatch(view, batchId, prepared, ingestedAtMs, options, {
    contentSha256,
    format: format as IngestFormat,
  });
}

/**
 * The I/O part of ingestion, once the batch is claimed: stages its files, writes its quarantine and
 * its manifest (if absent), publishes the files and writes the ingestion-log entry, keyed by the
 * time it is written — so however long the batch took, the entry lands inside the window of the
 * next materialization. Losing the manifest to a concurrent twin answers with the twin's record.
 */
export async function commitBatch(
  view: FeatureView,
  batchId: string,
  prepared: PreparedBatch,
  ingestedAtMs: number,
  options: Pick<IngestOptions, 'store' | 'now'>,
  content?: { readonly contentSha256: string; readonly format: IngestFormat },
): Promise<IngestResult> {
  const { received, accepted, quarantine } = prepared;
  if (accepted + quarantine.length !== received) {
    throw new InternalError(`ingestion lost rows: ${accepted} + ${quarantine.length} != ${received}`);
  }
  const files: string[] = [];
  for (const [date, parquet] of prepared.files) {
    await options.store.put(stagedFileKey(view.name, date, batchId), parquet, {
      contentType: PARQUET_CONTENT_TYPE,
    });
    files.push(featureFileKey(view.name, date, batchId));
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
    ...content,
  };
  const written = await options.store.put(ingestionManifestKey(view.name, batchId), JSON.stringify(result), {
    contentType: 'application/json',
    ifAbsent: true,
  });
  if (!written) {
    // A concurrent twin committed first; its manifest is the record. Our staged files hold the
    // same bytes as its own: publishing them is harmless and leaves nothing staged behind.
    const winner = await readJson<IngestResult>(options.store, ingestionManifestKey(view.name, batchId));
    if (winner === undefined)
      throw new DependencyError('s3', `the manifest of ${batchId} was written but cannot be read`);
    await publish(options.store, winner);
    return duplicateOf(winner, options);
  }
  await publish(options.store, result);
  await options.store.put(logKey, logEntry(view.name, batchId), { contentType: 'application/json' });
  return result;
}

/**
 * Moves a committed batch's staged files to their published keys. A staged file already gone was
 * published by an earlier or concurrent attempt (each copies before it deletes); its published
 * copy must then exist.
 */
async function publish(store: StagingStore, manifest: IngestResult): Promise<void> {
  for (const key of manifest.files) {
    const date = /\/date=(\d{4}-\d{2}-\d{2})\//.exec(key)?.[1];
    if (date === undefined)
      throw new CorruptDataError(
        ingestionManifestKey(manifest.view, manifest.batchId),
        `lists ${key}, not a feature file`,
      );
    const staged = stagedFileKey(manifest.view, date, manifest.batchId);
    if (await store.copy(staged, key)) await store.delete(staged);
    else if ((await store.size(key)) === undefined)
      throw new CorruptDataError(
        key,
        `of committed batch ${manifest.batchId} is neither staged nor published`,
      );
  }
}

/** A log entry's body: the manifest it points at (the key alone says as much; this is for people). */
const logEntry = (view: string, batchId: string) =>
  JSON.stringify({ manifest: ingestionManifestKey(view, batchId) });

async function readJson<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  const body = await store.get(key);
  return body === undefined ? undefined : (JSON.parse(new TextDecoder().decode(body)) as T);
}

/**
 * The recorded result of a batch committed before. When its log entry is missing (a crash after
 * the manifest), finishes publishing its files and writes the entry.
 */
async function duplicateOf(
  manifest: IngestResult,
  options: Pick<IngestOptions, 'store' | 'now'>,
): Promise<IngestResult> {
  if (manifest.logKey !== undefined && (await options.store.size(manifest.logKey)) === undefined) {
    await publish(options.store, manifest);
    const now = (options.now?.() ?? new Date()).getTime();
    await options.store.put(
      ingestionLogKey(manifest.view, now, manifest.batchId),
      logEntry(manifest.view, manifest.batchId),
      { contentType: 'application/json' },
    );
  }
  return { ...manifest, duplicate: true };
}
