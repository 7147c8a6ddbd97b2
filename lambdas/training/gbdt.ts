/**
 * Gradient-boosted decision trees on histogram bins, in plain TypeScript on typed arrays: binary
 * log-loss, multiclass softmax (one tree per class per round) and L2 regression. See
 * ./gbdt-params.ts for the hyperparameters, ./gbdt-binning.ts for how values become bins and
 * ./gbdt-tree.ts for how a tree grows.
 *
 * Deterministic: the same data, params and seed give the same trees, bit for bit (every random draw
 * comes from a seeded mulberry32 stream; sums run in a fixed order).
 *
 * Agrees with onnxruntime: thresholds and leaf values are float32, a row goes left when
 * `x <= threshold` (ONNX BRANCH_LEQ, the double input against the float32 threshold) or, for a
 * missing value, as the split learned; and {@link predictScores} sums leaf values in tree order,
 * adds the base score and rounds to float32, as onnxruntime's TreeEnsemble operators do. So the
 * exported model (./gbdt-onnx.ts) scores every row as the in-memory model does.
 */
import { ValidationError } from '../shared/errors.js';
import { mulberry32 } from '../shared/random.js';
import { type BinnedRows, binRows, type FeatureBins, learnBins } from './gbdt-binning.js';
import { type GbdtTask, gradients, initialScores, meanLoss, softmaxRows } from './gbdt-objective.js';
import { type GbdtParams, type GbdtParamsInput, parseGbdtParams } from './gbdt-params.js';
import { type GbdtTree, leafOfBinned, TreeLearner } from './gbdt-tree.js';

export type { GbdtTask } from './gbdt-objective.js';
export type { GbdtParams, GbdtParamsInput } from './gbdt-params.js';
export type { GbdtTree } from './gbdt-tree.js';

/** Training or validation data: one column per feature (NaN is missing) and a label per row. */
export interface GbdtData {
  readonly features: readonly ArrayLike<number>[];
  /** binary: 0 or 1; multiclass: 0 … K−1; regression: any finite number. */
  readonly label: ArrayLike<number>;
}

/** A trained model: everything predicting and exporting need. */
export interface GbdtModel {
  readonly task: GbdtTask;
  readonly numFeatures: number;
  /** 2 for binary, K for multiclass, 1 for regression. */
  readonly numClasses: number;
  /** Scores per row: 1 for binary (log-odds of class 1) and regression, K for multiclass. */
  readonly numOutputs: number;
  /** The float32 score each output starts from (ONNX base_values). */
  readonly baseScores: readonly number[];
  /** Round-major: `trees[round * numOutputs + k]` adds to output k. */
  readonly trees: readonly GbdtTree[];
}

/** One round's validation loss (log-loss, multiclass log-loss or mean squared error). */
export interface GbdtRound {
  readonly round: number;
  readonly validationLoss: number;
}

export interface GbdtTrainResult {
  readonly model: GbdtModel;
  readonly params: GbdtParams;
  /** Rounds the model keeps: the best validation round when early stopping ran. */
  readonly bestRound: number;
  /** Whether training stopped early for want of validation improvement. */
  readonly stoppedEarly: boolean;
  /** The training loss of the kept model (log-loss, multiclass log-loss or mean squared error). */
  readonly trainLoss: number;
  /** Validation loss per round, when there is validation data. */
  readonly history: readonly GbdtRound[];
}

/** Checks data and labels; returns the labels as Float64Array and the class count. */
function checkData(field: string, data: GbdtData, task: GbdtTask, numFeatures?: number): Float64Array {
  const { features, label } = data;
  if (!Array.isArray(features) || features.length === 0) {
    throw new ValidationError(`${field}.features`, 'must hold at least one feature column');
  }
  if (numFeatures !== undefined && features.length !== numFeatures) {
    throw new ValidationError(
      `${field}.features`,
      `must hold ${numFeatures} columns, as the training data does`,
    );
  }
  const n = label?.length ?? 0;
  if (n === 0) throw new ValidationError(`${field}.label`, 'must hold at least one row');
  features.forEach((column, f) => {
    if (column?.length !== n) {
      throw new ValidationError(`${field}.features.${f}`, `must hold ${n} rows, as ${field}.label does`);
    }
  });
  const y = Float64Array.from(label);
  for (let i = 0; i < n; i++) {
    const v = y[i] as number;
    if (!Number.isFinite(v)) throw new ValidationError(`${field}.label.${i}`, 'must be a finite number');
    if (task === 'binary' && v !== 0 && v !== 1)
      throw new ValidationError(`${field}.label.${i}`, 'must be 0 or 1');
    if (task === 'multiclass' && !(Number.isInteger(v) && v >= 0)) {
      throw new ValidationError(`${field}.label.${i}`, 'must be a class index 0, 1, 2, …');
    }
  }
  return y;
}

