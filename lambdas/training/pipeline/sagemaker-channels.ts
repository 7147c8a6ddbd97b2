/**
 * The SageMaker trainer's inputs: the channels a training job with the user's image reads, and the
 * contract the model it writes must honour.
 *
 * The job contract (what the user's container does):
 *
 *   /opt/ml/input/data/train/data.parquet        raw rows of the train split (one column per frame column)
 *   /opt/ml/input/data/validation/data.parquet   raw rows of the validation split (may hold no rows)
 *   /opt/ml/input/data/test/data.parquet         raw rows of the held-out split (scored again after the job)
 *   /opt/ml/input/data/config/contract.json      {@link SagemakerJobContract}: features in input order,
 *                                                the label column, the encoding spec fitted on the train
 *                                                rows, the classes in probability-column order …
 *   /opt/ml/input/config/hyperparameters.json    the model config's `trainer.hyperparameters`, as strings
 *
 * It writes to /opt/ml/model (SageMaker packs that as `<outputUri><jobName>/output/model.tar.gz`):
 *
 *   model.onnx     input `features` double [N, F]: rows encoded by contract.json's `encoding`
 *                  (F = `inputWidth`, encoding.ts `encodeRow`); output `probabilities` double [N, K]
 *                  in `classes` order (binary: [P(negative), P(positive)]), optionally `label` [N]
 *                  (classifiers), or `prediction` double [N, 1] (regression). No other outputs.
 *   metrics.json   optional: `{ "<name>": <finite number> }`, kept as the job's own metrics.
 *
 * The pipeline then embeds the contract's `mlops.*` metadata in model.onnx and scores the held-out
 * rows itself (sagemaker-model.ts), so a SageMaker model is evaluated and gated like a built-in one.
 *
 * Plain code over the ObjectStore interface (no AWS SDK).
 */
import { parquetWriteBuffer } from 'hyparquet-writer';
import * as z from 'zod';
import type { FeatureType } from '../../feature-store/feature-view.js';
import { canonicalJson, modelNameSchema } from '../../registry/model-version.js';
import {
  type InputSignature,
  lineageSchema,
  type ModelLineage,
  type ModelOutput,
  outputSchema,
  signatureSchema,
} from '../../registry/version-record.js';
import { ValidationError } from '../../shared/errors.js';
import { PARQUET_CONTENT_TYPE, runArtifactPrefix, trainingChannelPrefix } from '../../shared/layout.js';
import type { ObjectStore } from '../../shared/object-store.js';
import { parseOrThrow } from '../../shared/validation.js';
import {
  type EncodingSpec,
  encodedWidth,
  encodingSpecSchema,
  type FeatureInput,
  fitEncodingSpec,
  type TrainingFrame,
} from '../encoding.js';
import { classLabels } from '../labels.js';
import { MODEL_TASKS, type TrainedModelConfig } from '../model-config.js';
import {
  type ClassLabel,
  MODEL_INPUT,
  type ModelContract,
  OUTPUT_LABEL,
  OUTPUT_PREDICTION,
  OUTPUT_PROBABILITIES,
} from '../model-contract.js';
import { type Split, selectRows } from '../split.js';
import type { DatasetRef, SagemakerJobRef } from './contract.js';

/** The job's channels, in the order CreateTrainingJob lists them. */
export const SAGEMAKER_CHANNELS = ['train', 'validation', 'test', 'config'] as const;
export type SagemakerChannel = (typeof SAGEMAKER_CHANNELS)[number];
/** The one object of each data channel. */
export const CHANNEL_DATA_FILE = 'data.parquet';
/** The one object of the `config` channel. */
export const CONTRACT_FILE = 'contract.json';
export const SAGEMAKER_CONTRACT_VERSION = 1;
/** Lineage `trainer` of models a SageMaker job trained. */
export const SAGEMAKER_TRAINER = { name: 'sagemaker', version: String(SAGEMAKER_CONTRACT_VERSION) } as const;
/** SageMaker's training job name rule. */
export const JOB_NAME_PATTERN = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
/** Characters of the run id a job name keeps (enough to tell executions apart). */
const JOB_SUFFIX_LENGTH = 16;

/** contract.json: what the job's model must take and return, and what the pipeline embeds in it. */
export const sagemakerJobContractSchema = z.strictObject({
  version: z.literal(SAGEMAKER_CONTRACT_VERSION, { error: `must be ${SAGEMAKER_CONTRACT_VERSION}` }),
  model: modelNameSchema,
  task: z.enum(MODEL_TASKS),
  /** The label's column in the channels' Parquet. */
  label: z.string().min(1),
  /** The feature columns, in the model's input order (the encoding's order). */
  features: z.array(z.string().min(1)).min(1),
  /** The input tensor and its width F (columns of the encoded row). */
  input: z.strictObject({ name: z.literal(MODEL_INPUT), width: z.number().int().positive() }),
  /** Output tensors the model must have (`required`) and may have (`optional`); no others. */
  outputs: z.strictObject({ required: z.array(z.string()), optional: z.array(z.string()) }),
  encoding: encodingSpecSchema,
  signature: signatureSchema,
  output: outputSchema,
  classes: z.array(z.union([z.number(), z.string()])),
  lineage: lineageSchema,
});
export type SagemakerJobContract = z.output<typeof sagemakerJobContractSchema>;

