/**
 * A trained model's training set, from the feature store: every row of the label's view with an
 * event time in (asOf − windowDays, asOf] is one example (its entity key and event time), joined
 * point-in-time with the model's features, label and slice attributes by the feature store's own
 * `getHistoricalFeatures` (so the label is the value stamped at the example's own time, and each
 * feature the latest one at or before it within its view's TTL).
 *
 * The label rows are read with the feature store's readers: the committed files of the window's date
 * partitions (historical.ts `fetchFiles`), merged sorted by (entity, event time) (offline-scan.ts),
 * so equal (entity, event time) rows are adjacent and count once. The examples go to the join in
 * that order, which makes the dataset hash depend on the data, not on listing order.
 *
 * Output columns (the Train step reads them): {@link trainingSetColumns}.
 */
import { createHash } from 'node:crypto';
import type { FeatureView } from '../../feature-store/feature-view.js';
import {
  DEFAULT_TIMESTAMP_COLUMN,
  fetchFiles,
  getHistoricalFeatures,
} from '../../feature-store/historical.js';
import { scanSorted } from '../../feature-store/offline-scan.js';
import { decodeEntityKey } from '../../feature-store/point-in-time-join.js';
import { InternalError, ValidationError } from '../../shared/errors.js';
import type { ObjectStore } from '../../shared/object-store.js';
import type { TrainedModelConfig } from '../model-config.js';
import type { DatasetRef } from './contract.js';

const DAY_MS = 86_400_000;

/** The columns of a model's training set, as the Train step finds them. */
export interface TrainingSetColumns {
  /** The example's time (the label row's event time): the feature store's default timestamp column. */
  readonly timestamp: string;
  /** What identifies an example (the split hashes it): the label view's entity keys, then the timestamp. */
  readonly identity: readonly string[];
  /** `<view>__<feature>` of the label. */
  readonly label: string;
  /** `<view>__<feature>` of each feature, in the model's input order. */
  readonly features: readonly string[];
  readonly slices: readonly string[];
}

const column = (ref: string) => ref.replace(':', '__');

function labelView(model: TrainedModelConfig, views: ReadonlyMap<string, FeatureView>): FeatureView {
  const name = model.label.split(':')[0] as string;
  const view = views.get(name);
  if (view === undefined)
    throw new ValidationError('label', `must name a feature of a configured view (${name} is not one)`);
  return view;
}

export function trainingSetColumns(
  model: TrainedModelConfig,
  views: ReadonlyMap<string, FeatureView>,
): TrainingSetColumns {
  const view = labelView(model, views);
  return {
    timestamp: DEFAULT_TIMESTAMP_COLUMN,
    identity: [...view.entities.map((e) => e.name), DEFAULT_TIMESTAMP_COLUMN],
    label: column(model.label),
    features: model.features.map(column),
    slices: model.slices.map(column),
  };
}

export interface TrainingWindow {
  /** Exclusive start, epoch ms. */
  readonly fromMs: number;
  /** Inclusive end, epoch ms. */
  readonly toMs: number;
}

export const trainingWindow = (model: TrainedModelConfig, asOfMs: number): TrainingWindow => ({
  fromMs: asOfMs - model.windowDays * DAY_MS,
  toMs: asOfMs,
});

/**
 * The examples of the window: one row per distinct (entity, event time) of the label's view, sorted
 * by entity key then time, holding the entity key columns and {@link DEFAULT_TIMESTAMP_COLUMN} (epoch ms).
 */
export async function labelRows(
  model: TrainedModelConfig,
  window: TrainingWindow,
  options: { store: ObjectStore; views: ReadonlyMap<string, FeatureView> },
): Promise<Record<string, unknown>[]> {
  const view = labelView(model, options.views);
  const files = await fetchFiles(view, window.fromMs, window.toMs, options.store, []);
  const types = view.entities.map((e) => e.type);
  const rows: Record<string, unknown>[] = [];
  let lastKey: string | undefined;
  let lastTime = Number.NaN;
  for await (const batch of scanSorted(view, [], files)) {
    const keys = batch.keys;
    for (let i = 0; i < batch.eventTimes.length; i++) {
      const key = ('codes' in keys ? keys.dictionary[keys.codes[i] as number] : keys[i]) as string;
      const time = batch.eventTimes[i] as number;
      if (!(time > window.fromMs && time <= window.toMs)) continue;
      if (key === lastKey && time === lastTime) continue;
      lastKey = key;
      lastTime = time;
      const values = decodeEntityKey(key, types);
      const row: Record<string, unknown> = {};
      view.entities.forEach((e, k) => {
        row[e.name] = values[k];
      });
      row[DEFAULT_TIMESTAMP_COLUMN] = time;
      rows.push(row);
    }
  }
  return rows;
}

/**
 * Builds (or finds: the feature store writes a dataset once per hash) the model's training set for
 * the window ending at `asOfMs`. No label rows in the window: ValidationError on `windowDays`.
 */
export async function buildModelTrainingSet(
  model: TrainedModelConfig,
  asOfMs: number,
  options: { store: ObjectStore; views: ReadonlyMap<string, FeatureView>; now?: () => Date },
): Promise<DatasetRef> {
  const view = labelView(model, options.views);
  checkEntities(model, view, options.views);
  const window = trainingWindow(model, asOfMs);
  const entityRows = await labelRows(model, window, options);
  if (entityRows.length === 0)
    throw new ValidationError(
      'windowDays',
      `must reach labels: no rows of ${view.name} between ${iso(window.fromMs)} (exclusive) and ${iso(window.toMs)}`,
    );
  const featureRefs = [...new Set([...model.features, model.label, ...model.slices])];
  const manifest = await getHistoricalFeatures(
    { entityRows, featureRefs, timestampColumn: DEFAULT_TIMESTAMP_COLUMN, name: model.name },
    options,
  );
  const stored = await options.store.get(manifest.manifestKey);
  if (stored === undefined)
    throw new InternalError(`the training set manifest ${manifest.manifestKey} vanished`);
  return {
    hash: manifest.hash,
    dataKey: manifest.dataKey,
    manifestKey: manifest.manifestKey,
    manifestSha256: createHash('sha256').update(stored).digest('hex'),
    rowCount: manifest.rowCount,
  };
}

/** Every referenced view must be keyed by entities the label rows carry (the label view's). */
function checkEntities(
  model: TrainedModelConfig,
  label: FeatureView,
  views: ReadonlyMap<string, FeatureView>,
): void {
  if (label.entities.some((e) => e.name === DEFAULT_TIMESTAMP_COLUMN))
    throw new ValidationError(
      'label',
      `must come from a view without an entity named ${DEFAULT_TIMESTAMP_COLUMN} (training sets keep the example's time there)`,
    );
  const carried = new Set(label.entities.map((e) => `${e.name}:${e.type}`));
  const check = (ref: string, field: string) => {
    const name = ref.split(':')[0] as string;
    const view = views.get(name);
    if (view === undefined)
      throw new ValidationError(field, `must name a feature of a configured view (${name} is not one)`);
    const missing = view.entities.find((e) => !carried.has(`${e.name}:${e.type}`));
    if (missing !== undefined)
      throw new ValidationError(
        field,
        `must be keyed by the label view's entities: ${name} needs ${missing.name} (${missing.type}), which ${label.name} rows do not carry`,
      );
  };
  for (const [i, ref] of model.features.entries()) check(ref, `features.${i}`);
  for (const [i, ref] of model.slices.entries()) check(ref, `slices.${i}`);
}

const iso = (ms: number) => new Date(ms).toISOString();
