/**
 * The built-in linear trainers: ridge regression, binary logistic regression and multinomial
 * (softmax) logistic regression, each with L2, on the encoding spec (../encoding.ts).
 *
 * Numeric columns are standardized with the spec's mean and deviation while fitting, so the
 * penalty treats features alike whatever their units; the fitted coefficients are then unfolded
 * into raw-feature space (w/σ, and b − Σ w·μ/σ), so the exported model takes the encoded row as is.
 * One-hot columns are not scaled. Solvers: ./solvers.ts.
 */
import * as z from 'zod';
import { ValidationError } from '../../shared/errors.js';
import { parseOrThrow } from '../../shared/validation.js';
import {
  type EncodingSpec,
  encodeRows,
  type FeatureInput,
  fitEncodingSpec,
  type Matrix,
  numericColumns,
  type RawRow,
  standardizedDesign,
  type TrainingFrame,
} from '../encoding.js';
import { classLabels, regressionTargets, type Task } from '../labels.js';
import type { ClassLabel } from '../model-contract.js';
import { fitLogistic, fitRidge, fitSoftmax, type SolverResult } from './solvers.js';

/** The linear trainers' parameters: one schema (defaults included) the trainer and `mlops.config.ts` share. */
export const linearParamsSchema = z.strictObject({
  /** L2 penalty per row (scikit-learn: C = 1/(n·l2), Ridge alpha = n·l2). @default 1e-4 */
  l2: z
    .number({ error: 'must be a finite number ≥ 0' })
    .min(0, 'must be a finite number ≥ 0')
    .finite()
    .default(1e-4),
  /** Newton stops when the largest gradient entry ≤ this × max(1, initial). @default 1e-10 */
  gradientTolerance: z
    .number({ error: 'must be positive' })
    .gt(0, 'must be positive')
    .lt(1, 'must be < 1')
    .default(1e-10),
  /** @default 100 */
  maxIterations: z
    .number({ error: 'must be a whole number ≥ 1' })
    .int('must be a whole number ≥ 1')
    .min(1, 'must be a whole number ≥ 1')
    .max(10_000, 'must be at most 10000')
    .default(100),
  /** Unknown or missing categories: all zeros, or an explicit `<other>` column. @default 'zeros' */
  unknownCategory: z.enum(['zeros', 'other'], { error: 'must be zeros or other' }).default('zeros'),
  /** Most categories learned per string feature without declared categories. @default 100 */
  maxCategories: z
    .number({ error: 'must be a whole number ≥ 1' })
    .int('must be a whole number ≥ 1')
    .min(1, 'must be a whole number ≥ 1')
    .default(100),
});

export type LinearParams = z.input<typeof linearParamsSchema>;

export interface LinearTrainingInput {
  readonly task: Task;
  /** The training set in columns (features and label). */
  readonly frame: TrainingFrame;
  /** Label column in `frame`. */
  readonly label: string;
  /** Input features in order (a view's declared categories go in `categories`). */
  readonly features: readonly (FeatureInput & { readonly featureView?: string })[];
  readonly params?: LinearParams;
}

/** A fitted linear model in raw encoded-feature space. */
export interface LinearModel {
  readonly task: Task;
  readonly encoding: EncodingSpec;
  readonly features: LinearTrainingInput['features'];
  /** Classes in probability order (classifiers); empty for regression. */
  readonly classes: readonly ClassLabel[];
  /** Row-major K × F: K = 1 for regression and binary (the positive class's logit), else classes. */
  readonly coefficients: Float64Array;
  readonly intercepts: Float64Array;
  /** The parameters after defaults. */
  readonly params: Required<LinearParams>;
  readonly iterations: number;
  /** Hessians the solver computed (its main cost). */
  readonly hessians: number;
  readonly converged: boolean;
}

function checkParams(params: LinearParams | undefined): Required<LinearParams> {
  return parseOrThrow(linearParamsSchema, params ?? {}, 'params');
}

/** Unfolds standardized parameters (K × (F+1)) into raw coefficients and intercepts. */
function unfold(result: SolverResult, spec: EncodingSpec, f: number, k: number) {
  const scales = numericColumns(spec);
  const coefficients = new Float64Array(k * f);
  const intercepts = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    let b = result.w[c * (f + 1) + f] as number;
    for (let j = 0; j < f; j++) {
      const theta = result.w[c * (f + 1) + j] as number;
      const s = scales[j];
      coefficients[c * f + j] = s ? theta / s.std : theta;
      if (s) b -= (theta * s.mean) / s.std;
    }
    intercepts[c] = b;
  }
  return { coefficients, intercepts };
}

