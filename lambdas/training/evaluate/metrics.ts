/**
 * Evaluation metrics on typed arrays, as the held-out split gives them: class indexes
 * (labels.ts: index k is class k; binary class 1 is the positive one), the model's `probabilities`
 * output (model-contract.ts: row-major [N, K]) and regression predictions.
 *
 * Definitions follow scikit-learn, and the tests pin them to values it recorded
 * (test/fixtures/evaluate/make_fixtures.py):
 * - thresholded binary metrics count a row positive when P(positive) >= threshold (default 0.5,
 *   scikit-learn's FixedThresholdClassifier rule); F1 = 2TP / (2TP + FP + FN);
 * - ROC-AUC is the Mann-Whitney statistic with ties counted one half (the area under the ROC curve
 *   through tied scores, as `roc_auc_score`): positives and negatives are sorted once, O(n log n);
 * - log loss clips probabilities to [eps, 1 - eps], eps = 2^-52 (float64 epsilon, scikit-learn's);
 * - multiclass accuracy takes the first largest probability (numpy argmax); macro-F1 averages the
 *   classes present in the truth or the predictions; AUC is one-vs-rest, macro-averaged.
 *
 * A metric the data cannot define is `null` with a reason in `undefinedReasons`, never NaN: AUC
 * when the held-out set holds one class, precision without predicted positives, recall without
 * actual positives, R² of a constant target. Bad input (empty, unequal lengths, NaN scores, labels
 * out of range) is a ValidationError naming the field.
 */
import { ValidationError } from '../../shared/errors.js';

/** scikit-learn's log-loss clip: float64 machine epsilon. */
export const LOG_LOSS_EPS = 2 ** -52;

