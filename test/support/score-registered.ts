/**
 * Scores a registered model on its model's held-out rows in a process of its own (onnxruntime-node
 * loaded by Node alone, not through the test runner's module interop, which breaks when the local
 * harness's resolve hooks are registered in the same process): prints `{ rows, rocAuc }` as JSON.
 *
 *   tsx test/support/score-registered.ts <json: { bucket, key, offlineBucket, dataset, model, views }>
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import * as ort from 'onnxruntime-node';
import { defineFeatureView, type FeatureViewInput } from '../../lambdas/feature-store/feature-view.js';
import { clients } from '../../lambdas/shared/clients.js';
import { S3ObjectStore } from '../../lambdas/shared/object-store.js';
import { encodeColumns } from '../../lambdas/training/encoding.js';
import { binaryMetrics } from '../../lambdas/training/evaluate/metrics.js';
import { classLabels } from '../../lambdas/training/labels.js';
import type { TrainedModelConfig } from '../../lambdas/training/model-config.js';
import {
  MODEL_INPUT,
  OUTPUT_PROBABILITIES,
  readModelContract,
} from '../../lambdas/training/model-contract.js';
import type { DatasetRef } from '../../lambdas/training/pipeline/contract.js';
import { heldOutFrame, loadTrainingFrame } from '../../lambdas/training/pipeline/dataset.js';

const args = JSON.parse(process.argv[2] ?? '{}') as {
  bucket: string;
  key: string;
  offlineBucket: string;
  dataset: DatasetRef;
  model: TrainedModelConfig;
  views: FeatureViewInput[];
};
const bytes = await clients
  .s3()
  .send(new GetObjectCommand({ Bucket: args.bucket, Key: args.key }))
  .then((r) => r.Body?.transformToByteArray() as Promise<Uint8Array>);
const views = new Map(args.views.map((v) => [v.name, defineFeatureView(v)]));
const loaded = await loadTrainingFrame(
  new S3ObjectStore(clients.s3(), args.offlineBucket),
  args.dataset,
  args.model,
  {
    views,
  },
);
const test = heldOutFrame(loaded, args.model);
const contract = readModelContract(bytes);
const x = encodeColumns(contract.encoding, test);
const session = await ort.InferenceSession.create(bytes);
const out = await session.run({ [MODEL_INPUT]: new ort.Tensor('float64', x.data, [x.rows, x.cols]) });
const p = out[OUTPUT_PROBABILITIES]?.data as Float64Array;
const label = test.columns[loaded.label];
if (label === undefined) throw new Error('no label column');
const { y, classes } = classLabels(loaded.label, label, 'binary');
if (JSON.stringify(classes) !== JSON.stringify(contract.classes)) throw new Error('classes differ');
const positive = Float64Array.from({ length: x.rows }, (_, i) => p[2 * i + 1] as number);
process.stdout.write(`${JSON.stringify({ rows: x.rows, rocAuc: binaryMetrics(y, positive).rocAuc })}\n`);
await session.release();
