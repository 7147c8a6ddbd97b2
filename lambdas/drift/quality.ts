/**
 * Model quality over a capture window, once labels arrive: each feedback outcome joined to the
 * captured prediction it answers (request id and instance), then the version's own evaluation
 * metric on the joined pairs, compared with the value the registry recorded at training.
 *
 * - binary classifiers (outcome: the class label, a boolean, or 0/1 as the class index): ROC-AUC of the positive-class score (the evaluation's `rocAuc`, computed by
 *   the same function); accuracy of the predicted label when the labels hold one class only;
 * - multiclass: accuracy of the predicted label (`accuracy`);
 * - regressors: RMSE (`rmse`; a rise is the drop).
 *
 * Only sampled predictions are captured, so feedback to an uncaptured request joins nothing (it is
 * not counted). Below `minLabelled` joined pairs the value is null (no metric, no alarm).
 */
import type { CaptureRecord, Prediction } from '../serving/contract.js';
import { rocAuc } from '../training/evaluate/metrics.js';
import type { PredictionProfile } from '../training/evaluate/reference-profile.js';
import type { ModelQuality } from './contract.js';

type Task =
  | { kind: 'binary'; positive: string; negative: string }
  | { kind: 'multiclass' }
  | { kind: 'regression' };

function taskOf(profile: PredictionProfile): Task {
  if (profile.kind === 'score') return { kind: 'regression' };
  if (profile.classes.length === 2)
    return { kind: 'binary', negative: String(profile.classes[0]), positive: String(profile.classes[1]) };
  return { kind: 'multiclass' };
}

/**
 * A binary outcome as 1 (positive) or 0: the class label itself first (`'yes'`, or `1` for classes
 * [0, 1]), then a boolean, then 0/1 as the class index; anything else is not a label (skipped).
 */
function binaryTruth(task: { positive: string; negative: string }, outcome: unknown): 0 | 1 | undefined {
  const text = String(outcome);
  if (text === task.positive) return 1;
  if (text === task.negative) return 0;
  if (outcome === true || outcome === 1) return 1;
  if (outcome === false || outcome === 0) return 0;
  return undefined;
}

/** Compact: what quality needs of one captured prediction. */
interface Scored {
  readonly score?: number;
  readonly label?: string;
  readonly value?: number;
}

function scoredOf(prediction: Prediction): Scored {
  return {
    ...(typeof prediction.score === 'number' ? { score: prediction.score } : {}),
    ...(prediction.label !== undefined ? { label: String(prediction.label) } : {}),
    ...(typeof prediction.prediction === 'number' ? { value: prediction.prediction } : {}),
  };
}

export class QualityWindow {
  private readonly task: Task;
  private readonly predictions = new Map<string, Scored>();
  private readonly outcomes = new Map<string, CaptureRecord & { kind: 'feedback' }>();

  constructor(
    profile: PredictionProfile,
    private readonly options: { readonly minLabelled: number },
  ) {
    this.task = taskOf(profile);
  }

  /** A captured prediction of the checked version. */
  addPrediction(record: CaptureRecord & { kind: 'prediction' }): void {
    this.predictions.set(`${record.requestId}#${record.instance}`, scoredOf(record.prediction));
  }

  /** Whether any feedback was added (no lookback read is needed without). */
  hasFeedback(): boolean {
    return this.outcomes.size > 0;
  }

  /** A captured feedback (the last one for a request and instance wins, as a corrected label). */
  addFeedback(record: CaptureRecord & { kind: 'feedback' }): void {
    this.outcomes.set(`${record.requestId}#${record.instance}`, record);
  }

  /** The window's quality against `baseline` (the version's registry metrics); undefined without feedback. */
  finish(baseline: Readonly<Record<string, number>>): ModelQuality | undefined {
    if (this.outcomes.size === 0) return undefined;
    const task = this.task;
    const y: number[] = [];
    const scores: number[] = [];
    let correct = 0;
    let squared = 0;
    for (const [key, feedback] of this.outcomes) {
      const scored = this.predictions.get(key);
      if (scored === undefined) continue;
      const outcome = feedback.outcome;
      if (task.kind === 'binary') {
        const truth = binaryTruth(task, outcome);
        if (truth === undefined || scored.score === undefined) continue;
        y.push(truth);
        scores.push(scored.score);
        if ((scored.score >= 0.5 ? 1 : 0) === truth) correct++;
      } else if (task.kind === 'multiclass') {
        if (scored.label === undefined || typeof outcome === 'boolean') continue;
        y.push(0);
        if (scored.label === String(outcome)) correct++;
      } else {
        if (typeof outcome !== 'number' || scored.value === undefined) continue;
        y.push(outcome);
        squared += (scored.value - outcome) ** 2;
      }
    }
    const labelled = y.length;
    const enough = labelled >= this.options.minLabelled;
    let metric: ModelQuality['metric'];
    let value: number | null = null;
    if (task.kind === 'regression') {
      metric = 'rmse';
      if (enough) value = Math.sqrt(squared / labelled);
    } else if (task.kind === 'binary') {
      const auc = enough ? rocAuc(y, scores) : undefined;
      metric = auc === undefined || auc.value !== null ? 'auc' : 'accuracy';
      if (enough) value = auc?.value ?? correct / labelled;
    } else {
      metric = 'accuracy';
      if (enough) value = correct / labelled;
    }
    const baselineKey = metric === 'auc' ? 'rocAuc' : metric;
    const base = baseline[baselineKey];
    const reference = typeof base === 'number' && Number.isFinite(base) && base > 0 ? base : null;
    const relativeDrop =
      value === null || reference === null
        ? null
        : metric === 'rmse'
          ? (value - reference) / reference
          : (reference - value) / reference;
    return { metric, labelled, value, baseline: reference, relativeDrop };
  }
}
