/**
 * Point-in-time-correct training sets from the offline store: `getHistoricalFeatures(entity rows
 * with timestamps, feature refs)`. Reads only the date partitions a request can reach
 * ([earliest label − TTL, latest label]), merges their files into one stream sorted by (entity,
 * event time) (./offline-scan.ts), joins it with the streaming join (./point-in-time-join.ts), and
 * writes the result as Parquet plus a manifest under `datasets/<name>/<hash>/`, where the hash
 * covers the request and the content of every input file: the same inputs give the same dataset,
 * written once.
 *
 * Memory: the label rows and their outputs, the input files' compressed bytes, and one decoded row
 * group per input file — not the feature rows (bench/historical.bench.ts measures 10M of them).
 *
 * Ties: of values with equal (entity, event time), the later-ingested wins; equal ingestion times
 * go to the later file (date partition, then batch id), then to the later row of the batch.
 */
import { createHash } from 'node:crypto';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { mapLimit } from '../shared/concurrency.js';
import { InternalError, ValidationError } from '../shared/errors.js';
import {
  datasetPrefix,
  featurePartitionPrefix,
  featureViewPrefix,
  OFFLINE_PARTITION_COLUMN,
  PARQUET_CONTENT_TYPE,
} from '../shared/layout.js';
import type { ObjectStore } from '../shared/object-store.js';
import { type FeatureType, type FeatureView, findFeatureView, viewTtlMs } from './feature-view.js';
import { type IngestResult, ingestionManifestKey } from './ingest.js';
import { featureKind, type OfflineFile, scanSorted } from './offline-scan.js';
import { isSortedFile, readFooter } from './parquet-codec.js';
import {
  type CategoricalColumn,
  encodeEntityKey,
  joinPointInTime,
  type ViewRequest,
} from './point-in-time-join.js';
import { parseBody } from './row-sources.js';
import { MAX_EVENT_TIME_SKEW_MS, MIN_EVENT_TIME_MS, parseEventTime } from './row-validation.js';

export interface HistoricalRequest {
  /** Rows holding every referenced view's entity key columns and the timestamp column. */
  readonly entityRows: readonly Record<string, unknown>[];
  /** `view:feature` references. */
  readonly featureRefs: readonly string[];
  /** @default {@link DEFAULT_TIMESTAMP_COLUMN} */
  readonly timestampColumn?: string;
  /** Dataset name (e.g. the model it trains). @default 'adhoc' */
  readonly name?: string;
}

export interface DatasetManifest {
  readonly hash: string;
  readonly dataKey: string;
  /** Where this manifest itself is stored (`datasets/<name>/<hash>/manifest.json`). */
  readonly manifestKey: string;
  readonly rowCount: number;
  readonly featureRefs: readonly string[];
  readonly inputs: readonly { key: string; sha256: string }[];
  readonly semantics: string;
}

/**
 * The largest entity-rows object a training set takes: 128 MiB of JSON lines or Parquet (about 2M
 * label rows of a few columns). The rows are held as objects beside the join's columns; the
 * function's 10 GB holds this with the feature files bench/historical.bench.ts measures.
 */
export const MAX_ENTITY_ROWS_BYTES = 128 * 2 ** 20;
/** The largest epoch milliseconds a JavaScript Date (and our timestamps) can hold. */
const MAX_DATE_MS = 8.64e15;
/** The entity rows' (and the training set's) timestamp column unless a request names another. */
export const DEFAULT_TIMESTAMP_COLUMN = 'event_time';
const SEMANTICS =
  'latest value with event time <= row time and row time - event time <= TTL; equal event times: later ingestion, then later file (date, batch id), then later row; stored nulls are values';

function parseRefs(
  refs: readonly string[],
  views: ReadonlyMap<string, FeatureView>,
): Map<FeatureView, string[]> {
  if (refs.length === 0) throw new ValidationError('featureRefs', 'must name at least one view:feature');
  const byView = new Map<FeatureView, string[]>();
  refs.forEach((ref, i) => {
    const [viewName, feature, extra] = String(ref).split(':');
    if (!viewName || !feature || extra !== undefined)
      throw new ValidationError(`featureRefs.${i}`, 'must be view:feature');
    const view = findFeatureView(views, viewName, `featureRefs.${i}`);
    if (!view.features.some((f) => f.name === feature)) {
      throw new ValidationError(
        `featureRefs.${i}`,
        `must name a feature of ${view.name} (${feature} is not)`,
      );
    }
    const list = byView.get(view) ?? [];
    if (!list.includes(feature)) list.push(feature);
    byView.set(view, list);
  });
  return byView;
}