/** Fits a linear model. Throws ValidationError naming the field for bad input. */
export function trainLinearModel(input: LinearTrainingInput): LinearModel {
  const params = checkParams(input.params);
  const { frame } = input;
  if (frame.rows === 0) throw new ValidationError('rows', 'must not be empty (no training rows)');
  const labelColumn = frame.columns[input.label];
  if (labelColumn === undefined) throw new ValidationError(input.label, 'is missing from the training set');
  // Check labels before fitting anything, so the error names the label, not a feature.
  const targets =
    input.task === 'regression'
      ? { y: regressionTargets(input.label, labelColumn), classes: [] as ClassLabel[] }
      : classLabels(input.label, labelColumn, input.task);
  const encoding = fitEncodingSpec(input.features, frame, {
    missing: 'mean',
    unknown: params.unknownCategory,
    maxCategories: params.maxCategories,
  });
  const design = standardizedDesign(encoding, frame);
  const z = design.data;
  const m = design.cols;
  const x = { rows: design.rows, cols: m - 1 };
  const solver = {
    l2: params.l2,
    gradientTolerance: params.gradientTolerance,
    maxIterations: params.maxIterations,
  };
  let result: SolverResult;
  let k = 1;
  if (input.task === 'regression') {
    result = fitRidge(z, targets.y as Float64Array, x.rows, m, solver);
  } else if (targets.classes.length === 2) {
    result = fitLogistic(z, targets.y as Int32Array, x.rows, m, solver);
  } else {
    k = targets.classes.length;
    result = fitSoftmax(z, targets.y as Int32Array, x.rows, m, k, solver);
  }
  return {
    task: input.task,
    encoding,
    features: input.features,
    classes: targets.classes,
    ...unfold(result, encoding, x.cols, k),
    params,
    iterations: result.iterations,
    hessians: result.hessians,
    converged: result.converged,
  };
}

/** In-memory predictions for encoded rows (what the exported ONNX model computes). */
export interface LinearPredictions {
  /** Row-major n × K class probabilities (binary: [P(classes[0]), P(classes[1])]); regression: absent. */
  readonly probabilities?: Float64Array;
  /** Predicted class per row (first of the most probable, as ONNX ArgMax picks). */
  readonly labels?: ClassLabel[];
  /** Regression predictions. */
  readonly predictions?: Float64Array;
}

export function predictLinear(model: LinearModel, x: Matrix): LinearPredictions {
  const f = model.intercepts.length === 0 ? 0 : model.coefficients.length / model.intercepts.length;
  if (x.cols !== f) throw new ValidationError('features', `must have ${f} encoded columns, not ${x.cols}`);
  const k = model.intercepts.length;
  const eta = new Float64Array(x.rows * k);
  for (let i = 0; i < x.rows; i++) {
    for (let c = 0; c < k; c++) {
      let s = model.intercepts[c] as number;
      for (let j = 0; j < f; j++)
        s += (x.data[i * f + j] as number) * (model.coefficients[c * f + j] as number);
      eta[i * k + c] = s;
    }
  }
  if (model.task === 'regression') return { predictions: eta };
  const classes = model.classes.length;
  const probabilities = new Float64Array(x.rows * classes);
  const labels: ClassLabel[] = [];
  for (let i = 0; i < x.rows; i++) {
    if (classes === 2) {
      const t = eta[i] as number;
      const p = t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t));
      probabilities[2 * i] = 1 - p;
      probabilities[2 * i + 1] = p;
    } else {
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < classes; c++) max = Math.max(max, eta[i * k + c] as number);
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += Math.exp((eta[i * k + c] as number) - max);
      for (let c = 0; c < classes; c++)
        probabilities[i * classes + c] = Math.exp((eta[i * k + c] as number) - max) / sum;
    }
    let best = 0;
    for (let c = 1; c < classes; c++)
      if ((probabilities[i * classes + c] as number) > (probabilities[i * classes + best] as number))
        best = c;
    labels.push(model.classes[best] as ClassLabel);
  }
  return { probabilities, labels };
}

/** Encodes raw rows with the model's spec and predicts. */
export function scoreRows(model: LinearModel, rows: readonly RawRow[]): LinearPredictions {
  return predictLinear(model, encodeRows(model.encoding, rows));
}
