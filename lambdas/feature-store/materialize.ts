/**
 * Materialization: the latest value of each entity, from the batches ingested since the last
 * watermark, into the online store.
 *
 * - Window: batches whose manifest says they were ingested after `watermark − overlap` and up to
 *   now. The overlap (default 15 min, three times the ingestion function's timeout) re-reads batches
 *   that were still being ingested when the previous run looked; re-reading is harmless because
 *   every online write is conditional (an older or equal value never replaces a newer one).
 * - Writes: TransactWriteItems, up to 100 conditional Puts per request (see online-store.ts).
 *   BatchWriteItem would save the second WCU a transactional write costs per item, but it takes no
 *   condition, so a slow run could put back values older than a racing run's; per-item PutItem keeps
 *   the condition at 100 times the requests. Stale records cancel their transaction and are
 *   skipped, the rest are resubmitted; records that still cannot be written fail the run.
 * - Latest per entity by event time; ties go to the later ingestion, then to the later row of a batch.
 *   Values already expired (event time + TTL ≤ now) are not written.
 * - The watermark (`materialization/<view>/watermark.json`) advances only after every record was
 *   written or found stale, so a run that crashes or gives up midway is simply repeated.
 */
import { ValidationError } from '../shared/errors.js';
import type { ObjectStore } from '../shared/object-store.js';
import type { FeatureView } from './feature-view.js';
import type { IngestResult } from './ingest.js';
import type { OnlineRecord, OnlineStore } from './online-store.js';
import { decodeFeatureColumns, INGESTED_AT_COLUMN } from './parquet-codec.js';
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
}

export const watermarkKey = (view: string) => `materialization/${view}/watermark.json`;
const decoder = new TextDecoder();

/** Materializes one online view. */
export async function materializeView(
  view: FeatureView,
  options: MaterializeOptions,
): Promise<MaterializeResult> {
  if (!view.online)
    throw new ValidationError('view', `must be an online view (${view.name} is offline only)`);
  const now = (options.now ?? Date.now)();
  const stored = await options.store.get(watermarkKey(view.name));
  const watermark =
    stored === undefined
      ? Number.NEGATIVE_INFINITY
      : (JSON.parse(decoder.decode(stored)) as { ingestedAtMs: number }).ingestedAtMs;
  const fromMs = watermark - (options.overlapMs ?? 15 * 60_000);

  const latest = new Map<string, OnlineRecord>();
  let batches = 0;
  let rows = 0;
  for await (const key of options.store.list(`ingestion/${view.name}/`)) {
    const body = await options.store.get(key);
    if (body === undefined) continue;
    const manifest = JSON.parse(decoder.decode(body)) as IngestResult;
    if (!(manifest.ingestedAtMs > fromMs && manifest.ingestedAtMs <= now)) continue;
    batches++;
    for (const file of manifest.files) {
      const bytes = await options.store.get(file);
      if (bytes === undefined) throw new Error(`${key} lists ${file}, which is missing`);
      const columns = await decodeFeatureColumns(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
      );
      rows += foldLatest(view, columns, latest);
    }
  }

  let expired = 0;
  const live: OnlineRecord[] = [];
  for (const record of latest.values()) {
    if (record.eventTimeMs + view.ttlSeconds * 1000 <= now) expired++;
    else live.push(record);
  }
  const { written, skipped } = await options.online.writeLatest(view, live, {
    concurrency: options.concurrency,
    batchSize: options.batchSize,
  });
  await options.store.put(watermarkKey(view.name), JSON.stringify({ ingestedAtMs: now }), {
    contentType: 'application/json',
  });
  return { view: view.name, fromMs, toMs: now, batches, rows, written, skipped, expired };
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