/** Offline files fetched at once: S3 answers each GET with some latency, not much bandwidth. */
const FETCH_CONCURRENCY = 8;

/**
 * Keys of the view's files in the date partitions from `fromMs` to `toMs`: one listing that starts
 * at the first date (StartAfter) and stops past the last, so its cost follows the files in reach,
 * not the number of days between (a 10-year or endless TTL lists what exists, not 3650 prefixes).
 * Names starting with `_` or `.` are hidden, as Hive and Trino (Athena) treat them.
 */
export async function listFeatureFiles(
  store: ObjectStore,
  view: string,
  fromMs: number,
  toMs: number,
): Promise<string[]> {
  const prefix = featureViewPrefix(view);
  const date = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const first = date(Math.min(Math.max(fromMs, MIN_EVENT_TIME_MS), MAX_DATE_MS));
  const last = date(Math.max(Math.min(toMs, MAX_DATE_MS), -MAX_DATE_MS));
  const keys: string[] = [];
  const partitionFile = new RegExp(`^${OFFLINE_PARTITION_COLUMN}=(\\d{4}-\\d{2}-\\d{2})/([^/]+)$`);
  // `date=<first>` (the partition prefix without its `/`) sorts just before every key of it.
  const startAfter = featurePartitionPrefix(view, first).slice(0, -1);
  for await (const key of store.list(prefix, { startAfter })) {
    const match = partitionFile.exec(key.slice(prefix.length));
    if (match === null) continue;
    if ((match[1] as string) > last) break;
    if (!/^[_.]/.test(match[2] as string)) keys.push(key);
  }
  return keys;
}

/**
 * Fetches the view's files in the date partitions [fromMs, toMs] can reach, recording each input:
 * only files a committed batch lists (or files other tools wrote). The training workflow reads its
 * label rows through it too (lambdas/training/pipeline/training-set.ts).
 */
export async function fetchFiles(
  view: FeatureView,
  fromMs: number,
  toMs: number,
  store: ObjectStore,
  inputs: { key: string; sha256: string }[],
): Promise<OfflineFile[]> {
  if (toMs < fromMs) return [];
  const keys = await listFeatureFiles(store, view.name, fromMs, toMs);
  // Files our ingestion wrote (they carry the sort marker) count once their batch's manifest lists
  // them: a batch that crashed before its manifest, or left files a rerun no longer wrote, is not
  // read. Files without the marker come from other tools and are read as they are.
  const manifests = new Map<string, Promise<readonly string[]>>();
  const listed = (batchId: string) => {
    let files = manifests.get(batchId);
    if (files === undefined) {
      files = store
        .get(ingestionManifestKey(view.name, batchId))
        .then((body) =>
          body === undefined
            ? []
            : ((JSON.parse(new TextDecoder().decode(body)) as IngestResult).files ?? []),
        );
      manifests.set(batchId, files);
    }
    return files;
  };
  const fetched = await mapLimit(keys, FETCH_CONCURRENCY, async (key) => {
    const bytes = await store.get(key);
    if (bytes === undefined) return undefined; // deleted since the listing
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const batchId = /\/([^/]+)\.parquet$/.exec(key)?.[1];
    const metadata = readFooter(key, buffer);
    if (isSortedFile(metadata) && !(batchId !== undefined && (await listed(batchId)).includes(key)))
      return undefined;
    return { key, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: buffer, metadata };
  });
  const files: OfflineFile[] = [];
  for (const file of fetched) {
    if (file === undefined) continue;
    inputs.push({ key: file.key, sha256: file.sha256 });
    files.push({ key: file.key, bytes: file.bytes, metadata: file.metadata });
  }
  return files;
}

/**
 * Entity rows from a file's bytes (JSON lines, or Parquet when `format` says so). A malformed line
 * is a ValidationError naming its row; CSV is refused, since its cells carry no types and entity
 * keys and timestamps need them.
 */
export async function parseEntityRows(
  format: 'jsonl' | 'parquet',
  body: Uint8Array,
): Promise<Record<string, unknown>[]> {
  const parsed = await parseBody(format, body);
  return parsed.records.map((record) => {
    if ('malformed' in record)
      throw new ValidationError(`entityRows.${record.position - 1}`, record.malformed);
    return record.row as Record<string, unknown>;
  });
}

