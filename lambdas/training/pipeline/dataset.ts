/**
 * A trained model's training set, as the training workflow's steps read it: the Parquet the feature
 * store's `getHistoricalFeatures` wrote (../../feature-store/historical.ts) turned into the columns
 * the trainers take (encoding.ts `TrainingFrame`).
 *
 * The training set's columns (historical.ts): the timestamp (`event_time` unless the Prepare step
 * named another), the entity rows' own columns (entity keys, pass-through columns), then one
 * `<view>__<feature>` column per requested `view:feature`; training-set.ts `trainingSetColumns`
 * names them for a model, and the Prepare step requests the features, the label and the slices.
 *
 * What the frame holds:
 * - each model feature under its bare feature name (what its signature records, with its view), in
 *   the model's order, typed by the configured feature view (injectable);
 * - the label: the `<view>__<feature>` column of `model.label` (the Prepare step requests the label
 *   like a feature: joined point-in-time at its own event time it is the label row's value);
 * - each `slices` attribute under its `view:feature` ref (the Prepare step requests them too);
 * - the identity columns the split hashes (split.ts): the label view's entity keys and the timestamp,
 *   so a row keeps its side across retrainings whatever the row order.
 *
 * Plain code: no AWS SDK (an ObjectStore), so the Lambdas, the CLI and tests share it.
 */
import { parquetMetadataAsync, parquetRead } from 'hyparquet';
import { configuredViews } from '../../feature-store/configured-views.js';
import type { FeatureType, FeatureView } from '../../feature-store/feature-view.js';
import { TIME_PARSERS } from '../../feature-store/parquet-codec.js';
import type { FeatureColumn } from '../../feature-store/point-in-time-join.js';
import { ValidationError } from '../../shared/errors.js';
import type { ObjectStore } from '../../shared/object-store.js';
import type { FeatureInput, TrainingFrame } from '../encoding.js';
import type { TrainedModelConfig } from '../model-config.js';
import { selectRows, splitFrame } from '../split.js';
import type { DatasetRef } from './contract.js';
import { trainingSetColumns } from './training-set.js';

export type ModelFeature = FeatureInput & { readonly featureView: string };

export interface LoadedTrainingSet {
  readonly frame: TrainingFrame;
  /** The model's inputs in its order (bare names; their views alongside). */
  readonly features: readonly ModelFeature[];
  /** The label's column in `frame`. */
  readonly label: string;
  /** The label's type (its view's declaration). */
  readonly labelType: FeatureType;
  /** Columns of `frame` identifying a row (the split's hash input). */
  readonly identity: readonly string[];
  /** Columns of `frame` holding the model's `slices` attributes, named by their `view:feature` ref. */
  readonly slices: readonly string[];
}

export interface LoadOptions {
  /** Feature views by name. @default the views baked into the bundle (configured-views.ts) */
  readonly views?: ReadonlyMap<string, FeatureView>;
}

interface Resolved {
  readonly view: FeatureView;
  readonly name: string;
  readonly type: FeatureType;
  readonly categories?: readonly string[];
}

function resolve(ref: string, field: string, views: ReadonlyMap<string, FeatureView>): Resolved {
  const [viewName, featureName] = ref.split(':') as [string, string];
  const view = views.get(viewName);
  if (view === undefined)
    throw new ValidationError(field, `names unknown feature view ${viewName} (of ${ref})`);
  const feature = view.features.find((f) => f.name === featureName);
  if (feature === undefined)
    throw new ValidationError(field, `names unknown feature ${featureName} of view ${viewName}`);
  return {
    view,
    name: featureName,
    type: feature.type,
    ...(feature.categories === undefined ? {} : { categories: feature.categories }),
  };
}

/** Parquet values (int64 as bigint, timestamps as epoch ms) as a frame column of `type`. */
function toColumn(values: readonly unknown[], type: FeatureType | 'time', field: string): FeatureColumn {
  if (type !== 'string') {
    const out = new Float64Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === null || v === undefined) out[i] = Number.NaN;
      else if (typeof v === 'number') out[i] = v;
      else if (typeof v === 'bigint') out[i] = Number(v);
      else if (typeof v === 'boolean') out[i] = v ? 1 : 0;
      else if (v instanceof Date) out[i] = v.getTime();
      else throw new ValidationError(field, `must hold ${type} values, not ${typeof v} (row ${i})`);
    }
    return out;
  }
  const dictionary: string[] = [];
  const index = new Map<string, number>();
  const codes = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      codes[i] = -1;
      continue;
    }
    if (typeof v !== 'string')
      throw new ValidationError(field, `must hold strings, not ${typeof v} (row ${i})`);
    let code = index.get(v);
    if (code === undefined) {
      code = dictionary.push(v) - 1;
      index.set(v, code);
    }
    codes[i] = code;
  }
  return { codes, dictionary };
}

