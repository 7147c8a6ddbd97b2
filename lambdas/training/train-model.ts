/**
 * One training run on a training set in columns: split by seed (split.ts), fit the built-in trainer
 * (linear or gbdt) on the train rows, export model.onnx, score the held-out rows with onnxruntime
 * and evaluate those ONNX scores (evaluate/metrics.ts), time per-row inference (evaluate/latency.ts)
 * and profile the held-out rows and their predictions for drift monitoring
 * (evaluate/reference-profile.ts: held-out predictions, unlike training ones, are not overfit, so
 * they are what live traffic should look like).
 *
 * The validation rows are scored by the ONNX model too (`validationMetrics`: what a hyperparameter
 * search picks by, so the held-out rows stay unseen by every choice). The scoring and evaluation is
 * {@link evaluateOnnxModel}, which the training workflow also runs on models trained elsewhere.
 *
 * The in-memory predictions on the same rows come back too, so callers (and tests) can check that
 * the exported model computes what the trainer computed.
 *
 * Deterministic: the same data, trainer, params and seed give a byte-identical model.onnx.
 * Plain code: no AWS SDK, so the training workflow's Lambdas and the CLI share it.
 */
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import type * as z from 'zod';
import type { InputSignature, ModelLineage } from '../registry/version-record.js';
import { ValidationError } from '../shared/errors.js';
import { parseOrThrow } from '../shared/validation.js';
import {
  type EncodingSpec,
  encodeColumns,
  type FeatureInput,
  fitEncodingSpec,
  type Matrix,
  type TrainingFrame,
} from './encoding.js';
import { type ScoredRows, type SliceReport, sliceReport } from './evaluate/fairness.js';
import { type LatencySummary, latencySummary } from './evaluate/latency.js';
import {
  type BinaryMetrics,
  binaryMetrics,
  type MulticlassMetrics,
  multiclassMetrics,
  type RegressionMetrics,
  regressionMetrics,
} from './evaluate/metrics.js';
import { buildReferenceProfile, type ReferenceProfile } from './evaluate/reference-profile.js';
import { predictProbabilities, predictScores, trainGbdt } from './gbdt.js';
import { exportGbdtModel } from './gbdt-onnx.js';
import { classLabels, regressionTargets, type Task } from './labels.js';
import { exportLinearModel } from './linear/linear-export.js';
import { predictLinear, trainLinearModel } from './linear/linear-model.js';
import { gbdtTrainerSchema, linearTrainerSchema } from './model-config.js';
import { type ClassLabel, MODEL_INPUT } from './model-contract.js';
import { type HeldOutScores, runOnnx } from './onnx-scores.js';
import { type Split, type SplitOptions, selectRows, splitFrame } from './split.js';

export type TrainerInput = z.input<typeof linearTrainerSchema> | z.input<typeof gbdtTrainerSchema>;

export interface TrainModelInput {
  readonly task: Task;
  /** Features and label in columns (encoding.ts `rowsToFrame`, or the point-in-time join). */
  readonly frame: TrainingFrame;
  /** The label column of `frame`. */
  readonly label: string;
  /** Input features in the model's order. */
  readonly features: readonly (FeatureInput & { readonly featureView?: string })[];
  readonly trainer: TrainerInput;
  readonly split: SplitOptions & {
    /** Columns of `frame` whose values identify a row (entity key, event time); else the row index. */
    readonly identity?: readonly string[];
  };
  /**
   * Held-out rows given explicitly (e.g. `mlops train local --test`): then every row of `frame`
   * is train or validation and `split.testFraction` is unused.
   */
  readonly test?: TrainingFrame;
  readonly lineage?: ModelLineage;
  /** Held-out rows timed one at a time for the latency summary. @default 200 */
  readonly latencyRows?: number;
  /** Columns of `frame` (and `test`) the evaluation slices metrics and fairness gaps by. */
  readonly slices?: readonly string[];
}

export type Metrics =
  | ({ readonly task: 'binary' } & BinaryMetrics)
  | ({ readonly task: 'multiclass' } & MulticlassMetrics)
  | ({ readonly task: 'regression' } & RegressionMetrics);