/** Builds (or finds) the training set for `request` and returns its manifest. */
export async function getHistoricalFeatures(
  request: HistoricalRequest,
  options: { store: ObjectStore; views: ReadonlyMap<string, FeatureView>; now?: () => Date },
): Promise<DatasetManifest> {
  const byView = parseRefs(request.featureRefs, options.views);
  const timestampColumn = request.timestampColumn ?? DEFAULT_TIMESTAMP_COLUMN;
  const name = request.name ?? 'adhoc';
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name))
    throw new ValidationError('name', 'must be 1-63 of a-z 0-9 _ -');
  if (request.entityRows.length === 0) throw new ValidationError('entityRows', 'must hold at least one row');
  const times = Float64Array.from(request.entityRows, (row, i) => {
    const t = parseEventTime(row?.[timestampColumn]);
    if (Number.isNaN(t))
      throw new ValidationError(
        `entityRows.${i}.${timestampColumn}`,
        'must be an RFC 3339 timestamp with a time zone or epoch milliseconds',
      );
    if (!Number.isInteger(t) || Math.abs(t) > MAX_DATE_MS)
      throw new ValidationError(
        `entityRows.${i}.${timestampColumn}`,
        'must be whole epoch milliseconds within the range of a date (±8.64e15)',
      );
    return t;
  });
  let minTime = Number.POSITIVE_INFINITY;
  let maxTime = Number.NEGATIVE_INFINITY;
  for (const t of times) {
    minTime = Math.min(minTime, t);
    maxTime = Math.max(maxTime, t);
  }

  const inputs: { key: string; sha256: string }[] = [];
  const views: { view: FeatureView; features: string[]; labelKeys: string[]; files: OfflineFile[] }[] = [];
  for (const [view, features] of byView) {
    const labelKeys = request.entityRows.map((row, i) =>
      encodeEntityKey(
        view.entities.map((e) => {
          const value = scalar(row[e.name], `entityRows.${i}.${e.name}`);
          const ok = e.type === 'int64' ? Number.isInteger(value) : typeof value === 'string' && value !== '';
          if (!ok)
            throw new ValidationError(
              `entityRows.${i}.${e.name}`,
              `must be ${e.type === 'int64' ? 'an integer' : 'a non-empty string'}`,
            );
          return value as string | number;
        }),
      ),
    );
    // Only event times ingestion accepts can be stored (2000-01-01 to a day past now): the partitions
    // read are clamped to them, however far apart the label times are.
    const latest = (options.now?.() ?? new Date()).getTime() + MAX_EVENT_TIME_SKEW_MS;
    const files = await fetchFiles(
      view,
      Math.max(minTime - viewTtlMs(view), MIN_EVENT_TIME_MS),
      Math.min(maxTime, latest),
      options.store,
      inputs,
    );
    views.push({ view, features, labelKeys, files });
  }

  const hash = createHash('sha256')
    .update(
      JSON.stringify(
        {
          entityRows: request.entityRows,
          featureRefs: request.featureRefs,
          timestampColumn,
          // What the answer depends on besides the data: each view's keys, time column, TTL and types.
          views: views.map(({ view, features }) => ({
            name: view.name,
            entities: view.entities,
            eventTimeColumn: view.eventTimeColumn,
            ttlSeconds: view.ttlSeconds,
            features: features.map((f) => [f, view.features.find((x) => x.name === f)?.type]),
          })),
          semantics: SEMANTICS,
          inputs,
        },
        (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value),
      ),
    )
    .digest('hex');
  const base = datasetPrefix(name, hash);
  const manifestKey = `${base}manifest.json`;
  const existing = await options.store.get(manifestKey);
  if (existing !== undefined) return JSON.parse(new TextDecoder().decode(existing)) as DatasetManifest;

  // Output: the timestamp, every input column (entity keys typed by their views, other columns such
  // as labels by their JSON type), then `<view>__<feature>` columns typed by their features.
  const typeOf: Record<string, string> = {
    float64: 'DOUBLE',
    int64: 'INT64',
    string: 'STRING',
    bool: 'BOOLEAN',
  };
  const declared = new Map<string, string>();
  for (const view of byView.keys())
    for (const e of view.entities) declared.set(e.name, typeOf[e.type] as string);
  const columnData: { name: string; data: unknown[] | Float64Array; type: string }[] = [
    { name: timestampColumn, data: Array.from(times), type: 'TIMESTAMP' },
  ];
  const outputNames = new Set(
    views.flatMap(({ view, features }) => features.map((f) => `${view.name}__${f}`)),
  );
  for (const column of columnsOf(request.entityRows)) {
    if (column === timestampColumn) continue;
    if (outputNames.has(column))
      throw new ValidationError(
        `entityRows.0.${column}`,
        'must not be named like a feature column of the output',
      );
    const data = request.entityRows.map((row, i) => scalar(row[column] ?? null, `entityRows.${i}.${column}`));
    const type = declared.get(column) ?? jsonColumnType(data, column);
    columnData.push({
      name: column,
      data: type === 'INT64' ? data.map((v) => (v === null ? null : BigInt(v as number))) : data,
      type,
    });
  }
  const requests: ViewRequest[] = views.map(({ view, features, labelKeys, files }) => ({
    name: view.name,
    ttlMs: viewTtlMs(view),
    features: Object.fromEntries(features.map((f) => [f, featureKind(view, f)])),
    labelKeys,
    batches: scanSorted(view, features, files),
  }));
  const results = await joinPointInTime(times, requests);
  for (const { view, features } of views) {
    const result = results[view.name];
    if (result === undefined) throw new InternalError(`no join result for ${view.name}`);
    for (const feature of features) {
      const spec = view.features.find((f) => f.name === feature);
      const type = typeOf[spec?.type ?? 'string'] as string;
      columnData.push({
        name: `${view.name}__${feature}`,
        data: outputValues(result.found, result.features[feature], spec?.type ?? 'string'),
        type,
      });
    }
  }
  const dataKey = `${base}data.parquet`;
  await options.store.put(dataKey, new Uint8Array(parquetWriteBuffer({ columnData: columnData as never })), {
    contentType: PARQUET_CONTENT_TYPE,
  });
  const manifest: DatasetManifest = {
    hash,
    dataKey,
    manifestKey,
    rowCount: request.entityRows.length,
    featureRefs: request.featureRefs,
    inputs,
    semantics: SEMANTICS,
  };
  await options.store.put(manifestKey, JSON.stringify(manifest), {
    contentType: 'application/json',
    ifAbsent: true,
  });
  return manifest;
}

