/**
 * Scores checked rows (instances.ts) with a loaded model: encoded through the model's own encoding
 * spec (training/encoding.ts, the one the trainer fitted), one batched onnxruntime run
 * (training/onnx-scores.ts, the run evaluation uses), and the outputs read back as one Prediction
 * per row, in row order: label, positive-class score and probabilities for classifiers (the binary
 * label by the registered threshold), the value for regressors.
 */
import { encodeRows, type RawRow } from '../training/encoding.js';
import type { ClassLabel } from '../training/model-contract.js';
import { runOnnx } from '../training/onnx-scores.js';
import type { Prediction } from './contract.js';
import { ModelOutputError } from './errors.js';
import type { LoadedModel } from './ports.js';

/** What scoring needs of a loaded model. */
export type ScoringModel = Pick<LoadedModel, 'contract' | 'output' | 'session'>;

/** Scores `rows` in one batch: one Prediction per row, in order. */
export async function scoreRows(model: ScoringModel, rows: readonly RawRow[]): Promise<Prediction[]> {
  if (rows.length === 0) return [];
  const { output, contract } = model;
  const x = encodeRows(contract.encoding, rows);
  const scores = await runOnnx(model.session, x, output.kind);
  const n = rows.length;
  if (output.kind === 'regression') {
    const values = scores.predictions as Float64Array;
    if (values.length !== n)
      throw new ModelOutputError(`the model returned ${values.length} predictions for ${n} rows`);
    return Array.from(values, (prediction) => ({ prediction }));
  }
  const classes: readonly ClassLabel[] = contract.classes;
  const k = classes.length;
  const p = scores.probabilities as Float64Array;
  if (k < 2 || p.length !== n * k)
    throw new ModelOutputError(`the model returned ${p.length} probabilities for ${n} rows of ${k} classes`);
  const keys = classes.map(String);
  const predictions: Prediction[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const probabilities: Record<string, number> = {};
    let best = 0;
    for (let c = 0; c < k; c++) {
      const value = p[i * k + c] as number;
      probabilities[keys[c] as string] = value;
      if (value > (p[i * k + best] as number)) best = c;
    }
    if (output.kind === 'binary') {
      // Column 1 is the positive class (model-contract.ts): its probability against the threshold.
      const score = p[i * k + 1] as number;
      const label = (score >= output.threshold ? classes[1] : classes[0]) as ClassLabel;
      predictions[i] = { label, score, probabilities };
    } else {
      predictions[i] = { label: classes[best] as ClassLabel, probabilities };
    }
  }
  return predictions;
}
