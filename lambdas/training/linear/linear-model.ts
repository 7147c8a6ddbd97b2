/**
 * The built-in linear trainers: ridge regression, binary logistic regression and multinomial
 * (softmax) logistic regression, each with L2, on the encoding spec (../encoding.ts).
 *
 * Numeric columns are standardized with the spec's mean and deviation while fitting, so the
 * penalty treats features alike whatever their units; the fitted coefficients are then unfolded
 * into raw-feature space (w/σ, and b − Σ w·μ/σ), so the exported model takes the encoded row as is.
 * One-hot columns are not scaled. Solvers: ./solvers.ts.
 */
import { ValidationError } from '../../shared/errors.js';
import {
  type EncodingSpec,
  encodeRows,
  type FeatureInput,
  fitEncodingSpec,
  type Matrix,
  numericColumns,
  type RawRow,
} from '../encoding.js';
import { classLabels, regressionTargets, type Task } from '../labels.js';
import type { ClassLabel } from '../model-contract.js';
import { fitLogistic, fitRidge, fitSoftmax, type SolverResult } from './solvers.js';

export interface LinearParams {
  /** L2 penalty per row (scikit-learn: C = 1/(n·l2), Ridge alpha = n·l2). @default 1e-4 */
  readonly l2?: number;
  /** Newton stops when the largest gradient entry ≤ this × max(1, initial). @default 1e-10 */
  readonly gradientTolerance?: number;
  /** @default 100 */
  readonly maxIterations?: number;
  /** Unknown or missing categories: all zeros, or an explicit `<other>` column. @default 'zeros' */
  readonly unknownCategory?: 'zeros' | 'other';
  /** Most categories learned per string feature without declared categories. @default 100 */
  readonly maxCategories?: number;
}

export interface LinearTrainingInput {
  readonly task: Task;
  readonly rows: readonly RawRow[];
  /** Label column in `rows`. */
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
  readonly converged: boolean;
}

const DEFAULTS: Required<LinearParams> = {
  l2: 1e-4,
  gradientTolerance: 1e-10,
  maxIterations: 100,
  unknownCategory: 'zeros',
  maxCategories: 100,
};

function checkParams(params: LinearParams | undefined): Required<LinearParams> {
  const p = { ...DEFAULTS, ...params };
  if (!(Number.isFinite(p.l2) && p.l2 >= 0))
    throw new ValidationError('params.l2', 'must be a finite number ≥ 0');
  if (!(p.gradientTolerance > 0)) throw new ValidationError('params.gradientTolerance', 'must be positive');
  if (!(Number.isInteger(p.maxIterations) && p.maxIterations >= 1)) {
    throw new ValidationError('params.maxIterations', 'must be a whole number ≥ 1');
  }
  return p;
}

/** The standardized design matrix with a trailing intercept column. */
function design(x: Matrix, spec: EncodingSpec): Float64Array {
  const scales = numericColumns(spec);
  const m = x.cols + 1;
  const z = new Float64Array(x.rows * m);
  for (let i = 0; i < x.rows; i++) {
    for (let j = 0; j < x.cols; j++) {
      const s = scales[j];
      const v = x.data[i * x.cols + j] as number;
      z[i * m + j] = s ? (v - s.mean) / s.std : v;
    }
    z[i * m + x.cols] = 1;
  }
  return z;
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
  if (input.rows.length === 0) throw new ValidationError('rows', 'must not be empty (no training rows)');
  const labels = input.rows.map((r) => r[input.label]);
  // Check labels before fitting anything, so the error names the label, not a feature.
  const targets =
    input.task === 'regression'
      ? { y: regressionTargets(input.label, labels), classes: [] as ClassLabel[] }
      : classLabels(input.label, labels, input.task);
  const encoding = fitEncodingSpec(input.features, input.rows, {
    missing: 'mean',
    unknown: params.unknownCategory,
    maxCategories: params.maxCategories,
  });
  const x = encodeRows(encoding, input.rows);
  const z = design(x, encoding);
  const m = x.cols + 1;
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
