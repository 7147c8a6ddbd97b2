/**
 * Scoring an encoded matrix in an onnxruntime session and reading the built-in models' outputs
 * (model-contract.ts): the one place that builds the input tensor and reads `probabilities` or
 * `prediction` back, shared by evaluation (train-model.ts) and serving (serving/scorer.ts), so the
 * same rows score the same offline and online. Imports no trainer: the serving bundle stays small.
 */
import * as ort from 'onnxruntime-node';
import type { Matrix } from './encoding.js';
import type { Task } from './labels.js';
import { MODEL_INPUT, OUTPUT_PREDICTION, OUTPUT_PROBABILITIES } from './model-contract.js';

/** Scores of N rows: probabilities row-major [N, K] (classifiers) or predictions [N]. */
export interface HeldOutScores {
  readonly probabilities?: Float64Array;
  readonly predictions?: Float64Array;
}

/** One batched run of `x` through `session`, fetching only the output `task` reads. */
export async function runOnnx(session: ort.InferenceSession, x: Matrix, task: Task): Promise<HeldOutScores> {
  const output = task === 'regression' ? OUTPUT_PREDICTION : OUTPUT_PROBABILITIES;
  const out = await session.run({ [MODEL_INPUT]: new ort.Tensor('float64', x.data, [x.rows, x.cols]) }, [
    output,
  ]);
  const tensor = out[output];
  if (tensor?.type !== 'float64') throw new Error(`the model's ${output} output is not a double tensor`);
  const data = tensor.data as Float64Array;
  return task === 'regression'
    ? { predictions: Float64Array.from(data) }
    : { probabilities: Float64Array.from(data) };
}
