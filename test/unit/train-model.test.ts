import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  encodeColumns,
  type FeatureInput,
  type RawRow,
  rowsToFrame,
} from '../../lambdas/training/encoding.js';
import { binaryMetrics } from '../../lambdas/training/evaluate/metrics.js';
import type { Task } from '../../lambdas/training/labels.js';
import { readModelContract } from '../../lambdas/training/model-contract.js';
import { selectRows } from '../../lambdas/training/split.js';
import { type TrainerInput, type TrainModelInput, trainModel } from '../../lambdas/training/train-model.js';
import { prng } from '../support/random.js';

const features: FeatureInput[] = [
  { name: 'x1', type: 'float64' },
  { name: 'x2', type: 'float64' },
  { name: 'segment', type: 'string' },
];
const split = { testFraction: 0.25, validationFraction: 0.1, seed: 7 };

/** Rows with two numeric features, a category and a label of `task` that the features determine. */
function rows(task: Task, n: number, seed = 1): RawRow[] {
  const random = prng(seed);
  return Array.from({ length: n }, () => {
    const x1 = 4 * random() - 2;
    const x2 = 10 * random();
    const segment = ['a', 'b', 'c'][Math.floor(random() * 3)] as string;
    const label =
      task === 'regression'
        ? 3 * x1 - 2 * x2 + 5
        : task === 'binary'
          ? x1 > 0.3
          : x1 < -0.5
            ? 'low'
            : x1 < 0.5
              ? 'mid'
              : 'high';
    return { x1, x2, segment, label };
  });
}

function input(task: Task, trainer: TrainerInput, data = rows(task, 600)): TrainModelInput {
  const labelType = task === 'regression' ? 'float64' : task === 'binary' ? 'bool' : 'string';
  return {
    task,
    frame: rowsToFrame([...features, { name: 'label', type: labelType }], data),
    label: 'label',
    features,
    trainer,
    split,
    lineage: { runId: 'run-1' },
    latencyRows: 20,
  };
}

const linear: TrainerInput = { algorithm: 'linear', params: { l2: 1e-6 } };
const gbdt: TrainerInput = { algorithm: 'gbdt', params: { numRounds: 30, minChildSamples: 5 } };

function maxDiff(a: ArrayLike<number> | undefined, b: ArrayLike<number> | undefined): number {
  expect(a).toBeDefined();
  expect(a?.length).toBe(b?.length);
  let max = 0;
  for (let i = 0; i < (a?.length ?? 0); i++)
    max = Math.max(max, Math.abs((a?.[i] as number) - (b?.[i] as number)));
  return max;
}