/** The embedded part of a job contract (model-contract.ts's shape). */
export function modelContractOf(contract: SagemakerJobContract): ModelContract {
  const { encoding, signature, output, lineage, classes } = contract;
  return { encoding, signature, output, lineage, classes };
}

/** A model input as a frame column: its declared type, categories and feature view. */
export type ModelFeatureInput = FeatureInput & { readonly featureView?: string };

export interface SagemakerChannelsInput {
  /** A trained model whose trainer is `sagemaker`. */
  readonly model: TrainedModelConfig;
  readonly runId: string;
  /** The tracking experiment: the job's output goes under its run's artifacts. */
  readonly experiment: string;
  readonly dataset: DatasetRef;
  /** The training set in columns (features, label, identity columns). */
  readonly frame: TrainingFrame;
  readonly split: Split;
  /** The model's inputs as columns of `frame`, in input order. */
  readonly features: readonly ModelFeatureInput[];
  /** The label's column in `frame`. */
  readonly labelColumn: string;
  /** The label's declared type (its Parquet type). @default by its column: DOUBLE or STRING */
  readonly labelType?: FeatureType;
  /** Lineage to embed (training set, config fingerprint, run); the trainer is set here. */
  readonly lineage?: ModelLineage;
}

export interface SagemakerChannelsDeps {
  /** The offline bucket (channels are written under the dataset's prefix). */
  readonly offline: ObjectStore;
  readonly offlineBucket: string;
  readonly artifactBucket: string;
}

/** `<model>-<first 16 letters and digits of runId>`, at most 63 characters (SageMaker's rule). */
export function sagemakerJobName(model: string, runId: string): string {
  const suffix = runId.replace(/[^A-Za-z0-9]/g, '').slice(0, JOB_SUFFIX_LENGTH);
  if (suffix === '') throw new ValidationError('runId', 'must hold a letter or digit (it names the job)');
  const head = model.slice(0, 63 - 1 - suffix.length).replace(/-+$/, '');
  const name = `${head}-${suffix}`;
  if (!JOB_NAME_PATTERN.test(name))
    throw new ValidationError('model', `must give a SageMaker job name (${name} is not one)`);
  return name;
}

/** What a model of `task` with `classes` outputs (as the built-in exporters record it). */
export function modelOutputOf(task: TrainedModelConfig['task'], classes: readonly ClassLabel[]): ModelOutput {
  if (task === 'regression') return { kind: 'regression' };
  if (task === 'binary') return { kind: 'binary', positiveClass: classes[1] as ClassLabel, threshold: 0.5 };
  return { kind: 'multiclass', classes: classes.map(String) };
}

/** The contract of the job's model: the encoding fitted on the train rows, the classes they hold. */
export function sagemakerJobContract(
  input: SagemakerChannelsInput,
  train: TrainingFrame,
): SagemakerJobContract {
  const { model, features, labelColumn } = input;
  if (model.trainer.algorithm !== 'sagemaker')
    throw new ValidationError(
      'trainer.algorithm',
      `must be sagemaker for a SageMaker job, not ${model.trainer.algorithm}`,
    );
  const label = train.columns[labelColumn];
  if (label === undefined) throw new ValidationError(labelColumn, 'is missing from the training set');
  const classes = model.task === 'regression' ? [] : classLabels(labelColumn, label, model.task).classes;
  const encoding: EncodingSpec = fitEncodingSpec(features, train);
  const signature: InputSignature = {
    inputs: features.map((f) => ({
      name: f.name,
      type: f.type,
      ...(f.featureView === undefined ? {} : { featureView: f.featureView }),
    })),
  };
  const regression = model.task === 'regression';
  return parseOrThrow(
    sagemakerJobContractSchema,
    {
      version: SAGEMAKER_CONTRACT_VERSION,
      model: model.name,
      task: model.task,
      label: labelColumn,
      features: features.map((f) => f.name),
      input: { name: MODEL_INPUT, width: encodedWidth(encoding) },
      outputs: regression
        ? { required: [OUTPUT_PREDICTION], optional: [] }
        : { required: [OUTPUT_PROBABILITIES], optional: [OUTPUT_LABEL] },
      encoding,
      signature,
      output: modelOutputOf(model.task, classes),
      classes,
      lineage: {
        ...(input.lineage ?? {}),
        trainer: { ...SAGEMAKER_TRAINER },
        trainingImage: model.trainer.image,
      },
    },
    'contract',
  );
}

