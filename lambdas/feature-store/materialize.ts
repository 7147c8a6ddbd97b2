/**
 * Materialization: the latest value of each entity, from the batches ingested since the last
 * watermark, into the online store.
 *
 * - Window: batches whose entry in the ingestion log (`ingestion-log/<view>/<time>_<batch>`, in time
 *   order) is after `watermark − overlap` and up to now, listed from there (ListObjectsV2
 *   StartAfter), so a run costs what arrived since the last one, not every batch ever. The overlap
 *   (default 15 min, three times the ingestion function's timeout) looks again at batches that were
 *   still being ingested when the previous run looked (entry written, manifest not yet); entries the
 *   previous run already put online are recorded in the watermark and passed over.
 * - Writes: TransactWriteItems, up to 100 conditional Puts per request (see online-store.ts).
 *   BatchWriteItem would save the second WCU a transactional write costs per item, but it takes no
 *   condition, so a slow run could put back values older than a racing run's; per-item PutItem keeps
 *   the condition at 100 times the requests. Stale records cancel their transaction and are
 *   skipped, the rest are resubmitted; records that still cannot be written fail the run.
 * - Latest per entity by event time; ties go to the later ingestion, then to the later row of a batch.
 *   Values already expired (now − event time > TTL, the read rule) are not written.
 * - The watermark (`materialization/<view>/watermark.json`) advances only after every record was
 *   written, found stale or set aside, so a run that crashes or gives up midway is simply repeated.
 * - Set aside, never blocking: a record the online store can never take (./online-store.ts), a file
 *   that cannot be read (CorruptDataError) or that its manifest lists but is gone. They are recorded
 *   with their reasons in one object per run, `materialization/<view>/set-aside/<time>.jsonl`, and
 *   counted in the result (`setAside`); the run goes on and advances the watermark.
 * - Bounded work: a run reads at most `maxBatches` log entries and stops taking new ones once it has
 *   read `maxRows` rows (it finishes the batch it is in, and every entry of the same log millisecond).
 *   It then advances the watermark to the last entry it completed and says `more: true`; the next run
 *   goes on from there.
 */
import { CorruptDataError, ValidationError } from '../shared/errors.js';
import { setAsidePrefix, watermarkKey } from '../shared/layout.js';
import type { ObjectStore } from '../shared/object-store.js';
import { type FeatureView, viewTtlMs } from './feature-view.js';
import {
  type IngestResult,
  ingestionLogKey,
  ingestionLogPrefix,
  ingestionManifestKey,
  parseIngestionLogKey,
} from './ingest.js';
import type { OnlineRecord, OnlineStore } from './online-store.js';
import {
  type DecodedColumns,
  decodeFeatureColumns,
  INGESTED_AT_COLUMN,
  readFooter,
} from './parquet-codec.js';
import type { Value } from './row-validation.js';

export interface MaterializeOptions {
  readonly store: ObjectStore;
  readonly online: OnlineStore;
  /** @default Date.now */
  readonly now?: () => number;
  /** How far before the watermark a run looks again. @default 15 minutes */
  readonly overlapMs?: number;
  /** Online write transactions in flight, each of up to `batchSize` records. @default 8 */
  readonly concurrency?: number;
  /** Records per online write transaction, 1 to 100. @default 100 */
  readonly batchSize?: number;
  /**
   * An explicit window of ingestion-log times, (fromMs, toMs] (e.g. a backfill): batches committed in
   * it are materialized, and the watermark is neither read nor moved. @default since the watermark
   */
  readonly window?: { readonly fromMs: number; readonly toMs: number };
  /** Most ingestion-log entries (batches) one run reads. @default 1000 */
  readonly maxBatches?: number;
  /** Rows after which a run takes no new batch. @default 1,000,000 */
  readonly maxRows?: number;
}

