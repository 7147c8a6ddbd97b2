/**
 * A real model to serve in unit tests: trained in memory by the project's trainer
 * (training/train-model.ts) on seeded rows of one feature view, exported to ONNX and loaded the
 * way the function loads one (contract read from the ONNX metadata, one InferenceSession). The
 * rows, the view and the trainer's own held-out predictions come back too, so tests can check
 * that serving scores what training scored.
 */
import * as ort from 'onnxruntime-node';
import { defineFeatureView, type FeatureView } from '../../lambdas/feature-store/feature-view.js';
import type { LoadedModel } from '../../lambdas/serving/ports.js';
import { type FeatureInput, type RawRow, rowsToFrame } from '../../lambdas/training/encoding.js';
import type { Task } from '../../lambdas/training/labels.js';
import { readModelContract } from '../../lambdas/training/model-contract.js';
import { type TrainerInput, type TrainModelResult, trainModel } from '../../lambdas/training/train-model.js';
import { prng } from './random.js';

export const SERVING_VIEW = 'customer';
export const SERVING_ENTITY = 'customer_id';
export const SEGMENTS = ['a', 'b', 'c'] as const;

/** The view the model's inputs come from: ranges, a nullable int, declared categories, a bool. */
export const servingView: FeatureView = defineFeatureView({
  name: SERVING_VIEW,
  owner: 'serving-tests',
  entities: [{ name: SERVING_ENTITY, type: 'string' }],
  ttlSeconds: 86_400,
  features: [
    { name: 'x1', type: 'float64', min: -10, max: 10 },
    { name: 'x2', type: 'float64' },
    { name: 'visits', type: 'int64', min: 0, nullable: true },
    { name: 'segment', type: 'string', categories: [...SEGMENTS] },
    { name: 'vip', type: 'bool' },
  ],
});

export const servingViews: ReadonlyMap<string, FeatureView> = new Map([[SERVING_VIEW, servingView]]);

const features: (FeatureInput & { featureView: string })[] = servingView.features.map((f) => ({
  name: f.name,
  type: f.type,
  ...(f.categories === undefined ? {} : { categories: f.categories }),
  featureView: SERVING_VIEW,
}));

/** Seeded raw rows (features and `label`), the label determined by the features. */
export function servingRows(task: Task, n: number, seed = 3): RawRow[] {
  const random = prng(seed);
  return Array.from({ length: n }, () => {
    const x1 = 8 * random() - 4;
    const x2 = 10 * random();
    const visits = random() < 0.1 ? null : Math.floor(random() * 20);
    const segment = SEGMENTS[Math.floor(random() * 3)] as string;
    const vip = random() < 0.3;
    const z = x1 + 0.3 * (visits ?? 5) - 0.4 * x2 + (segment === 'b' ? 1 : 0) + (vip ? 0.5 : 0);
    const label =
      task === 'regression'
        ? 2 * x1 - x2 + (vip ? 3 : 0)
        : task === 'binary'
          ? z + (random() - 0.5) > 0
          : z < -1.5
            ? 'low'
            : z < 0.5
              ? 'mid'
              : 'high';
    return { x1, x2, visits, segment, vip, label };
  });
}

export interface ServedFixture {
  readonly model: LoadedModel;
  readonly rows: readonly RawRow[];
  readonly trained: TrainModelResult;
}

const cache = new Map<string, Promise<ServedFixture>>();

/** A model of `task` trained by `algorithm` and loaded (cached per task and trainer). */
export function servedModel(
  task: Task,
  algorithm: 'linear' | 'gbdt' = 'linear',
  name = 'churn',
): Promise<ServedFixture> {
  const key = `${task}/${algorithm}/${name}`;
  let fixture = cache.get(key);
  if (fixture === undefined) {
    fixture = train(task, algorithm, name);
    cache.set(key, fixture);
  }
  return fixture;
}

async function train(task: Task, algorithm: 'linear' | 'gbdt', name: string): Promise<ServedFixture> {
  const rows = servingRows(task, 400);
  const labelType = task === 'regression' ? 'float64' : task === 'binary' ? 'bool' : 'string';
  const trainer: TrainerInput =
    algorithm === 'linear'
      ? { algorithm: 'linear', params: { l2: 1e-3 } }
      : { algorithm: 'gbdt', params: { numRounds: 20, minChildSamples: 5 } };
  const trained = await trainModel({
    task,
    frame: rowsToFrame([...features, { name: 'label', type: labelType }], rows),
    label: 'label',
    features,
    trainer,
    split: { testFraction: 0.25, validationFraction: 0, seed: 5 },
    latencyRows: 2,
  });
  const contract = readModelContract(trained.onnx);
  const model: LoadedModel = {
    name,
    version: 3,
    sha256: trained.sha256,
    contract,
    signature: contract.signature,
    output: contract.output,
    session: await ort.InferenceSession.create(trained.onnx),
    initMs: 0,
  };
  return { model, rows, trained };
}