export interface Evaluation {
  /** On the held-out rows, from the ONNX model's outputs. */
  readonly metrics: Metrics;
  /** Per-row inference in onnxruntime, milliseconds. */
  readonly latency: LatencySummary;
  readonly modelBytes: number;
  readonly rows: { readonly train: number; readonly validation: number; readonly test: number };
  /** Metrics per slice of each `slices` column and the fairness gaps between slices (evaluate/fairness.ts). */
  readonly slices?: readonly SliceReport[];
}

export type { HeldOutScores };

export interface TrainModelResult {
  readonly onnx: Uint8Array;
  /** Hex sha256 of `onnx`. */
  readonly sha256: string;
  readonly encoding: EncodingSpec;
  /** Classes in probability column order; empty for regression. */
  readonly classes: readonly ClassLabel[];
  /** The trainer's own predictions on the held-out rows. */
  readonly inMemory: HeldOutScores;
  /** onnxruntime's on the same rows (what `evaluation` is computed from). */
  readonly onnxScores: HeldOutScores;
  readonly evaluation: Evaluation;
  /**
   * The same metrics on the validation rows, from the ONNX model's outputs (what a hyperparameter
   * search picks by); absent when the split left no validation rows.
   */
  readonly validationMetrics?: Metrics;
  readonly referenceProfile: ReferenceProfile;
  /** Held-out rows (indexes into `frame`; empty when `test` was given). */
  readonly split: Split;
}

interface Fitted {
  readonly onnx: Uint8Array;
  readonly encoding: EncodingSpec;
  readonly classes: readonly ClassLabel[];
  readonly predict: (x: Matrix) => HeldOutScores;
}

/** The raw input signature (as the linear exporter records it). */
function signatureOf(features: TrainModelInput['features']): InputSignature {
  return {
    inputs: features.map((f) => ({
      name: f.name,
      type: f.type,
      ...(f.featureView === undefined ? {} : { featureView: f.featureView }),
    })),
  };
}

/** Columns of a row-major matrix (the GBDT trainer's input). */
function columnsOf(x: Matrix): Float64Array[] {
  return Array.from({ length: x.cols }, (_, j) =>
    Float64Array.from({ length: x.rows }, (_, i) => x.data[i * x.cols + j] as number),
  );
}

function fitLinear(input: TrainModelInput, train: TrainingFrame): Fitted {
  if (input.trainer.algorithm !== 'linear') throw new Error('unreachable');
  const model = trainLinearModel({
    task: input.task,
    frame: train,
    label: input.label,
    features: input.features,
    params: input.trainer.params ?? {},
  });
  return {
    onnx: exportLinearModel(model, input.lineage),
    encoding: model.encoding,
    classes: model.classes,
    predict: (x) => {
      const p = predictLinear(model, x);
      return p.predictions
        ? { predictions: p.predictions }
        : { probabilities: p.probabilities as Float64Array };
    },
  };
}

function fitGbdt(
  input: TrainModelInput,
  train: TrainingFrame,
  validation: TrainingFrame | undefined,
): Fitted {
  if (input.trainer.algorithm !== 'gbdt') throw new Error('unreachable');
  const { task, label } = input;
  const labelColumn = train.columns[label];
  if (labelColumn === undefined) throw new ValidationError(label, 'is missing from the training set');
  const targets =
    task === 'regression'
      ? { y: regressionTargets(label, labelColumn), classes: [] as ClassLabel[] }
      : classLabels(label, labelColumn, task);
  const encoding = fitEncodingSpec(input.features, train, { missing: 'nan' });
  const x = columnsOf(encodeColumns(encoding, train));
  const classIndex = new Map(targets.classes.map((c, k) => [c, k]));
  let validationData: { features: Float64Array[]; label: Float64Array } | undefined;
  if (validation !== undefined && validation.rows > 0) {
    const column = validation.columns[label] as NonNullable<typeof labelColumn>;
    validationData = {
      features: columnsOf(encodeColumns(encoding, validation)),
      label:
        task === 'regression'
          ? regressionTargets(label, column)
          : Float64Array.from(heldOutClasses(label, column, task, targets.classes, classIndex)),
    };
  }
  const { model } = trainGbdt(
    { features: x, label: Float64Array.from(targets.y) },
    {
      ...(input.trainer.params ?? {}),
      task,
      ...(task === 'multiclass' ? { numClasses: targets.classes.length } : {}),
      validationFraction: 0,
      seed: input.split.seed,
    },
    validationData,
  );
  const onnx = exportGbdtModel(model, {
    encoding,
    signature: signatureOf(input.features),
    classes: targets.classes,
    ...(input.lineage === undefined ? {} : { lineage: input.lineage }),
  });
  return {
    onnx,
    encoding,
    classes: targets.classes,
    predict: (m) =>
      task === 'regression'
        ? { predictions: predictScores(model, columnsOf(m)) }
        : { probabilities: predictProbabilities(model, columnsOf(m)) },
  };
}