export interface MaterializeResult {
  readonly view: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly batches: number;
  readonly rows: number;
  readonly written: number;
  readonly skipped: number;
  readonly expired: number;
  /** Records and files set aside (not written, see the module doc), listed in `setAsideKey`. */
  readonly setAside: number;
  readonly setAsideKey?: string;
  /** True when the run stopped at its bounds with batches left: run again. */
  readonly more: boolean;
}

/** Re-exported: the CLI and tests read a view's watermark and set-aside records where runs put them. */
export { setAsidePrefix, watermarkKey };

const setAsideKey = (view: string, runMs: number) =>
  `${setAsidePrefix(view)}${String(Math.max(0, Math.floor(runMs))).padStart(15, '0')}.jsonl`;

/** What a successful run leaves for the next one. */
interface Watermark {
  /** The run's clock: batches ingested up to here are online. */
  readonly ingestedAtMs: number;
  /** Log entries within the overlap that are online already: the next run passes over them. */
  readonly done?: readonly string[];
}
const decoder = new TextDecoder();

/** Materializes one online view. */
export async function materializeView(
  view: FeatureView,
  options: MaterializeOptions,
): Promise<MaterializeResult> {
  if (!view.online)
    throw new ValidationError('view', `must be an online view (${view.name} is offline only)`);
  const clock = (options.now ?? Date.now)();
  const { window } = options;
  if (window !== undefined && !(Number.isFinite(window.fromMs) && Number.isFinite(window.toMs)))
    throw new ValidationError('window', 'must have finite fromMs and toMs (epoch ms)');
  if (window !== undefined && !(window.fromMs < window.toMs && window.toMs <= clock))
    throw new ValidationError('window', 'must have fromMs < toMs <= now');
  // Expiry is judged at the run's clock; the window only bounds which batches are read.
  const now = window?.toMs ?? clock;
  const overlapMs = options.overlapMs ?? 15 * 60_000;
  const stored = window === undefined ? await options.store.get(watermarkKey(view.name)) : undefined;
  const mark: Watermark =
    stored === undefined
      ? { ingestedAtMs: Number.NEGATIVE_INFINITY, done: [] }
      : (JSON.parse(decoder.decode(stored)) as Watermark);
  const fromMs = window?.fromMs ?? mark.ingestedAtMs - overlapMs;
  const done = new Set(mark.done ?? []);
  const maxBatches = options.maxBatches ?? 1000;
  const maxRows = options.maxRows ?? 1_000_000;
  if (!(Number.isInteger(maxBatches) && maxBatches >= 1))
    throw new ValidationError('maxBatches', 'must be a positive integer');
  if (!(Number.isInteger(maxRows) && maxRows >= 1))
    throw new ValidationError('maxRows', 'must be a positive integer');
  /** Log entries online now or before, with their times: the next watermark's `done`. */
  const handled: { key: string; ms: number }[] = [];
  const setAside: string[] = [];
  let lastMs: number | undefined;
  let more = false;

  const latest = new Map<string, OnlineRecord>();
  const seen = new Set<string>();
  let batches = 0;
  let rows = 0;
  // '~' sorts after every batch-id character: start after every entry stamped at fromMs itself.
  const startAfter = fromMs >= 0 ? `${ingestionLogKey(view.name, fromMs, '')}~` : undefined;
  for await (const logKey of options.store.list(
    ingestionLogPrefix(view.name),
    startAfter ? { startAfter } : {},
  )) {
    const entry = parseIngestionLogKey(logKey);
    if (entry === undefined || entry.ingestedAtMs <= fromMs) continue;
    if (entry.ingestedAtMs > now) break; // keys are in time order
    // At its bounds, stop before a new log millisecond: every entry up to lastMs is then complete.
    if (lastMs !== undefined && entry.ingestedAtMs > lastMs && (batches >= maxBatches || rows >= maxRows)) {
      more = true;
      break;
    }
    lastMs = entry.ingestedAtMs;
    if (done.has(logKey)) {
      handled.push({ key: logKey, ms: entry.ingestedAtMs });
      continue;
    }
    const key = ingestionManifestKey(view.name, entry.batchId);
    const body = await options.store.get(key);
    // No manifest yet: that ingestion is still running or crashed; its rerun logs it again.
    if (body === undefined) continue;
    handled.push({ key: logKey, ms: entry.ingestedAtMs });
    if (seen.has(entry.batchId)) continue;
    seen.add(entry.batchId);
    const manifest = JSON.parse(decoder.decode(body)) as IngestResult;
    batches++;
    for (const file of manifest.files) {
      const columns = await readFile(options.store, key, file);
      if ('reason' in columns) setAside.push(JSON.stringify({ file, reason: columns.reason }));
      else rows += foldLatest(view, columns, latest);
    }
  }

  let expired = 0;
  const live: OnlineRecord[] = [];
  for (const record of latest.values()) {
    if (clock - record.eventTimeMs > viewTtlMs(view)) expired++;
    else live.push(record);
  }
  const written = await options.online.writeLatest(view, live, {
    concurrency: options.concurrency,
    batchSize: options.batchSize,
  });
  for (const { record, reason } of written.setAside) setAside.push(JSON.stringify({ ...record, reason }));
  let setAsideAt: string | undefined;
  if (setAside.length > 0) {
    // Before the watermark moves: a run that fails here is repeated and records them again.
    setAsideAt = setAsideKey(view.name, clock);
    await options.store.put(setAsideAt, `${setAside.join('\n')}\n`, { contentType: 'application/x-ndjson' });
  }
  const toMs = more ? (lastMs as number) : now;
  if (window === undefined) {
    const recent = handled.filter((h) => h.ms > toMs - overlapMs).map((h) => h.key);
    const next: Watermark = { ingestedAtMs: toMs, done: recent };
    await options.store.put(watermarkKey(view.name), JSON.stringify(next), {
      contentType: 'application/json',
    });
  }
  return {
    view: view.name,
    fromMs,
    toMs,
    batches,
    rows,
    written: written.written,
    skipped: written.skipped,
    expired,
    setAside: setAside.length,
    ...(setAsideAt === undefined ? {} : { setAsideKey: setAsideAt }),
    more,
  };
}