/** The probability given to the true class, clipped as scikit-learn does (on [1 - p, p] for binary). */
const clip = (p: number) => Math.min(Math.max(p, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS);

/** Why metrics are null, by metric name. */
export type UndefinedReasons = Record<string, string>;

export interface BinaryMetrics {
  readonly count: number;
  readonly positives: number;
  readonly threshold: number;
  readonly accuracy: number;
  readonly precision: number | null;
  readonly recall: number | null;
  readonly f1: number | null;
  readonly rocAuc: number | null;
  readonly logLoss: number;
  readonly brier: number;
  /** Share of rows predicted positive (the fairness gaps compare it between slices). */
  readonly positiveRate: number;
  readonly undefinedReasons: UndefinedReasons;
}

export interface MulticlassMetrics {
  readonly count: number;
  readonly classes: number;
  readonly accuracy: number;
  readonly macroF1: number;
  /** Per class (null: the class is in neither the truth nor the predictions). */
  readonly f1ByClass: (number | null)[];
  readonly macroRocAuc: number | null;
  readonly logLoss: number;
  readonly undefinedReasons: UndefinedReasons;
}

export interface RegressionMetrics {
  readonly count: number;
  readonly rmse: number;
  readonly mae: number;
  readonly r2: number | null;
  readonly undefinedReasons: UndefinedReasons;
}

/** A metric value, or null with the reason it is undefined. */
export type MaybeMetric = { readonly value: number } | { readonly value: null; readonly reason: string };

function checkRows(field: string, length: number): void {
  if (length === 0) throw new ValidationError(field, 'must not be empty (no held-out rows)');
}

function checkLength(field: string, length: number, expected: number): void {
  if (length !== expected) throw new ValidationError(field, `must hold ${expected} values, not ${length}`);
}

/** Class indexes in [0, k). */
function checkLabels(field: string, y: ArrayLike<number>, k: number): void {
  checkRows(field, y.length);
  for (let i = 0; i < y.length; i++) {
    const v = y[i] as number;
    if (!Number.isInteger(v) || v < 0 || v >= k)
      throw new ValidationError(field, `must be class indexes 0..${k - 1}, not ${v} (row ${i})`);
  }
}

function checkProbabilities(field: string, p: ArrayLike<number>): void {
  for (let i = 0; i < p.length; i++) {
    const v = p[i] as number;
    if (!(v >= 0 && v <= 1))
      throw new ValidationError(field, `must be probabilities in [0, 1], not ${v} (row ${i})`);
  }
}

function checkFinite(field: string, v: ArrayLike<number>): void {
  for (let i = 0; i < v.length; i++)
    if (!Number.isFinite(v[i] as number))
      throw new ValidationError(field, `must be finite numbers, not ${v[i]} (row ${i})`);
}

/**
 * ROC-AUC of scores against 0/1 labels, ties averaged: P(score of a random positive > score of a
 * random negative) + P(equal) / 2. Null when the labels hold one class.
 */
export function rocAuc(y: ArrayLike<number>, scores: ArrayLike<number>): MaybeMetric {
  checkLabels('labels', y, 2);
  checkLength('scores', scores.length, y.length);
  checkFinite('scores', scores);
  let nPos = 0;
  for (let i = 0; i < y.length; i++) nPos += y[i] as number;
  const nNeg = y.length - nPos;
  if (nPos === 0 || nNeg === 0)
    return {
      value: null,
      reason: `the held-out set holds one class only (${nPos === 0 ? 'no positives' : 'no negatives'})`,
    };
  const pos = new Float64Array(nPos);
  const neg = new Float64Array(nNeg);
  for (let i = 0, a = 0, b = 0; i < y.length; i++) {
    if (y[i] === 1) pos[a++] = scores[i] as number;
    else neg[b++] = scores[i] as number;
  }
  pos.sort();
  neg.sort();
  // Sweep the positives' tie groups; `below` negatives score lower, `equal` tie with the group.
  let wins = 0;
  let j = 0;
  for (let i = 0; i < nPos; ) {
    const s = pos[i] as number;
    let group = 0;
    while (i < nPos && pos[i] === s) {
      group++;
      i++;
    }
    while (j < nNeg && (neg[j] as number) < s) j++;
    let equal = 0;
    while (j + equal < nNeg && neg[j + equal] === s) equal++;
    wins += group * (j + equal / 2);
  }
  return { value: wins / nPos / nNeg };
}

/** Binary metrics of P(positive) against 0/1 labels. */
export function binaryMetrics(
  y: ArrayLike<number>,
  probability: ArrayLike<number>,
  threshold = 0.5,
): BinaryMetrics {
  checkLabels('labels', y, 2);
  checkLength('probabilities', probability.length, y.length);
  checkProbabilities('probabilities', probability);
  if (!(threshold >= 0 && threshold <= 1)) throw new ValidationError('threshold', 'must be in [0, 1]');
  const n = y.length;
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let positives = 0;
  let loss = 0;
  let brier = 0;
  for (let i = 0; i < n; i++) {
    const t = y[i] as number;
    const p = probability[i] as number;
    const predicted = p >= threshold ? 1 : 0;
    positives += t;
    if (predicted === 1 && t === 1) tp++;
    else if (predicted === 1) fp++;
    else if (t === 1) fn++;
    loss -= Math.log(clip(t === 1 ? p : 1 - p));
    brier += (p - t) * (p - t);
  }
  const tn = n - tp - fp - fn;
  const reasons: UndefinedReasons = {};
  const precision = tp + fp === 0 ? null : tp / (tp + fp);
  if (precision === null) reasons.precision = 'no row is predicted positive';
  const recall = positives === 0 ? null : tp / positives;
  if (recall === null) reasons.recall = 'the held-out set holds no positives';
  const f1 = 2 * tp + fp + fn === 0 ? null : (2 * tp) / (2 * tp + fp + fn);
  if (f1 === null) reasons.f1 = 'no positives in the truth or the predictions';
  const auc = rocAuc(y, probability);
  if (auc.value === null) reasons.rocAuc = auc.reason;
  return {
    count: n,
    positives,
    threshold,
    accuracy: (tp + tn) / n,
    precision,
    recall,
    f1,
    rocAuc: auc.value,
    logLoss: loss / n,
    brier: brier / n,
    positiveRate: (tp + fp) / n,
    undefinedReasons: reasons,
  };
}

/** Multiclass metrics of row-major [N, K] probabilities against class indexes 0..K-1. */
export function multiclassMetrics(
  y: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  classes: number,
): MulticlassMetrics {
  if (!Number.isInteger(classes) || classes < 2)
    throw new ValidationError('classes', 'must be a whole number >= 2');
  checkLabels('labels', y, classes);
  const n = y.length;
  checkLength('probabilities', probabilities.length, n * classes);
  checkProbabilities('probabilities', probabilities);
  const tp = new Float64Array(classes);
  const truth = new Float64Array(classes);
  const predicted = new Float64Array(classes);
  let correct = 0;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const t = y[i] as number;
    let best = 0;
    for (let k = 1; k < classes; k++)
      if ((probabilities[i * classes + k] as number) > (probabilities[i * classes + best] as number))
        best = k;
    truth[t] = (truth[t] as number) + 1;
    predicted[best] = (predicted[best] as number) + 1;
    if (best === t) {
      correct++;
      tp[t] = (tp[t] as number) + 1;
    }
    loss -= Math.log(clip(probabilities[i * classes + t] as number));
  }
  const reasons: UndefinedReasons = {};
  const f1ByClass: (number | null)[] = [];
  let f1Sum = 0;
  let f1Count = 0;
  for (let k = 0; k < classes; k++) {
    const denominator = (truth[k] as number) + (predicted[k] as number);
    const f1 = denominator === 0 ? null : (2 * (tp[k] as number)) / denominator;
    f1ByClass.push(f1);
    if (f1 !== null) {
      f1Sum += f1;
      f1Count++;
    }
  }
  let macroRocAuc: number | null = null;
  const absent = [...truth.keys()].filter((k) => truth[k] === 0 || truth[k] === n);
  if (absent.length > 0) {
    reasons.macroRocAuc = `one-vs-rest AUC needs every class in the held-out set and another beside it; class ${absent.join(', ')} ${absent.length === 1 ? 'does' : 'do'} not qualify`;
  } else {
    const yk = new Uint8Array(n);
    const pk = new Float64Array(n);
    let sum = 0;
    for (let k = 0; k < classes; k++) {
      for (let i = 0; i < n; i++) {
        yk[i] = y[i] === k ? 1 : 0;
        pk[i] = probabilities[i * classes + k] as number;
      }
      sum += rocAuc(yk, pk).value as number;
    }
    macroRocAuc = sum / classes;
  }
  return {
    count: n,
    classes,
    accuracy: correct / n,
    macroF1: f1Sum / f1Count,
    f1ByClass,
    macroRocAuc,
    logLoss: loss / n,
    undefinedReasons: reasons,
  };
}

/** RMSE, MAE and R² (null for a constant target: its variance is zero). */
export function regressionMetrics(y: ArrayLike<number>, prediction: ArrayLike<number>): RegressionMetrics {
  checkRows('labels', y.length);
  checkFinite('labels', y);
  checkLength('predictions', prediction.length, y.length);
  checkFinite('predictions', prediction);
  const n = y.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += y[i] as number;
  mean /= n;
  let ssRes = 0;
  let ssTot = 0;
  let abs = 0;
  for (let i = 0; i < n; i++) {
    const e = (y[i] as number) - (prediction[i] as number);
    ssRes += e * e;
    abs += Math.abs(e);
    ssTot += ((y[i] as number) - mean) ** 2;
  }
  const reasons: UndefinedReasons = {};
  const r2 = ssTot === 0 ? null : 1 - ssRes / ssTot;
  if (r2 === null) reasons.r2 = 'the held-out target is constant (zero variance)';
  return { count: n, rmse: Math.sqrt(ssRes / n), mae: abs / n, r2, undefinedReasons: reasons };
}