/** Class indexes of held-out labels under the trained classes; a class the model never saw is bad input. */
function heldOutClasses(
  field: string,
  column: TrainingFrame['columns'][string],
  task: 'binary' | 'multiclass',
  classes: readonly ClassLabel[],
  index: ReadonlyMap<ClassLabel, number>,
): Int32Array {
  const n = column instanceof Float64Array ? column.length : column.codes.length;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let value: ClassLabel | undefined;
    if (column instanceof Float64Array) value = Number.isNaN(column[i]) ? undefined : (column[i] as number);
    else {
      const code = column.codes[i] as number;
      value = code < 0 ? undefined : column.dictionary[code];
    }
    if (value === undefined)
      throw new ValidationError(field, `must not be missing or NaN (held-out row ${i})`);
    const k = index.get(value);
    if (k === undefined)
      throw new ValidationError(
        field,
        `holds class ${JSON.stringify(value)} only in held-out rows; a ${task} model trained on ${classes.map((c) => JSON.stringify(c)).join(', ')} cannot score it`,
      );
    out[i] = k;
  }
  return out;
}

/** Checks the frame's label up front, over every row, so errors name the label before any fitting. */
function checkLabel(input: TrainModelInput, frame: TrainingFrame, where: string): void {
  if (frame.rows === 0) throw new ValidationError(where, 'must not be empty (no rows)');
  const column = frame.columns[input.label];
  if (column === undefined)
    throw new ValidationError(
      input.label,
      `is missing from the ${where === 'rows' ? 'training set' : 'test set'}`,
    );
  if (input.task === 'regression') regressionTargets(input.label, column);
  else if (where === 'rows') classLabels(input.label, column, input.task);
}

/** Per-row latency: the first `count` held-out rows scored one at a time. */
async function timeRows(session: ort.InferenceSession, x: Matrix, count: number): Promise<LatencySummary> {
  const n = Math.max(1, Math.min(count, x.rows));
  const timings = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const row = x.data.slice(i * x.cols, (i + 1) * x.cols);
    const start = performance.now();
    await session.run({ [MODEL_INPUT]: new ort.Tensor('float64', row, [1, x.cols]) });
    timings[i] = performance.now() - start;
  }
  return latencySummary(timings);
}

function metricsOf(task: Task, y: ArrayLike<number>, scores: HeldOutScores, classes: number): Metrics {
  if (task === 'regression') return { task, ...regressionMetrics(y, scores.predictions as Float64Array) };
  const p = scores.probabilities as Float64Array;
  if (task === 'binary') {
    const positive = Float64Array.from({ length: y.length }, (_, i) => p[2 * i + 1] as number);
    return { task, ...binaryMetrics(y, positive) };
  }
  return { task, ...multiclassMetrics(y, p, classes) };
}

/**
 * Trains, exports and evaluates one model. Bad input (empty data, a missing, NaN, single-class or
 * wrongly typed label, a feature of the wrong type, bad params) is a ValidationError naming the
 * field, thrown before anything is returned.
 */