/**
 * One feature file of a batch, decoded; or why it cannot be read (missing, or corrupt), which sets it
 * aside instead of stopping every later run on it.
 */
async function readFile(
  store: ObjectStore,
  manifestKey: string,
  file: string,
): Promise<DecodedColumns | { reason: string }> {
  const bytes = await store.get(file);
  if (bytes === undefined) {
    return { reason: new CorruptDataError(file, `is missing, though ${manifestKey} lists it`).message };
  }
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  try {
    readFooter(file, buffer);
    return await decodeFeatureColumns(buffer);
  } catch (error) {
    if (error instanceof CorruptDataError) return { reason: error.message };
    return { reason: new CorruptDataError(file, `cannot be decoded (${(error as Error).message})`).message };
  }
}

/** Folds a decoded file into the latest record per entity; returns the number of rows read. */
function foldLatest(
  view: FeatureView,
  columns: Record<string, Value[]>,
  latest: Map<string, OnlineRecord>,
): number {
  const times = columns[view.eventTimeColumn] ?? [];
  const ingested = columns[INGESTED_AT_COLUMN] ?? [];
  for (let row = 0; row < times.length; row++) {
    const entityKey = view.entities.map((e) => columns[e.name]?.[row] as string | number);
    const id = JSON.stringify(entityKey);
    const eventTimeMs = Number(times[row]);
    const ingestedAtMs = Number(ingested[row]);
    const current = latest.get(id);
    if (
      current !== undefined &&
      (current.eventTimeMs > eventTimeMs ||
        (current.eventTimeMs === eventTimeMs && current.ingestedAtMs > ingestedAtMs))
    ) {
      continue;
    }
    const features: Record<string, Value> = {};
    for (const feature of view.features) features[feature.name] = columns[feature.name]?.[row] ?? null;
    latest.set(id, { entityKey, eventTimeMs, ingestedAtMs, features });
  }
  return times.length;
}