/** Rows `0 … n-1` split by seed into [train, validation], each ascending. */
function splitRows(n: number, fraction: number, seed: number): [Uint32Array, Uint32Array] {
  const random = mulberry32(seed ^ 0x5bd1e995);
  const held = Math.floor(n * fraction);
  const mask = new Uint8Array(n);
  let need = held;
  for (let i = 0; i < n && need > 0; i++) {
    if (random() * (n - i) < need) {
      mask[i] = 1;
      need--;
    }
  }
  const train = new Uint32Array(n - held);
  const valid = new Uint32Array(held);
  for (let i = 0, t = 0, v = 0; i < n; i++) {
    if (mask[i]) valid[v++] = i;
    else train[t++] = i;
  }
  return [train, valid];
}

const pick = (values: Float64Array, rows: Uint32Array) => Float64Array.from(rows, (r) => values[r] as number);

/**
 * Trains a model. `validation` (or `params.validationFraction` of the training rows) is scored
 * every round; with `params.earlyStoppingRounds` training stops once its loss has not improved for
 * that many rounds, and the model keeps the best round. Throws ValidationError naming the field
 * for bad data or params.
 */
export function trainGbdt(
  data: GbdtData,
  paramsInput: GbdtParamsInput,
  validation?: GbdtData,
): GbdtTrainResult {
  const params = parseGbdtParams(paramsInput);
  const { task } = params;
  let label = checkData('data', data, task);
  const F = data.features.length;
  let validLabel = validation ? checkData('validation', validation, task, F) : undefined;
  if (validation && params.validationFraction > 0) {
    throw new ValidationError('params.validationFraction', 'must be 0 when a validation set is given');
  }
  let trainRows: Uint32Array | undefined;
  let validRows: Uint32Array | undefined;
  if (params.validationFraction > 0) {
    [trainRows, validRows] = splitRows(label.length, params.validationFraction, params.seed);
    if (trainRows.length === 0 || validRows.length === 0) {
      throw new ValidationError('params.validationFraction', 'must leave at least one row on each side');
    }
    validLabel = pick(label, validRows);
    label = pick(label, trainRows);
  }
  if (params.earlyStoppingRounds !== undefined && validLabel === undefined) {
    throw new ValidationError(
      'params.earlyStoppingRounds',
      'needs a validation set or params.validationFraction',
    );
  }
  let classes = task === 'binary' ? 2 : 1;
  if (task === 'multiclass') {
    const largest = label.reduce((a, b) => Math.max(a, b), 0);
    classes = params.numClasses ?? largest + 1;
    if (largest >= classes)
      throw new ValidationError('data.label', `must be below params.numClasses (${classes})`);
    if (validLabel?.some((v) => v >= classes)) {
      throw new ValidationError('validation.label', `must be below the class count (${classes})`);
    }
  }
  if (task !== 'regression' && new Set(label).size < 2) {
    throw new ValidationError('data.label', 'must hold at least two classes');
  }
  const K = task === 'multiclass' ? classes : 1;
  const n = label.length;

  // Bins from a seeded sample of the training rows; every row binned once.
  const binSample =
    n > params.binSampleSize
      ? (splitRows(n, params.binSampleSize / n, params.seed ^ 0x2545f491)[1] as Uint32Array)
      : undefined;
  const columns = data.features;
  const sampleRows =
    binSample && trainRows ? binSample.map((i) => trainRows[i] as number) : (binSample ?? trainRows);
  const bins: FeatureBins = learnBins(columns, params.maxBins, sampleRows);
  const binned = binRows(columns, bins, trainRows);
  const validBinned = validation
    ? binRows(validation.features, bins)
    : validRows
      ? binRows(columns, bins, validRows)
      : undefined;

  const init = initialScores(task, label, K).map(Math.fround);
  const scores = new Float64Array(n * K);
  for (let i = 0; i < scores.length; i++) scores[i] = init[i % K] as number;
  const nValid = validLabel?.length ?? 0;
  const validScores = new Float64Array(nValid * K);
  for (let i = 0; i < validScores.length; i++) validScores[i] = init[i % K] as number;

  const learner = new TreeLearner(binned, bins, {
    numLeaves: params.numLeaves,
    maxDepth: params.maxDepth ?? Number.POSITIVE_INFINITY,
    minChildSamples: params.minChildSamples,
    minChildWeight: params.minChildWeight,
    lambda: params.lambda,
    minSplitGain: params.minSplitGain,
  });
  const gh = new Float64Array(2 * n);
  const probs = new Float64Array(task === 'multiclass' ? n * K : 0);
  const bag = Uint32Array.from({ length: n }, (_, i) => i);
  const inBag = new Uint8Array(n).fill(1);
  const rowRandom = mulberry32(params.seed);
  const featureRandom = mulberry32(params.seed ^ 0x9e3779b9);
  const featurePool = Int32Array.from({ length: F }, (_, f) => f);
  const featureCount = Math.max(1, Math.round(params.colsample * F));
  const bagTarget = Math.max(1, Math.round(params.subsample * n));

  const trees: GbdtTree[] = [];
  const history: GbdtRound[] = [];
  let bestRound = 0;
  let bestLoss = Number.POSITIVE_INFINITY;
  let stoppedEarly = false;
  for (let round = 0; round < params.numRounds; round++) {
    let bagSize = n;
    if (bagTarget < n) {
      bagSize = 0;
      let need = bagTarget;
      for (let i = 0; i < n; i++) {
        const take = need > 0 && rowRandom() * (n - i) < need;
        inBag[i] = take ? 1 : 0;
        if (take) {
          bag[bagSize++] = i;
          need--;
        }
      }
    }
    if (task === 'multiclass') softmaxRows(scores, K, probs);
    for (let k = 0; k < K; k++) {
      let features = featurePool;
      if (featureCount < F) {
        // Partial Fisher–Yates: the first featureCount entries are the draw.
        for (let i = 0; i < featureCount; i++) {
          const j = i + Math.floor(featureRandom() * (F - i));
          const t = featurePool[i] as number;
          featurePool[i] = featurePool[j] as number;
          featurePool[j] = t;
        }
        features = featurePool.slice(0, featureCount).sort();
      }
      gradients(task, label, scores, probs, K, k, gh);
      const tree = learner.grow(gh, bag, bagSize, features, params.learningRate);
      trees.push(tree);
      // In-bag rows from the leaves' row segments; out-of-bag and validation rows by descent.
      const { order, leafStart, leafCount, leafNode } = learner;
      for (let l = 0; l < learner.leaves; l++) {
        const value = tree.value[leafNode[l] as number] as number;
        const end = (leafStart[l] as number) + (leafCount[l] as number);
        for (let i = leafStart[l] as number; i < end; i++) {
          const at = (order[i] as number) * K + k;
          scores[at] = (scores[at] as number) + value;
        }
      }
      if (bagSize < n) {
        for (let r = 0; r < n; r++) {
          if (inBag[r]) continue;
          const at = r * K + k;
          scores[at] = (scores[at] as number) + (tree.value[leafOfBinned(tree, binned, r)] as number);
        }
      }
      if (validBinned) {
        for (let r = 0; r < nValid; r++) {
          const at = r * K + k;
          validScores[at] =
            (validScores[at] as number) + (tree.value[leafOfBinned(tree, validBinned, r)] as number);
        }
      }
    }
    if (validLabel === undefined) {
      bestRound = round + 1;
      continue;
    }
    const validationLoss = meanLoss(task, validLabel, validScores, K);
    history.push({ round: round + 1, validationLoss });
    if (validationLoss < bestLoss || params.earlyStoppingRounds === undefined) {
      bestLoss = Math.min(bestLoss, validationLoss);
      bestRound = round + 1;
    } else if (round + 1 - bestRound >= params.earlyStoppingRounds) {
      stoppedEarly = true;
      break;
    }
  }
  const model: GbdtModel = {
    task,
    numFeatures: F,
    numClasses: task === 'regression' ? 1 : classes,
    numOutputs: K,
    baseScores: init,
    trees: trees.slice(0, bestRound * K),
  };
  // Training scores hold every round grown; past the kept ones, score the kept model afresh.
  const kept = model.trees.length === trees.length ? scores : binnedScores(model, binned);
  const trainLoss = meanLoss(task, label, kept, K);
  return { model, params, bestRound, stoppedEarly, trainLoss, history };
}

