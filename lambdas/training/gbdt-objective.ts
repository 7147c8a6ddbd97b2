/**
 * The gradient-boosted trees' objectives: the starting score, first and second derivatives of the
 * loss per row, and the loss itself (for early stopping). Scores are row-major, `classes` per row
 * (1 for binary and regression).
 *
 * - binary: log-loss on a logistic link; the score is the log-odds of class 1.
 * - multiclass: softmax cross-entropy, one score per class; the hessian carries LightGBM's factor
 *   K/(K−1), so a step has the same size as LightGBM's.
 * - regression: squared error (L2); the score is the prediction.
 */
export type GbdtTask = 'binary' | 'multiclass' | 'regression';

/** Smallest hessian a row contributes, so a confident row cannot make a leaf's weight infinite. */
const MIN_HESSIAN = 1e-16;
/** Probabilities are clipped into [EPS, 1-EPS] when a loss is computed. */
const EPS = 1e-15;

/** The score every row starts from: log-odds of the base rate, class log-priors, or the mean. */
export function initialScores(task: GbdtTask, label: Float64Array, classes: number): number[] {
  const n = label.length;
  if (task === 'regression') {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += label[i] as number;
    return [sum / n];
  }
  const counts = new Float64Array(task === 'binary' ? 2 : classes);
  for (let i = 0; i < n; i++) {
    const c = label[i] as number;
    counts[c] = (counts[c] as number) + 1;
  }
  if (task === 'binary') {
    const p = Math.min(Math.max((counts[1] as number) / n, EPS), 1 - EPS);
    return [Math.log(p / (1 - p))];
  }
  return Array.from(counts, (c) => Math.log(Math.max(c / n, EPS)));
}

/** Class probabilities from row-major scores (softmax), into `out`. */
export function softmaxRows(scores: Float64Array, classes: number, out: Float64Array): void {
  const n = scores.length / classes;
  for (let r = 0; r < n; r++) {
    const base = r * classes;
    let max = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < classes; k++) max = Math.max(max, scores[base + k] as number);
    let sum = 0;
    for (let k = 0; k < classes; k++) {
      const e = Math.exp((scores[base + k] as number) - max);
      out[base + k] = e;
      sum += e;
    }
    for (let k = 0; k < classes; k++) out[base + k] = (out[base + k] as number) / sum;
  }
}

/**
 * Gradients and hessians of one tree's target into `gh`, interleaved (`gh[2i]`, `gh[2i+1]`): for
 * binary and regression from `scores`; for multiclass, class `k` from the round's `probs`.
 */
export function gradients(
  task: GbdtTask,
  label: Float64Array,
  scores: Float64Array,
  probs: Float64Array,
  classes: number,
  k: number,
  gh: Float64Array,
): void {
  const n = label.length;
  if (task === 'regression') {
    for (let i = 0; i < n; i++) {
      gh[2 * i] = (scores[i] as number) - (label[i] as number);
      gh[2 * i + 1] = 1;
    }
  } else if (task === 'binary') {
    for (let i = 0; i < n; i++) {
      const p = 1 / (1 + Math.exp(-(scores[i] as number)));
      gh[2 * i] = p - (label[i] as number);
      gh[2 * i + 1] = Math.max(p * (1 - p), MIN_HESSIAN);
    }
  } else {
    const factor = classes / (classes - 1);
    for (let i = 0; i < n; i++) {
      const p = probs[i * classes + k] as number;
      gh[2 * i] = label[i] === k ? p - 1 : p;
      gh[2 * i + 1] = Math.max(factor * p * (1 - p), MIN_HESSIAN);
    }
  }
}

/** Mean loss of `scores` against `label`: log-loss, multiclass log-loss or mean squared error. */
export function meanLoss(task: GbdtTask, label: Float64Array, scores: Float64Array, classes: number): number {
  const n = label.length;
  let sum = 0;
  if (task === 'regression') {
    for (let i = 0; i < n; i++) {
      const d = (scores[i] as number) - (label[i] as number);
      sum += d * d;
    }
  } else if (task === 'binary') {
    for (let i = 0; i < n; i++) {
      const p = Math.min(Math.max(1 / (1 + Math.exp(-(scores[i] as number))), EPS), 1 - EPS);
      sum -= label[i] === 1 ? Math.log(p) : Math.log(1 - p);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const base = i * classes;
      let max = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < classes; k++) max = Math.max(max, scores[base + k] as number);
      let z = 0;
      for (let k = 0; k < classes; k++) z += Math.exp((scores[base + k] as number) - max);
      const logP = (scores[base + (label[i] as number)] as number) - max - Math.log(z);
      sum -= Math.max(logP, Math.log(EPS));
    }
  }
  return sum / n;
}
