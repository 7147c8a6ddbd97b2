/**
 * Exports a fitted linear model as model.onnx (model-contract.ts's tensors and metadata).
 *
 * Plain default-domain operators in float64 rather than ai.onnx.ml's LinearClassifier /
 * LinearRegressor: those take their coefficients as float32 attributes and compute in float32, so
 * their scores drift from the trainer's float64 ones by ~1e-7 relative (more on large raw features),
 * while MatMul/Add/Softmax/ArgMax run in double in every runtime and reproduce the trainer's numbers
 * to rounding. The graph:
 *
 *   features [N,F] ─MatMul W [F,K]─Add b [K]─▶ prediction            (regression, K = 1)
 *                                          └─Softmax─▶ probabilities ─ArgMax─Gather classes─▶ label
 *
 * Binary models use K = 2 with a zero first column: softmax([0, η]) = [1 − σ(η), σ(η)].
 */
import {
  type InputSignature,
  lineageSchema,
  type ModelLineage,
  type ModelOutput,
} from '../../registry/version-record.js';
import { parseOrThrow } from '../../shared/validation.js';
import {
  BATCH_DIM,
  contractMetadata,
  MODEL_INPUT,
  OUTPUT_LABEL,
  OUTPUT_PREDICTION,
  OUTPUT_PROBABILITIES,
} from '../model-contract.js';
import {
  ONNX_OPSET,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
  writeOnnxModel,
} from '../onnx/writer.js';
import type { LinearModel } from './linear-model.js';

/** Trainer name and version recorded in lineage (bump the version when exported numbers change). */
export const LINEAR_TRAINER = { name: 'builtin-linear', version: '1' } as const;

/** The raw input signature of a model's features. */
export function linearSignature(model: LinearModel): InputSignature {
  return {
    inputs: model.features.map((f) => ({
      name: f.name,
      type: f.type,
      ...(f.featureView === undefined ? {} : { featureView: f.featureView }),
    })),
  };
}

export function linearOutput(model: LinearModel): ModelOutput {
  if (model.task === 'regression') return { kind: 'regression' };
  if (model.classes.length === 2) {
    return { kind: 'binary', positiveClass: model.classes[1] as string | number, threshold: 0.5 };
  }
  return { kind: 'multiclass', classes: model.classes.map(String) };
}

/** The graph's weight matrix [F, K'] (transposed from the model's K × F) and bias [K']. */
function weights(model: LinearModel): { w: Float64Array; b: Float64Array; k: number; f: number } {
  const k = model.intercepts.length;
  const f = model.coefficients.length / k;
  const binary = model.task !== 'regression' && model.classes.length === 2;
  const cols = binary ? 2 : k;
  const offset = binary ? 1 : 0; // binary: column 0 stays zero
  const w = new Float64Array(f * cols);
  const b = new Float64Array(cols);
  for (let c = 0; c < k; c++) {
    b[c + offset] = model.intercepts[c] as number;
    for (let j = 0; j < f; j++) w[j * cols + c + offset] = model.coefficients[c * f + j] as number;
  }
  return { w, b, k: cols, f };
}

/**
 * The bytes of model.onnx. `lineage` is embedded as given plus the trainer; equal models and
 * lineage give byte-identical files.
 */
export function exportLinearModel(model: LinearModel, lineage: ModelLineage = {}): Uint8Array {
  const { w, b, k, f } = weights(model);
  const regression = model.task === 'regression';
  const initializers: OnnxTensor[] = [
    { name: 'W', elemType: 'double', dims: [f, k], values: w },
    { name: 'B', elemType: 'double', dims: [k], values: b },
  ];
  const nodes: OnnxNode[] = [
    { opType: 'MatMul', name: 'linear_matmul', inputs: [MODEL_INPUT, 'W'], outputs: ['xw'] },
    {
      opType: 'Add',
      name: 'linear_add',
      inputs: ['xw', 'B'],
      outputs: [regression ? OUTPUT_PREDICTION : 'logits'],
    },
  ];
  let labelType: 'int64' | 'string' = 'int64';
  if (!regression) {
    const numeric = model.classes.every((c) => typeof c === 'number');
    labelType = numeric ? 'int64' : 'string';
    initializers.push(
      numeric
        ? { name: 'classes', elemType: 'int64', dims: [k], values: model.classes as number[] }
        : { name: 'classes', elemType: 'string', dims: [k], values: model.classes.map(String) },
    );
    nodes.push(
      {
        opType: 'Softmax',
        name: 'probabilities_softmax',
        inputs: ['logits'],
        outputs: [OUTPUT_PROBABILITIES],
        attributes: { axis: { type: 'int', value: -1 } },
      },
      {
        opType: 'ArgMax',
        name: 'label_argmax',
        inputs: [OUTPUT_PROBABILITIES],
        outputs: ['label_index'],
        attributes: { axis: { type: 'int', value: 1 }, keepdims: { type: 'int', value: 0 } },
      },
      {
        opType: 'Gather',
        name: 'label_gather',
        inputs: ['classes', 'label_index'],
        outputs: [OUTPUT_LABEL],
        attributes: { axis: { type: 'int', value: 0 } },
      },
    );
  }
  const onnx: OnnxModel = {
    producerVersion: `${LINEAR_TRAINER.name}/${LINEAR_TRAINER.version}`,
    opsetImports: [{ domain: '', version: ONNX_OPSET }],
    graph: {
      name: `linear_${model.task}`,
      inputs: [{ name: MODEL_INPUT, elemType: 'double', shape: [BATCH_DIM, f] }],
      outputs: regression
        ? [{ name: OUTPUT_PREDICTION, elemType: 'double', shape: [BATCH_DIM, 1] }]
        : [
            { name: OUTPUT_LABEL, elemType: labelType, shape: [BATCH_DIM] },
            { name: OUTPUT_PROBABILITIES, elemType: 'double', shape: [BATCH_DIM, k] },
          ],
      initializers,
      nodes,
    },
    metadata: contractMetadata({
      encoding: model.encoding,
      signature: linearSignature(model),
      output: linearOutput(model),
      lineage: parseOrThrow(lineageSchema, { ...lineage, trainer: { ...LINEAR_TRAINER } }, 'lineage'),
      classes: model.classes,
    }),
  };
  return writeOnnxModel(onnx);
}