/** Scores (float64 sums) of binned rows. */
function binnedScores(model: GbdtModel, data: BinnedRows): Float64Array {
  const K = model.numOutputs;
  const out = new Float64Array(data.rows * K);
  for (let r = 0; r < data.rows; r++) {
    for (let k = 0; k < K; k++) {
      let s = model.baseScores[k] as number;
      for (let t = k; t < model.trees.length; t += K) {
        const tree = model.trees[t] as GbdtTree;
        s += tree.value[leafOfBinned(tree, data, r)] as number;
      }
      out[r * K + k] = s;
    }
  }
  return out;
}

/** The leaf row `row` of `features` (columns) reaches in `tree`, on raw values. */
function leafOf(tree: GbdtTree, features: readonly ArrayLike<number>[], row: number): number {
  let node = 0;
  while (tree.feature[node] !== -1) {
    const x = (features[tree.feature[node] as number] as ArrayLike<number>)[row] as number;
    const goLeft = Number.isNaN(x) ? tree.missingLeft[node] === 1 : x <= (tree.threshold[node] as number);
    node = (goLeft ? tree.left[node] : tree.right[node]) as number;
  }
  return node;
}

/**
 * Raw scores, row-major `numOutputs` per row (log-odds, class scores or the regression value): leaf
 * values summed in tree order, the base score added, the total rounded to float32 — as onnxruntime's
 * TreeEnsemble operators do on a double input (they sum in double and return float32).
 */