export async function trainModel(input: TrainModelInput): Promise<TrainModelResult> {
  const { task, frame } = input;
  // The model config's trainer schemas: unknown params, and those the run decides (task, seed,
  // validation share), are refused by name rather than silently overridden.
  if (input.trainer.algorithm === 'linear') parseOrThrow(linearTrainerSchema, input.trainer, 'trainer');
  else if (input.trainer.algorithm === 'gbdt') parseOrThrow(gbdtTrainerSchema, input.trainer, 'trainer');
  else throw new ValidationError('trainer.algorithm', 'must be linear or gbdt');
  checkLabel(input, frame, 'rows');
  if (input.test !== undefined) checkLabel(input, input.test, 'test');
  const { validationFraction, seed, identity } = input.split;
  const explicitTest = input.test !== undefined;
  let split: Split;
  if (!explicitTest) split = splitFrame(frame, input.split, identity);
  else if (validationFraction === 0)
    split = { train: allRows(frame.rows), validation: new Uint32Array(0), test: new Uint32Array(0) };
  else {
    // Every row is train or validation: the validation share is of all rows.
    const s = splitFrame(frame, { testFraction: validationFraction, validationFraction: 0, seed }, identity);
    split = { train: s.train, validation: s.test, test: new Uint32Array(0) };
  }
  const trainRows = split.train;
  const validationRows = split.validation;
  const testFrame = input.test ?? selectRows(frame, split.test);
  if (trainRows.length === 0)
    throw new ValidationError('rows', `leave no training rows (${frame.rows} rows)`);
  if (testFrame.rows === 0)
    throw new ValidationError(
      'split.testFraction',
      `leaves no held-out rows among ${frame.rows}: add rows or raise it`,
    );
  if (
    input.trainer.algorithm === 'gbdt' &&
    input.trainer.params?.earlyStoppingRounds !== undefined &&
    validationRows.length === 0
  )
    throw new ValidationError(
      'split.validationFraction',
      'must leave validation rows when trainer.params.earlyStoppingRounds is set',
    );
  const train = selectRows(frame, trainRows);
  const validation = selectRows(frame, validationRows);
  const fitted =
    input.trainer.algorithm === 'linear' ? fitLinear(input, train) : fitGbdt(input, train, validation);

  const evaluated = await evaluateOnnxModel({
    task,
    onnx: fitted.onnx,
    encoding: fitted.encoding,
    classes: fitted.classes,
    label: input.label,
    features: input.features,
    test: testFrame,
    validation,
    rows: { train: trainRows.length, validation: validationRows.length, test: testFrame.rows },
    ...(input.latencyRows === undefined ? {} : { latencyRows: input.latencyRows }),
    ...(input.slices === undefined ? {} : { slices: input.slices }),
  });
  return {
    onnx: fitted.onnx,
    sha256: createHash('sha256').update(fitted.onnx).digest('hex'),
    encoding: fitted.encoding,
    classes: fitted.classes,
    inMemory: fitted.predict(evaluated.x),
    onnxScores: evaluated.onnxScores,
    evaluation: evaluated.evaluation,
    ...(evaluated.validationMetrics === undefined ? {} : { validationMetrics: evaluated.validationMetrics }),
    referenceProfile: evaluated.referenceProfile,
    split,
  };
}

/** What {@link evaluateOnnxModel} scores: a model (built-in or trained elsewhere) and its rows. */
export interface OnnxEvaluationInput {
  readonly task: Task;
  readonly onnx: Uint8Array;
  /** The model's encoding spec and classes (its contract: model-contract.ts). */
  readonly encoding: EncodingSpec;
  readonly classes: readonly ClassLabel[];
  readonly label: string;
  /** Raw input features (the reference profile's columns). */
  readonly features: readonly FeatureInput[];
  /** Held-out rows: metrics, latency and the reference profile. */
  readonly test: TrainingFrame;
  /** Validation rows: `validationMetrics` when there are any. */
  readonly validation?: TrainingFrame;
  readonly rows: Evaluation['rows'];
  /** @default 200 */
  readonly latencyRows?: number;
  /** Columns of `test` to slice metrics and fairness gaps by. */
  readonly slices?: readonly string[];
}