/** The named columns of a Parquet file, as values (a column the file lacks is absent). */
async function readColumns(file: ArrayBuffer, columns: readonly string[]): Promise<Map<string, unknown[]>> {
  const out = new Map<string, unknown[]>();
  await parquetRead({
    file,
    columns: [...columns],
    parsers: TIME_PARSERS,
    onChunk: (chunk) => {
      const target = out.get(chunk.columnName) ?? [];
      out.set(chunk.columnName, target);
      const data = chunk.columnData as ArrayLike<unknown>;
      for (let i = 0; i < data.length; i++) target[chunk.rowStart + i] = data[i];
    },
  });
  return out;
}

/**
 * Reads the training set of `dataset` for `model`. A training set without a column the model needs
 * (a feature, the label, an identity column), or with values of another type than the view
 * declares, is a ValidationError naming the column; so is a model whose features repeat a bare name
 * across views (the model's inputs are named by feature).
 */
export async function loadTrainingFrame(
  store: ObjectStore,
  dataset: DatasetRef,
  model: TrainedModelConfig,
  options: LoadOptions = {},
): Promise<LoadedTrainingSet> {
  const views = options.views ?? configuredViews();
  const sources = trainingSetColumns(model, views);
  const features = model.features.map((ref, i) => ({ ref, ...resolve(ref, `features.${i}`, views) }));
  const seen = new Map<string, string>();
  features.forEach((f, i) => {
    const other = seen.get(f.name);
    if (other !== undefined)
      throw new ValidationError(
        `features.${i}`,
        `names feature ${f.name} like ${other} does: a model's inputs are named by feature, so they must be distinct`,
      );
    seen.set(f.name, f.ref);
  });
  const label = resolve(model.label, 'label', views);
  const slices = model.slices.map((ref, i) => ({ ref, ...resolve(ref, `slices.${i}`, views) }));
  const labelView = label.view;

  const body = await store.get(dataset.dataKey);
  if (body === undefined)
    throw new ValidationError(
      'dataset.dataKey',
      `must name an existing training set (no object at ${dataset.dataKey})`,
    );
  const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  const identity = sources.identity;
  const wanted = [...new Set([...sources.features, sources.label, ...identity, ...sources.slices])];
  const metadata = await parquetMetadataAsync(file);
  const present = new Set(metadata.schema.map((element) => element.name));
  const rows = Number(metadata.num_rows);
  const data = await readColumns(
    file,
    wanted.filter((c) => present.has(c)),
  );
  const columnOf = (name: string, field: string): unknown[] => {
    if (!present.has(name))
      throw new ValidationError(
        field,
        `is missing from the training set ${dataset.dataKey} (no column ${name})`,
      );
    return data.get(name) ?? [];
  };

  const columns: Record<string, FeatureColumn> = {};
  const add = (name: string, column: FeatureColumn, field: string) => {
    if (name in columns)
      throw new ValidationError(field, `names column ${name}, which the training frame already holds`);
    columns[name] = column;
  };
  features.forEach((f, i) => {
    const source = sources.features[i] as string;
    add(f.name, toColumn(columnOf(source, `features.${i}`), f.type, source), `features.${i}`);
  });
  const labelName = sources.label;
  add(labelName, toColumn(columnOf(labelName, 'label'), label.type, labelName), 'label');
  for (const name of identity) {
    const type =
      name === sources.timestamp
        ? 'time'
        : (labelView.entities.find((e) => e.name === name)?.type ?? 'string');
    if (!(name in columns)) columns[name] = toColumn(columnOf(name, `identity.${name}`), type, name);
  }
  slices.forEach((slice, i) => {
    const source = sources.slices[i] as string;
    add(slice.ref, toColumn(columnOf(source, `slices.${i}`), slice.type, source), `slices.${i}`);
  });
  return {
    frame: { rows, columns },
    features: features.map((f) => ({
      name: f.name,
      type: f.type,
      featureView: f.view.name,
      ...(f.categories === undefined ? {} : { categories: f.categories }),
    })),
    label: labelName,
    labelType: label.type,
    identity,
    slices: slices.map((s) => s.ref),
  };
}

/**
 * The held-out (test) rows of a loaded training set under `model.split`, recomputed exactly as
 * trainModel splits (split.ts: by the identity columns' hash), so a champion is re-scored on exactly
 * the rows the candidate was evaluated on.
 */
export function heldOutFrame(loaded: LoadedTrainingSet, model: TrainedModelConfig): TrainingFrame {
  return selectRows(loaded.frame, splitFrame(loaded.frame, model.split, loaded.identity).test);
}

/** The validation rows, likewise. */
export function validationFrame(loaded: LoadedTrainingSet, model: TrainedModelConfig): TrainingFrame {
  return selectRows(loaded.frame, splitFrame(loaded.frame, model.split, loaded.identity).validation);
}