export function predictScores(model: GbdtModel, features: readonly ArrayLike<number>[]): Float64Array {
  if (features.length !== model.numFeatures) {
    throw new ValidationError(
      'features',
      `must hold ${model.numFeatures} columns, as the model was trained on`,
    );
  }
  const n = features[0]?.length ?? 0;
  features.forEach((column, f) => {
    if (column.length !== n)
      throw new ValidationError(`features.${f}`, `must hold ${n} rows, as features.0 does`);
  });
  const K = model.numOutputs;
  const out = new Float64Array(n * K);
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let t = k; t < model.trees.length; t += K) {
        const tree = model.trees[t] as GbdtTree;
        s += tree.value[leafOf(tree, features, r)] as number;
      }
      out[r * K + k] = Math.fround(s + (model.baseScores[k] as number));
    }
  }
  return out;
}

/**
 * Class probabilities, row-major `numClasses` per row: [P(0), P(1)] for binary (logistic of the
 * score), softmax of the class scores for multiclass. Regression models have none.
 */
export function predictProbabilities(model: GbdtModel, features: readonly ArrayLike<number>[]): Float64Array {
  if (model.task === 'regression') throw new ValidationError('model.task', 'must be binary or multiclass');
  const scores = predictScores(model, features);
  if (model.task === 'multiclass') {
    const out = new Float64Array(scores.length);
    softmaxRows(scores, model.numOutputs, out);
    return out;
  }
  const out = new Float64Array(scores.length * 2);
  for (let r = 0; r < scores.length; r++) {
    const s = scores[r] as number;
    out[2 * r] = 1 / (1 + Math.exp(s));
    out[2 * r + 1] = 1 / (1 + Math.exp(-s));
  }
  return out;
}
