import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EncodingSpec } from '../../lambdas/training/encoding.js';
import {
  type GbdtData,
  type GbdtModel,
  type GbdtTask,
  predictProbabilities,
  predictScores,
  trainGbdt,
} from '../../lambdas/training/gbdt.js';
import { exportGbdtModel, GBDT_TRAINER, type GbdtContract } from '../../lambdas/training/gbdt-onnx.js';
import {
  MODEL_INPUT,
  OUTPUT_LABEL,
  OUTPUT_PREDICTION,
  OUTPUT_PROBABILITIES,
  readModelContract,
} from '../../lambdas/training/model-contract.js';
import { checkOnnx, ensureOnnxChecker } from '../support/onnx-checker.js';
import { prng } from '../support/random.js';

const F = 6;

/** Rows with ~10% missing values per feature, an interaction and a missing-means-high effect. */
function data(task: GbdtTask, n: number, seed: number): GbdtData {
  const rand = prng(seed);
  const columns = Array.from({ length: F }, () => new Float64Array(n));
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < F; f++) (columns[f] as Float64Array)[i] = rand() < 0.1 ? Number.NaN : 4 * rand() - 2;
    const x = (f: number) => (columns[f] as Float64Array)[i] as number;
    const x0 = Number.isNaN(x(0)) ? 3 : x(0);
    const s = x0 * (Number.isNaN(x(1)) ? 0 : x(1)) + (x(2) > 0 ? 1 : -1) + rand() - 0.5;
    y[i] = task === 'regression' ? 10 * s : task === 'binary' ? (s > 0 ? 1 : 0) : s < -1 ? 0 : s < 1 ? 1 : 2;
  }
  return { features: columns, label: y };
}

const encoding: EncodingSpec = {
  version: 1,
  features: Array.from({ length: F }, (_, f) => ({
    kind: 'numeric',
    name: `x${f}`,
    mean: 0,
    std: 1,
    missing: 'nan',
  })),
};

function contract(task: GbdtTask, classes?: GbdtContract['classes']): GbdtContract {
  return {
    encoding,
    signature: { inputs: encoding.features.map((f) => ({ name: f.name, type: 'float64' })) },
    classes: classes ?? (task === 'regression' ? [] : task === 'binary' ? [0, 1] : [0, 1, 2]),
    lineage: { datasetHash: 'abc123', runId: 'run-1' },
  };
}

function train(task: GbdtTask, seed = 1): GbdtModel {
  return trainGbdt(data(task, 3_000, seed), {
    task,
    numRounds: 40,
    numLeaves: 15,
    minChildSamples: 5,
    subsample: 0.8,
    colsample: 0.8,
    seed,
  }).model;
}

/** Scoring rows: fresh random rows (missing values included), values on thresholds, all-missing rows. */
function scoringRows(task: GbdtTask, model: GbdtModel): Float64Array[] {
  const columns = data(task, 2_000, 99).features.map((c) => Array.from(c));
  for (const tree of model.trees.slice(0, 20)) {
    for (let node = 0; node < tree.feature.length; node++) {
      if (tree.feature[node] === -1) continue;
      columns.forEach((c, f) => {
        c.push(f === tree.feature[node] ? (tree.threshold[node] as number) : 0);
      });
    }
  }
  for (const c of columns) c.push(Number.NaN);
  return columns.map((c) => Float64Array.from(c));
}

async function runOrt(
  bytes: Uint8Array,
  columns: Float64Array[],
): Promise<ort.InferenceSession.OnnxValueMapType> {
  const n = (columns[0] as Float64Array).length;
  const x = new Float64Array(n * F);
  for (let i = 0; i < n; i++)
    for (let f = 0; f < F; f++) x[i * F + f] = (columns[f] as Float64Array)[i] as number;
  const session = await ort.InferenceSession.create(bytes);
  return session.run({ [MODEL_INPUT]: new ort.Tensor('float64', x, [n, F]) });
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

describe('gbdt ONNX export', () => {
  beforeAll(() => ensureOnnxChecker(), 600_000);

  for (const task of ['binary', 'multiclass', 'regression'] as const) {
    it(`${task}: onnxruntime scores every row as the in-memory model, missing values included`, async () => {
      const model = train(task);
      const bytes = exportGbdtModel(model, contract(task));
      const rows = scoringRows(task, model);
      const out = await runOrt(bytes, rows);
      if (task === 'regression') {
        expect(maxDiff(out[OUTPUT_PREDICTION]?.data as Float64Array, predictScores(model, rows))).toBe(0);
        return;
      }
      const probabilities = predictProbabilities(model, rows);
      expect(maxDiff(out[OUTPUT_PROBABILITIES]?.data as Float64Array, probabilities)).toBeLessThan(1e-6);
      const K = model.numClasses;
      const labels = Array.from(out[OUTPUT_LABEL]?.data as BigInt64Array, Number);
      labels.forEach((label, r) => {
        const p = Array.from(probabilities.subarray(r * K, r * K + K));
        expect(label).toBe(p.indexOf(Math.max(...p)));
      });
    });

    it(`${task}: passes the reference ONNX checker`, () => {
      expect(checkOnnx(exportGbdtModel(train(task), contract(task)))).toEqual({ ok: true });
    });
  }

  it('writes byte-identical files for the same data, params and seed', () => {
    const a = exportGbdtModel(train('binary', 5), contract('binary'));
    const b = exportGbdtModel(train('binary', 5), contract('binary'));
    const c = exportGbdtModel(train('binary', 6), contract('binary'));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
  });

  it('embeds the contract, the trainer in its lineage, and string class labels', async () => {
    const model = train('multiclass');
    const bytes = exportGbdtModel(model, contract('multiclass', ['low', 'mid', 'high']));
    const read = readModelContract(bytes);
    expect(read.classes).toEqual(['low', 'mid', 'high']);
    expect(read.lineage.trainer).toEqual(GBDT_TRAINER);
    expect(read.output).toEqual({ kind: 'multiclass', classes: ['low', 'mid', 'high'] });
    const out = await runOrt(bytes, scoringRows('multiclass', model));
    expect(new Set(out[OUTPUT_LABEL]?.data as string[])).toEqual(new Set(['low', 'mid', 'high']));
  });

  it('keeps the logistic output of a binary model whose every leaf is positive', async () => {
    // Few rows, all but two positive: the base score is low and one round only raises it.
    const x = Float64Array.from({ length: 40 }, (_, i) => i);
    const y = Float64Array.from(x, (v) => (v < 2 ? 0 : 1));
    const { model } = trainGbdt(
      { features: Array.from({ length: F }, () => x), label: y },
      { task: 'binary', numRounds: 1, minChildSamples: 30 },
    );
    expect(model.trees.every((t) => t.value.every((v) => v >= 0))).toBe(true);
    const bytes = exportGbdtModel(model, contract('binary'));
    const rows = Array.from({ length: F }, () => Float64Array.of(0, 39, Number.NaN));
    const out = await runOrt(bytes, rows);
    expect(
      maxDiff(out[OUTPUT_PROBABILITIES]?.data as Float64Array, predictProbabilities(model, rows)),
    ).toBeLessThan(1e-6);
  });

  it('refuses classes that do not match the model', () => {
    expect(() => exportGbdtModel(train('binary'), contract('binary', [0, 1, 2]))).toThrow(/contract.classes/);
  });
});