const PARQUET_TYPE: Record<FeatureType, string> = {
  float64: 'DOUBLE',
  int64: 'INT64',
  bool: 'BOOLEAN',
  string: 'STRING',
};

/**
 * One split's raw rows as Parquet: features typed as declared (missing as null), every other column
 * (label, identity) as DOUBLE or STRING by its kind. Column order: the frame's.
 */
export function splitParquet(
  frame: TrainingFrame,
  features: readonly Pick<FeatureInput, 'name' | 'type'>[],
): Uint8Array {
  const declared = new Map(features.map((f) => [f.name, f.type]));
  const columnData = Object.entries(frame.columns).map(([name, column]) => {
    if (!(column instanceof Float64Array))
      return {
        name,
        type: 'STRING',
        data: Array.from(column.codes, (c) => (c < 0 ? null : (column.dictionary[c] as string))),
      };
    const type = declared.get(name) ?? 'float64';
    const data = Array.from(column, (v) => {
      if (Number.isNaN(v)) return null;
      if (type === 'int64') return BigInt(v);
      if (type === 'bool') return v !== 0;
      return v;
    });
    return { name, type: PARQUET_TYPE[type === 'string' ? 'float64' : type], data };
  });
  // hyparquet-writer's types describe `data` as its DecodedArray; our arrays match it.
  return new Uint8Array(parquetWriteBuffer({ columnData: columnData as never, codec: 'SNAPPY' }));
}

const s3Uri = (bucket: string, key: string) => `s3://${bucket}/${key}`;

/** Where a job's contract.json is (offline bucket key). */
export const contractKey = (model: string, datasetHash: string, runId: string): string =>
  `${trainingChannelPrefix(model, datasetHash, runId, 'config')}${CONTRACT_FILE}`;

/**
 * Writes the job's channels (train, validation, test Parquet; config/contract.json) under the
 * run's channel prefix of the offline bucket and returns the job's reference. Everything is checked
 * (trainer, label, encoding) before the first write; the bytes depend on the inputs only, so a
 * retried step rewrites the same objects.
 */
export async function writeSagemakerChannels(
  input: SagemakerChannelsInput,
  deps: SagemakerChannelsDeps,
): Promise<SagemakerJobRef> {
  const { model, runId, dataset, frame, split } = input;
  if (model.trainer.algorithm !== 'sagemaker')
    throw new ValidationError(
      'trainer.algorithm',
      `must be sagemaker for a SageMaker job, not ${model.trainer.algorithm}`,
    );
  const jobName = sagemakerJobName(model.name, runId);
  const sides = { train: split.train, validation: split.validation, test: split.test };
  if (sides.train.length === 0)
    throw new ValidationError('rows', `leave no training rows (${frame.rows} rows)`);
  if (sides.test.length === 0)
    throw new ValidationError(
      'split.testFraction',
      `leaves no held-out rows among ${frame.rows}: add rows or raise it`,
    );
  const frames = {
    train: selectRows(frame, sides.train),
    validation: selectRows(frame, sides.validation),
    test: selectRows(frame, sides.test),
  };
  const contract = sagemakerJobContract(input, frames.train);
  const files = (['train', 'validation', 'test'] as const).map((channel) => ({
    key: `${trainingChannelPrefix(model.name, dataset.hash, runId, channel)}${CHANNEL_DATA_FILE}`,
    body: splitParquet(frames[channel], [
      ...input.features,
      ...(input.labelType === undefined ? [] : [{ name: input.labelColumn, type: input.labelType }]),
    ]),
  }));
  for (const file of files)
    await deps.offline.put(file.key, file.body, { contentType: PARQUET_CONTENT_TYPE });
  await deps.offline.put(contractKey(model.name, dataset.hash, runId), `${canonicalJson(contract)}\n`, {
    contentType: 'application/json',
  });
  const channels = Object.fromEntries(
    SAGEMAKER_CHANNELS.map((channel) => [
      channel,
      s3Uri(deps.offlineBucket, trainingChannelPrefix(model.name, dataset.hash, runId, channel)),
    ]),
  ) as Record<SagemakerChannel, string>;
  return {
    jobName,
    channels,
    outputUri: s3Uri(deps.artifactBucket, `${runArtifactPrefix(input.experiment, runId)}sagemaker/`),
    hyperparameters: Object.fromEntries(
      Object.entries(model.trainer.hyperparameters).map(([k, v]) => [k, String(v)]),
    ),
  };
}

/** Parses contract.json (as the unpack step reads it back). */
export function parseSagemakerJobContract(
  text: string | Uint8Array,
  field = CONTRACT_FILE,
): SagemakerJobContract {
  let value: unknown;
  try {
    value = JSON.parse(typeof text === 'string' ? text : new TextDecoder().decode(text));
  } catch {
    throw new ValidationError(field, 'must be JSON');
  }
  return parseOrThrow(sagemakerJobContractSchema, value, field);
}
