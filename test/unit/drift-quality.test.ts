import { describe, expect, it } from 'vitest';
import { QualityWindow } from '../../lambdas/drift/quality.js';
import type { CaptureRecord, Prediction } from '../../lambdas/serving/contract.js';
import type { PredictionProfile } from '../../lambdas/training/evaluate/reference-profile.js';
import { prng } from '../support/random.js';

const binary: PredictionProfile = {
  kind: 'probability',
  classes: ['no', 'yes'],
  edges: [0.5],
  counts: [
    [1, 1],
    [1, 1],
  ],
  predictedCounts: [1, 1],
};
const multiclass: PredictionProfile = {
  ...binary,
  classes: ['a', 'b', 'c'],
  counts: [[1], [1], [1]],
  predictedCounts: [1, 1, 1],
};
const regression: PredictionProfile = {
  kind: 'score',
  count: 2,
  min: 0,
  max: 1,
  edges: [0.5],
  counts: [1, 1],
};

const prediction = (
  requestId: string,
  p: Prediction,
  instance = 0,
): CaptureRecord & { kind: 'prediction' } => ({
  kind: 'prediction',
  requestId,
  instance,
  timeMs: 0,
  model: 'm',
  version: 1,
  variant: 'default',
  features: {},
  prediction: p,
});
const feedback = (
  requestId: string,
  outcome: CaptureRecord extends infer R
    ? R extends { kind: 'feedback'; outcome: infer O }
      ? O
      : never
    : never,
  instance = 0,
): CaptureRecord & { kind: 'feedback' } => ({
  kind: 'feedback',
  requestId,
  instance,
  timeMs: 0,
  model: 'm',
  outcome,
});

/** Brute-force AUC: the share of (positive, negative) pairs ordered right, ties one half. */
function pairwiseAuc(y: number[], s: number[]): number {
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < y.length; i++)
    for (let j = 0; j < y.length; j++)
      if (y[i] === 1 && y[j] === 0) {
        pairs++;
        sum += (s[i] as number) > (s[j] as number) ? 1 : s[i] === s[j] ? 0.5 : 0;
      }
  return sum / pairs;
}

describe('QualityWindow', () => {
  it("binary: the joined pairs' ROC-AUC equals a brute-force pairwise count over 30 seeds, and the drop is against rocAuc", () => {
    for (let seed = 1; seed <= 30; seed++) {
      const random = prng(seed);
      const window = new QualityWindow(binary, { minLabelled: 10 });
      const y: number[] = [];
      const s: number[] = [];
      const n = 20 + Math.floor(random() * 200);
      for (let i = 0; i < n; i++) {
        const truth = random() < 0.4 ? 1 : 0;
        const score = Math.round((truth * 0.3 + random() * 0.7) * 20) / 20; // ties on purpose
        window.addPrediction(prediction(`r${i}`, { score, label: score >= 0.5 ? 'yes' : 'no' }));
        // Outcomes in every accepted form: boolean, the class label, 0/1.
        const form = i % 3;
        window.addFeedback(
          feedback(`r${i}`, form === 0 ? truth === 1 : form === 1 ? (truth ? 'yes' : 'no') : truth),
        );
        y.push(truth);
        s.push(score);
      }
      if (!y.includes(0) || !y.includes(1)) continue;
      const quality = window.finish({ rocAuc: 0.9 });
      const auc = pairwiseAuc(y, s);
      expect(quality?.metric).toBe('auc');
      expect(quality?.labelled).toBe(n);
      expect(quality?.value).toBeCloseTo(auc, 12);
      expect(quality?.baseline).toBe(0.9);
      expect(quality?.relativeDrop).toBeCloseTo((0.9 - auc) / 0.9, 12);
    }
  });

  it('joins feedback to captured predictions only; a later feedback for the same instance replaces the earlier one', () => {
    const window = new QualityWindow(binary, { minLabelled: 1 });
    window.addPrediction(prediction('a', { score: 0.9 }));
    window.addPrediction(prediction('b', { score: 0.1 }));
    window.addPrediction(prediction('b', { score: 0.8 }, 1));
    window.addFeedback(feedback('a', false)); // corrected below
    window.addFeedback(feedback('a', true));
    window.addFeedback(feedback('b', false));
    window.addFeedback(feedback('b', true, 1));
    window.addFeedback(feedback('uncaptured', true)); // its prediction was not sampled
    const quality = window.finish({ rocAuc: 1 });
    expect(quality).toMatchObject({ metric: 'auc', labelled: 3, value: 1, relativeDrop: 0 });
  });

  it('gives no value below minLabelled, and no quality at all without feedback', () => {
    const window = new QualityWindow(binary, { minLabelled: 5 });
    for (let i = 0; i < 4; i++) {
      window.addPrediction(prediction(`r${i}`, { score: i / 4 }));
      window.addFeedback(feedback(`r${i}`, i % 2 === 0));
    }
    expect(window.finish({ rocAuc: 0.8 })).toMatchObject({ labelled: 4, value: null, relativeDrop: null });
    expect(new QualityWindow(binary, { minLabelled: 1 }).finish({ rocAuc: 0.8 })).toBeUndefined();
  });

  it('binary with one class in the labels: accuracy of the 0.5 threshold, against the accuracy baseline', () => {
    const window = new QualityWindow(binary, { minLabelled: 1 });
    [0.9, 0.8, 0.3, 0.7].forEach((score, i) => {
      window.addPrediction(prediction(`r${i}`, { score }));
      window.addFeedback(feedback(`r${i}`, true));
    });
    expect(window.finish({ rocAuc: 0.9, accuracy: 0.8 })).toMatchObject({
      metric: 'accuracy',
      value: 0.75,
      baseline: 0.8,
    });
  });

  it('multiclass: accuracy of the predicted label; regression: RMSE, its rise the drop', () => {
    const classes = new QualityWindow(multiclass, { minLabelled: 1 });
    ['a', 'b', 'c', 'a'].forEach((label, i) => {
      classes.addPrediction(prediction(`r${i}`, { label }));
      classes.addFeedback(feedback(`r${i}`, i === 3 ? 'c' : label));
    });
    expect(classes.finish({ accuracy: 1 })).toMatchObject({
      metric: 'accuracy',
      value: 0.75,
      relativeDrop: 0.25,
    });

    const values = new QualityWindow(regression, { minLabelled: 1 });
    [
      [1, 2],
      [3, 3],
      [0, -2],
    ].forEach(([predicted, actual], i) => {
      values.addPrediction(prediction(`r${i}`, { prediction: predicted as number }));
      values.addFeedback(feedback(`r${i}`, actual as number));
    });
    const rmse = Math.sqrt((1 + 0 + 4) / 3);
    const quality = values.finish({ rmse: 1 });
    expect(quality?.metric).toBe('rmse');
    expect(quality?.value).toBeCloseTo(rmse, 12);
    expect(quality?.relativeDrop).toBeCloseTo(rmse - 1, 12);
  });
});
