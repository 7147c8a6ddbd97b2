import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeRows, type RawRow } from '../../lambdas/training/encoding.js';
import type { Task } from '../../lambdas/training/labels.js';
import { exportLinearModel, LINEAR_TRAINER } from '../../lambdas/training/linear/linear-export.js';
import { type LinearModel, scoreRows, trainLinearModel } from '../../lambdas/training/linear/linear-model.js';
import {
  MODEL_INPUT,
  OUTPUT_LABEL,
  OUTPUT_PREDICTION,
  OUTPUT_PROBABILITIES,
  readModelContract,
} from '../../lambdas/training/model-contract.js';
import { readOnnxModel } from '../../lambdas/training/onnx/writer.js';
import { checkOnnx, ensureOnnxChecker } from '../support/onnx-checker.js';
import { prng } from '../support/random.js';

const COLORS = ['red', 'green', 'blue'];
const FEATURES = [
  { name: 'income', type: 'float64', featureView: 'customer' },
  { name: 'visits', type: 'int64', featureView: 'customer' },
  { name: 'member', type: 'bool' },
  { name: 'color', type: 'string', categories: COLORS },
  { name: 'city', type: 'string' },
] as const;

/** Raw rows with missing numbers and categories, undeclared and unseen categories. */
function rawRows(seed: number, n: number): RawRow[] {
  const rand = prng(seed);
  return Array.from({ length: n }, () => ({
    income: rand() < 0.05 ? null : 20_000 + 80_000 * rand(),
    visits: Math.floor(10 * rand()),
    member: rand() < 0.4,
    color: rand() < 0.05 ? null : (COLORS[Math.floor(rand() * 3)] ?? 'red'),
    city: rand() < 0.1 ? 'atlantis' : ['oslo', 'lima', 'pune', 'kyiv'][Math.floor(rand() * 4)],
  }));
}

function labelled(task: Task, seed: number, n: number): RawRow[] {
  const rand = prng(seed + 1);
  return rawRows(seed, n).map((r) => {
    const score =
      ((r.income as number | null) ?? 60_000) / 30_000 -
      (r.visits as number) / 3 +
      (r.member ? 1 : 0) +
      (r.color === 'red' ? 1 : 0);
    const noise = rand() - 0.5;
    const y =
      task === 'regression'
        ? 2 * score + noise
        : task === 'binary'
          ? score + 2 * noise > 1.5
            ? 1
            : 0
          : ['low', 'mid', 'high'][Math.min(2, Math.max(0, Math.floor(score + 2 * noise)))];
    return { ...r, y };
  });
}

function train(task: Task, seed = 7, unknownCategory: 'zeros' | 'other' = 'zeros'): LinearModel {
  return trainLinearModel({
    task,
    rows: labelled(task, seed, 600),
    label: 'y',
    features: FEATURES,
    params: { l2: 1e-3, unknownCategory },
  });
}

const LINEAGE = { datasetHash: 'abc123', configFingerprint: 'cfg-1', runId: 'run-1' };

/** Rows that exercise every category, every missing value and unseen values. */
function scoringRows(): RawRow[] {
  const rows = rawRows(99, 500);
  for (const color of [...COLORS, null, undefined, 'violet']) {
    for (const city of ['oslo', 'lima', 'pune', 'kyiv', 'atlantis', null]) {
      rows.push(
        { income: null, visits: 3, member: false, color, city },
        { income: 1e6, visits: 0, member: true, color, city },
      );
    }
  }
  return rows;
}