export interface OnnxEvaluation {
  /** The held-out rows encoded (what the model was fed). */
  readonly x: Matrix;
  readonly onnxScores: HeldOutScores;
  readonly evaluation: Evaluation;
  /** The same metrics on the validation rows (absent without validation rows). */
  readonly validationMetrics?: Metrics;
  readonly referenceProfile: ReferenceProfile;
}

/** Rows of `frame` scored by a model in onnxruntime, and the metrics of those scores. */
export interface ScoredFrame {
  readonly x: Matrix;
  /** The label as the metrics read it: class indexes (classifiers) or targets. */
  readonly y: ArrayLike<number>;
  readonly scores: HeldOutScores;
  readonly metrics: Metrics;
}

/**
 * Encodes `frame` with `encoding`, scores it in `session` and computes the task's metrics against
 * its `label` column. A held-out class the model does not know is a ValidationError on the label.
 */
export async function scoreFrame(
  session: ort.InferenceSession,
  input: {
    readonly task: Task;
    readonly encoding: EncodingSpec;
    readonly classes: readonly ClassLabel[];
    readonly label: string;
    readonly frame: TrainingFrame;
  },
): Promise<ScoredFrame> {
  const { task, frame, label, classes } = input;
  const x = encodeColumns(input.encoding, frame);
  const labelColumn = frame.columns[label];
  if (labelColumn === undefined) throw new ValidationError(label, 'is missing from the held-out rows');
  const y =
    task === 'regression'
      ? regressionTargets(label, labelColumn)
      : heldOutClasses(label, labelColumn, task, classes, new Map(classes.map((c, k) => [c, k])));
  const scores = await runOnnx(session, x, task);
  return { x, y, scores, metrics: metricsOf(task, y, scores, classes.length) };
}

/**
 * Scores a model's held-out (and validation) rows in onnxruntime: metrics, per-row latency and the
 * reference profile. trainModel evaluates what it trained with it; the training workflow evaluates
 * models trained elsewhere (SageMaker) with it, so both are judged alike.
 */
export async function evaluateOnnxModel(input: OnnxEvaluationInput): Promise<OnnxEvaluation> {
  const { task } = input;
  const session = await ort.InferenceSession.create(input.onnx);
  try {
    const held = await scoreFrame(session, { ...input, frame: input.test });
    const latency = await timeRows(session, held.x, input.latencyRows ?? 200);
    const validation =
      input.validation !== undefined && input.validation.rows > 0
        ? await scoreFrame(session, { ...input, frame: input.validation })
        : undefined;
    const referenceProfile = buildReferenceProfile(
      input.features,
      input.test,
      task === 'regression'
        ? { kind: 'score', prediction: held.scores.predictions as Float64Array }
        : {
            kind: 'probability',
            probabilities: held.scores.probabilities as Float64Array,
            classes: input.classes,
          },
    );
    const scored: ScoredRows =
      task === 'regression'
        ? { task, y: held.y, prediction: held.scores.predictions as Float64Array }
        : task === 'binary'
          ? {
              task,
              y: held.y,
              probability: Float64Array.from(
                { length: held.y.length },
                (_, i) => (held.scores.probabilities as Float64Array)[2 * i + 1] as number,
              ),
            }
          : {
              task,
              y: held.y,
              probabilities: held.scores.probabilities as Float64Array,
              classes: input.classes.length,
            };
    const slices = (input.slices ?? []).map((name) => {
      const column = input.test.columns[name];
      if (column === undefined)
        throw new ValidationError(`slices.${name}`, 'is missing from the held-out rows');
      return sliceReport(name, column, scored);
    });
    return {
      x: held.x,
      onnxScores: held.scores,
      evaluation: {
        metrics: held.metrics,
        latency,
        modelBytes: input.onnx.byteLength,
        rows: input.rows,
        ...(input.slices === undefined ? {} : { slices }),
      },
      ...(validation === undefined ? {} : { validationMetrics: validation.metrics }),
      referenceProfile,
    };
  } finally {
    await session.release();
  }
}

const allRows = (n: number) => Uint32Array.from({ length: n }, (_, i) => i);
