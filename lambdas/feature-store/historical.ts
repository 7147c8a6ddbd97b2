/**
 * Point-in-time-correct training sets from the offline store: `getHistoricalFeatures(entity rows
 * with timestamps, feature refs)`. Reads only the date partitions a request can reach
 * ([earliest label − TTL, latest label]), joins with ./point-in-time-join.ts, and writes the result
 * as Parquet plus a manifest under `datasets/<name>/<hash>/`, where the hash covers the request and
 * the content of every input file: the same inputs give the same dataset, written once.
 */
import { createHash } from 'node:crypto';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { ValidationError } from '../shared/errors.js';
import type { ObjectStore } from '../shared/object-store.js';
import { type FeatureView, findFeatureView } from './feature-view.js';
import { decodeFeatureColumns, INGESTED_AT_COLUMN } from './parquet-codec.js';
import { encodeEntityKey, type FeatureFrame, pointInTimeJoin, type ViewJoin } from './point-in-time-join.js';
import { parseEventTime, type Value } from './row-validation.js';

export interface HistoricalRequest {
  /** Rows holding every referenced view's entity key columns and the timestamp column. */
  readonly entityRows: readonly Record<string, unknown>[];
  /** `view:feature` references. */
  readonly featureRefs: readonly string[];
  /** @default 'event_time' */
  readonly timestampColumn?: string;
  /** Dataset name (e.g. the model it trains). @default 'adhoc' */
  readonly name?: string;
}

export interface DatasetManifest {
  readonly hash: string;
  readonly dataKey: string;
  readonly rowCount: number;
  readonly featureRefs: readonly string[];
  readonly inputs: readonly { key: string; sha256: string }[];
  readonly semantics: string;
}

const DAY = 86_400_000;
const SEMANTICS =
  'latest value with event time <= row time and row time - event time <= TTL; equal event times: later ingestion, then later row; stored nulls are values';

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

async function loadFrame(
  view: FeatureView,
  features: string[],
  fromMs: number,
  toMs: number,
  store: ObjectStore,
  inputs: { key: string; sha256: string }[],
): Promise<FeatureFrame> {
  const keys: string[] = [];
  const times: number[] = [];
  const ingested: number[] = [];
  const columns: Record<string, Value[]> = Object.fromEntries(features.map((f) => [f, [] as Value[]]));
  const wanted = [...view.entities.map((e) => e.name), view.eventTimeColumn, INGESTED_AT_COLUMN, ...features];
  for (let day = Math.floor(fromMs / DAY) * DAY; day <= toMs; day += DAY) {
    const date = new Date(day).toISOString().slice(0, 10);
    for await (const key of store.list(`features/${view.name}/date=${date}/`)) {
      const bytes = await store.get(key);
      if (bytes === undefined) continue;
      inputs.push({ key, sha256: createHash('sha256').update(bytes).digest('hex') });
      const decoded = await decodeFeatureColumns(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
        wanted,
      );
      const n = decoded[view.eventTimeColumn]?.length ?? 0;
      for (let i = 0; i < n; i++) {
        keys.push(encodeEntityKey(view.entities.map((e) => decoded[e.name]?.[i] as string | number)));
        times.push(Number(decoded[view.eventTimeColumn]?.[i]));
        ingested.push(Number(decoded[INGESTED_AT_COLUMN]?.[i]));
        for (const f of features) columns[f]?.push(decoded[f]?.[i] ?? null);
      }
    }
  }
  return { keys, eventTimes: Float64Array.from(times), ingestedAt: Float64Array.from(ingested), columns };
}

/** Builds (or finds) the training set for `request` and returns its manifest. */
export async function getHistoricalFeatures(
  request: HistoricalRequest,
  options: { store: ObjectStore; views: ReadonlyMap<string, FeatureView> },
): Promise<DatasetManifest> {
  const byView = parseRefs(request.featureRefs, options.views);
  const timestampColumn = request.timestampColumn ?? 'event_time';
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
    return t;
  });
  let minTime = Number.POSITIVE_INFINITY;
  let maxTime = Number.NEGATIVE_INFINITY;
  for (const t of times) {
    minTime = Math.min(minTime, t);
    maxTime = Math.max(maxTime, t);
  }

  const inputs: { key: string; sha256: string }[] = [];
  const joins: { labelKeys: string[]; join: ViewJoin }[] = [];
  for (const [view, features] of byView) {
    const labelKeys = request.entityRows.map((row, i) =>
      encodeEntityKey(
        view.entities.map((e) => {
          const value = row[e.name];
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
    const frame = await loadFrame(
      view,
      features,
      minTime - view.ttlSeconds * 1000,
      maxTime,
      options.store,
      inputs,
    );
    joins.push({ labelKeys, join: { view: view.name, ttlMs: view.ttlSeconds * 1000, features, frame } });
  }

  const hash = createHash('sha256')
    .update(
      JSON.stringify({
        entityRows: request.entityRows,
        featureRefs: request.featureRefs,
        timestampColumn,
        inputs,
      }),
    )
    .digest('hex');
  const base = `datasets/${name}/${hash}/`;
  const existing = await options.store.get(`${base}manifest.json`);
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
  for (const column of Object.keys(request.entityRows[0] ?? {})) {
    if (column === timestampColumn) continue;
    const data = request.entityRows.map((r) => r[column] ?? null);
    const type = declared.get(column) ?? jsonColumnType(data);
    columnData.push({
      name: column,
      data: type === 'INT64' ? data.map((v) => (v === null ? null : BigInt(v as number))) : data,
      type,
    });
  }
  for (const { labelKeys, join } of joins) {
    const result = pointInTimeJoin({ keys: labelKeys, times }, [join]);
    const view = [...byView.keys()].find((v) => v.name === join.view);
    for (const feature of join.features) {
      const type = typeOf[view?.features.find((f) => f.name === feature)?.type ?? 'string'] as string;
      const values = result.columns[`${join.view}__${feature}`] ?? [];
      columnData.push({
        name: `${join.view}__${feature}`,
        data: type === 'INT64' ? values.map((v) => (v === null ? null : BigInt(v as number))) : values,
        type,
      });
    }
  }
  const dataKey = `${base}data.parquet`;
  await options.store.put(dataKey, new Uint8Array(parquetWriteBuffer({ columnData: columnData as never })), {
    contentType: 'application/vnd.apache.parquet',
  });
  const manifest: DatasetManifest = {
    hash,
    dataKey,
    rowCount: request.entityRows.length,
    featureRefs: request.featureRefs,
    inputs,
    semantics: SEMANTICS,
  };
  await options.store.put(`${base}manifest.json`, JSON.stringify(manifest), {
    contentType: 'application/json',
    ifAbsent: true,
  });
  return manifest;
}

/** Parquet type of a column of JSON values (labels and other pass-through columns). */
function jsonColumnType(values: readonly unknown[]): string {
  const sample = values.find((v) => v !== null && v !== undefined);
  if (typeof sample === 'boolean') return 'BOOLEAN';
  if (typeof sample === 'number') return 'DOUBLE';
  return 'STRING';
}