async function onnxScores(bytes: Uint8Array, model: LinearModel, rows: RawRow[]) {
  const x = encodeRows(model.encoding, rows);
  const session = await ort.InferenceSession.create(bytes);
  return session.run({ [MODEL_INPUT]: new ort.Tensor('float64', x.data, [x.rows, x.cols]) });
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe('linear ONNX export', () => {
  beforeAll(() => ensureOnnxChecker(), 600_000);

  it.each([
    ['binary', 'zeros'],
    ['multiclass', 'other'],
    ['regression', 'zeros'],
  ] as const)(
    'writes a %s model the reference checker accepts at full check',
    { timeout: 60_000 },
    (task, unknown) => {
      expect(checkOnnx(exportLinearModel(train(task, 7, unknown), LINEAGE))).toEqual({ ok: true });
    },
  );

  it.each([
    ['binary', 'zeros'],
    ['binary', 'other'],
    ['multiclass', 'zeros'],
    ['multiclass', 'other'],
  ] as const)(
    'scores a %s model (unknown → %s) in onnxruntime as the trainer does, within 1e-6',
    async (task, unknown) => {
      const model = train(task, 7, unknown);
      const rows = scoringRows();
      const expected = scoreRows(model, rows);
      const out = await onnxScores(exportLinearModel(model, LINEAGE), model, rows);
      expect(
        maxDiff(out[OUTPUT_PROBABILITIES]?.data as Float64Array, expected.probabilities ?? []),
      ).toBeLessThan(1e-6);
      const labels = Array.from(out[OUTPUT_LABEL]?.data as ArrayLike<unknown>, (l) =>
        typeof l === 'bigint' ? Number(l) : l,
      );
      expect(labels).toEqual(expected.labels);
    },
  );

  it('scores a regression model in onnxruntime as the trainer does, within 1e-6', async () => {
    const model = train('regression');
    const rows = scoringRows();
    const out = await onnxScores(exportLinearModel(model, LINEAGE), model, rows);
    expect(out[OUTPUT_PREDICTION]?.dims).toEqual([rows.length, 1]);
    expect(
      maxDiff(out[OUTPUT_PREDICTION]?.data as Float64Array, scoreRows(model, rows).predictions ?? []),
    ).toBeLessThan(1e-6);
  });

  it('gives a byte-identical model.onnx for the same data, parameters and lineage', () => {
    for (const task of ['binary', 'multiclass', 'regression'] as const) {
      const first = exportLinearModel(train(task), LINEAGE);
      const second = exportLinearModel(train(task), LINEAGE);
      expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true);
      expect(Buffer.from(exportLinearModel(train(task, 8), LINEAGE)).equals(Buffer.from(first))).toBe(false);
    }
  });

  it('embeds the encoding spec, the raw input signature, the output kind and the lineage', () => {
    const model = train('binary');
    const bytes = exportLinearModel(model, LINEAGE);
    const contract = readModelContract(bytes);
    expect(contract.encoding).toEqual(model.encoding);
    expect(contract.signature.inputs).toEqual([
      { name: 'income', type: 'float64', featureView: 'customer' },
      { name: 'visits', type: 'int64', featureView: 'customer' },
      { name: 'member', type: 'bool' },
      { name: 'color', type: 'string' },
      { name: 'city', type: 'string' },
    ]);
    expect(contract.output).toEqual({ kind: 'binary', positiveClass: 1, threshold: 0.5 });
    expect(contract.lineage).toEqual({ ...LINEAGE, trainer: LINEAR_TRAINER });
    expect(contract.classes).toEqual([0, 1]);
    const summary = readOnnxModel(bytes);
    expect(summary.inputs).toEqual([{ name: MODEL_INPUT, elemType: 'double', shape: ['N', 11] }]);
    expect(summary.outputs.map((o) => [o.name, o.elemType])).toEqual([
      [OUTPUT_LABEL, 'int64'],
      [OUTPUT_PROBABILITIES, 'double'],
    ]);
  });

  it('labels string classes with strings', () => {
    const summary = readOnnxModel(exportLinearModel(train('multiclass'), LINEAGE));
    expect(summary.outputs[0]).toEqual({ name: OUTPUT_LABEL, elemType: 'string', shape: ['N'] });
    expect(summary.outputs[1]?.shape).toEqual(['N', 3]);
  });
});