describe('trainModel', () => {
  for (const [name, trainer] of [
    ['linear', linear],
    ['gbdt', gbdt],
  ] as const) {
    for (const task of ['binary', 'multiclass', 'regression'] as const) {
      it(`${name} ${task}: onnxruntime scores the held-out rows as the trainer does (1e-6)`, async () => {
        const result = await trainModel(input(task, trainer));
        const key = task === 'regression' ? 'predictions' : 'probabilities';
        expect(maxDiff(result.onnxScores[key], result.inMemory[key])).toBeLessThan(1e-6);
        expect(result.evaluation.rows.test).toBe(result.split.test.length);
        expect(
          result.evaluation.rows.train + result.evaluation.rows.validation + result.evaluation.rows.test,
        ).toBe(600);
        expect(result.evaluation.latency.count).toBe(20);
        expect(result.evaluation.modelBytes).toBe(result.onnx.byteLength);
        expect(result.referenceProfile.rows).toBe(result.split.test.length);
        expect(readModelContract(result.onnx).lineage).toMatchObject({ runId: 'run-1' });
      });
    }
  }

  it('separates a separable binary task: AUC 1 for both trainers', async () => {
    for (const trainer of [linear, gbdt]) {
      const { evaluation } = await trainModel(input('binary', trainer));
      expect(evaluation.metrics).toMatchObject({ task: 'binary', rocAuc: 1 });
    }
  });

  // The one-hot segment columns and the intercept are collinear: a vanishing l2 keeps it solvable.
  it('recovers a linear function exactly (y = 3·x1 − 2·x2 + 5): RMSE ~ 0, R² 1', async () => {
    const { evaluation } = await trainModel(
      input('regression', { algorithm: 'linear', params: { l2: 1e-12 } }),
    );
    expect(evaluation.metrics.task).toBe('regression');
    if (evaluation.metrics.task !== 'regression') return;
    expect(evaluation.metrics.rmse).toBeLessThan(1e-9);
    expect(evaluation.metrics.r2).toBeCloseTo(1, 12);
  });

  it('writes a byte-identical model.onnx for the same data and seed, another for another seed', async () => {
    for (const trainer of [linear, gbdt]) {
      const a = await trainModel(input('binary', trainer));
      const b = await trainModel(input('binary', trainer));
      expect(Buffer.from(a.onnx).equals(Buffer.from(b.onnx))).toBe(true);
      expect(a.sha256).toBe(b.sha256);
      const c = await trainModel({ ...input('binary', trainer), split: { ...split, seed: 8 } });
      expect(c.sha256).not.toBe(a.sha256);
    }
  });

  it('also evaluates the validation rows (what search picks by), from the ONNX scores', async () => {
    for (const trainer of [linear, gbdt]) {
      const base = input('binary', trainer);
      const result = await trainModel(base);
      expect(result.split.validation.length).toBeGreaterThan(0);
      const validation = selectRows(base.frame, result.split.validation);
      const session = await ort.InferenceSession.create(result.onnx);
      const x = encodeColumns(result.encoding, validation);
      const out = await session.run({ features: new ort.Tensor('float64', x.data, [x.rows, x.cols]) });
      await session.release();
      const p = out.probabilities?.data as Float64Array;
      const y = validation.columns.label as Float64Array;
      const expected = binaryMetrics(
        y,
        Float64Array.from({ length: x.rows }, (_, i) => p[2 * i + 1] as number),
      );
      expect(result.validationMetrics).toEqual({ task: 'binary', ...expected });
    }
    const none = await trainModel({ ...input('binary', linear), split: { ...split, validationFraction: 0 } });
    expect(none.validationMetrics).toBeUndefined();
  });

  it('evaluates on an explicit test set when one is given', async () => {
    const base = input('binary', gbdt);
    const test = rowsToFrame([...features, { name: 'label', type: 'bool' }], rows('binary', 100, 99));
    const result = await trainModel({ ...base, test });
    expect(result.evaluation.rows).toMatchObject({ test: 100 });
    expect(result.evaluation.rows.train + result.evaluation.rows.validation).toBe(600);
  });

  describe('refuses bad input, naming the field', () => {
    const frameOf = (labelType: FeatureInput['type'], data: RawRow[]) =>
      rowsToFrame([...features, { name: 'label', type: labelType }], data);
    const data = rows('binary', 100);

    it('a single-class label', async () => {
      const one = data.map((r) => ({ ...r, label: true }));
      await expect(trainModel({ ...input('binary', gbdt), frame: frameOf('bool', one) })).rejects.toThrow(
        /label.*two classes/,
      );
    });

    it('a missing or NaN label', async () => {
      const holed = data.map((r, i) => ({ ...r, label: i === 5 ? null : r.label }));
      await expect(
        trainModel({ ...input('binary', linear), frame: frameOf('bool', holed) }),
      ).rejects.toMatchObject({
        field: 'label',
        rule: expect.stringMatching(/missing or NaN \(row 5\)/),
      });
    });

    it('a label of the wrong type for the task', async () => {
      const text = data.map((r) => ({ ...r, label: String(r.label) }));
      await expect(
        trainModel({ ...input('regression', linear), frame: frameOf('string', text) }),
      ).rejects.toMatchObject({
        field: 'label',
        rule: expect.stringMatching(/numeric/),
      });
    });

    it('empty data', async () => {
      await expect(
        trainModel({ ...input('binary', gbdt), frame: frameOf('bool', []) }),
      ).rejects.toMatchObject({
        field: 'rows',
      });
    });

    it('params the run decides, or unknown ones', async () => {
      await expect(
        trainModel({
          ...input('binary', gbdt),
          trainer: JSON.parse('{"algorithm":"gbdt","params":{"seed":3}}'),
        }),
      ).rejects.toMatchObject({ field: 'trainer.params.seed', rule: 'is not a known field' });
      await expect(
        trainModel({ ...input('binary', linear), trainer: { algorithm: 'linear', params: { l2: -1 } } }),
      ).rejects.toMatchObject({ field: 'trainer.params.l2' });
    });

    it('early stopping without validation rows', async () => {
      await expect(
        trainModel({
          ...input('binary', { algorithm: 'gbdt', params: { earlyStoppingRounds: 3 } }),
          split: { ...split, validationFraction: 0 },
        }),
      ).rejects.toMatchObject({ field: 'split.validationFraction' });
    });

    it('a label column that is not in the data', async () => {
      await expect(trainModel({ ...input('binary', gbdt), label: 'churned' })).rejects.toMatchObject({
        field: 'churned',
      });
    });
  });
});
