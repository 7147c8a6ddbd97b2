/**
 * A small model to serve, with a known answer: a logistic regression trained by the built-in linear
 * trainer on features of two online views (`serve_customer`: x1, x2, segment; `serve_account`:
 * balance), exported with its contract as the trainer exports it. Tests register it in the
 * emulator's registry and materialize the views' values into the online table.
 */
import { defineFeatureView, type FeatureView } from '../../lambdas/feature-store/feature-view.js';
import { putModelArtifact } from '../../lambdas/registry/artifact-store.js';
import type { ModelVersion } from '../../lambdas/registry/model-version.js';
import type { ModelRegistryStore } from '../../lambdas/registry/registry-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { type RawRow, rowsToFrame } from '../../lambdas/training/encoding.js';
import { exportLinearModel } from '../../lambdas/training/linear/linear-export.js';
import { trainLinearModel } from '../../lambdas/training/linear/linear-model.js';
import { readModelContract } from '../../lambdas/training/model-contract.js';
import { prng } from './random.js';

export const SEGMENTS = ['a', 'b', 'c'];

export const servedViews: FeatureView[] = [
  defineFeatureView({
    name: 'serve_customer',
    owner: 'growth-ml',
    entities: [{ name: 'customer_id', type: 'string' }],
    ttlSeconds: 86_400,
    online: true,
    features: [
      { name: 'x1', type: 'float64' },
      { name: 'x2', type: 'float64', nullable: true },
      { name: 'segment', type: 'string', categories: SEGMENTS },
    ],
  }),
  defineFeatureView({
    name: 'serve_account',
    owner: 'growth-ml',
    entities: [{ name: 'account_id', type: 'int64' }],
    ttlSeconds: 3600,
    online: true,
    features: [{ name: 'balance', type: 'float64' }],
  }),
];

export const servedViewMap = new Map(servedViews.map((v) => [v.name, v]));

const FEATURES = [
  { name: 'x1', type: 'float64', featureView: 'serve_customer' },
  { name: 'x2', type: 'float64', featureView: 'serve_customer' },
  { name: 'segment', type: 'string', categories: SEGMENTS, featureView: 'serve_customer' },
  { name: 'balance', type: 'float64', featureView: 'serve_account' },
] as const;

/** The ONNX bytes of a binary classifier whose log-odds grow with x1 and fall with x2. */
export function servedModelBytes(seed = 7): Uint8Array {
  const rand = prng(seed);
  const rows: RawRow[] = Array.from({ length: 400 }, () => {
    const x1 = rand() * 2 - 1;
    const x2 = rand() * 2 - 1;
    const segment = SEGMENTS[Math.floor(rand() * 3)] ?? 'a';
    const balance = rand() * 100;
    const logit = 3 * x1 - 2 * x2 + (segment === 'b' ? 0.5 : 0);
    return { x1, x2, segment, balance, y: rand() < 1 / (1 + Math.exp(-logit)) ? 1 : 0 };
  });
  const model = trainLinearModel({
    task: 'binary',
    frame: rowsToFrame([...FEATURES, { name: 'y', type: 'int64' }], rows),
    label: 'y',
    features: FEATURES,
    params: { l2: 1e-3 },
  });
  return exportLinearModel(model, { runId: `serve-test-${seed}` });
}

/** Uploads `bytes` and registers them as a version of `modelName` (signature and output from the contract). */
export async function registerServedModel(
  registry: ModelRegistryStore,
  bucket: string,
  modelName: string,
  bytes: Uint8Array = servedModelBytes(),
  extra: { readonly artifacts?: { readonly referenceProfile?: { key: string; sha256: string } } } = {},
): Promise<ModelVersion> {
  const artifact = await putModelArtifact(clients.s3(), bucket, modelName, bytes);
  const contract = readModelContract(bytes);
  return registry.registerModelVersion({
    modelName,
    artifact: { key: artifact.key, sha256: artifact.sha256 },
    signature: contract.signature,
    output: contract.output,
    lineage: {},
    ...extra,
  });
}