/** A joined feature column as Parquet values: null where nothing was found or the value is null. */
function outputValues(
  found: Uint8Array,
  column: Float64Array | CategoricalColumn | undefined,
  type: FeatureType,
): unknown[] {
  const out = new Array<unknown>(found.length).fill(null);
  if (column === undefined) return out;
  for (let i = 0; i < found.length; i++) {
    if (found[i] === 0) continue;
    if (column instanceof Float64Array) {
      const v = column[i] as number;
      if (Number.isNaN(v)) continue;
      out[i] = type === 'int64' ? BigInt(v) : type === 'bool' ? v === 1 : v;
    } else {
      const code = column.codes[i] as number;
      if (code >= 0) out[i] = column.dictionary[code];
    }
  }
  return out;
}

/** Every column the rows hold, in order of first appearance (labels may be missing from some rows). */
function columnsOf(rows: readonly Record<string, unknown>[]): string[] {
  const seen = new Set<string>();
  for (const row of rows) for (const column of Object.keys(row)) seen.add(column);
  return [...seen];
}

/** A bigint (as Parquet gives int64) as a number, when it is one exactly. */
function scalar(value: unknown, field: string): unknown {
  if (typeof value !== 'bigint') return value;
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(-Number.MAX_SAFE_INTEGER))
    throw new ValidationError(field, 'must be an integer within ±(2^53−1)');
  return Number(value);
}

/**
 * Parquet type of a column of JSON values (labels and other pass-through columns): every non-null
 * value must be of the first one's type — boolean, number or string.
 */
function jsonColumnType(values: readonly unknown[], column: string): string {
  const first = values.findIndex((v) => v !== null && v !== undefined);
  const kind = first < 0 ? 'string' : typeof values[first];
  if (kind !== 'boolean' && kind !== 'number' && kind !== 'string')
    throw new ValidationError(`entityRows.${first}.${column}`, 'must be a string, number, boolean or null');
  values.forEach((v, i) => {
    if (v !== null && v !== undefined && typeof v !== kind)
      throw new ValidationError(
        `entityRows.${i}.${column}`,
        `must be a ${kind} like the column's first value, or null`,
      );
    if (typeof v === 'number' && !Number.isFinite(v))
      throw new ValidationError(`entityRows.${i}.${column}`, 'must be a finite number or null');
  });
  return kind === 'boolean' ? 'BOOLEAN' : kind === 'number' ? 'DOUBLE' : 'STRING';
}
