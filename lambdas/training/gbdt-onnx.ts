/**
 * Exports a gradient-boosted trees model as model.onnx (model-contract.ts's tensors and metadata),
 * on ai.onnx.ml's TreeEnsembleClassifier (binary: LOGISTIC, multiclass: SOFTMAX) or
 * TreeEnsembleRegressor (NONE), each followed by a Cast of its float32 scores to the contract's
 * double outputs:
 *
 *   features [N,F] ─TreeEnsembleClassifier─▶ label [N]
 *                                        └─▶ float probabilities ─Cast─▶ probabilities [N,K]
 *   features [N,F] ─TreeEnsembleRegressor─▶ float prediction ─Cast─▶ prediction [N,1]
 *
 * Nodes test `x <= threshold` (BRANCH_LEQ); a split whose missing values go left sets
 * nodes_missing_value_tracks_true (the true branch is the left one). Thresholds, leaf weights and
 * base values are the model's float32 numbers, so onnxruntime scores every row as
 * `predictScores`/`predictProbabilities` do.
 *
 * Binary models put every leaf on class 0 with one base value; onnxruntime's binary path then returns
 * [σ(−s), σ(s)] and label 1 when s > 0 (pinned by a test, also for a model whose every leaf weight
 * is positive, which older runtimes read as a probability).
 */
import {
  type InputSignature,
  lineageSchema,
  type ModelLineage,
  type ModelOutput,
} from '../registry/version-record.js';
import { ValidationError } from '../shared/errors.js';
import { parseOrThrow } from '../shared/validation.js';
import type { EncodingSpec } from './encoding.js';
import type { GbdtModel } from './gbdt.js';
import {
  BATCH_DIM,
  type ClassLabel,
  contractMetadata,
  MODEL_INPUT,
  OUTPUT_LABEL,
  OUTPUT_PREDICTION,
  OUTPUT_PROBABILITIES,
} from './model-contract.js';
import { ONNX_DATA_TYPE } from './onnx/schema.js';
import {
  ONNX_ML_DOMAIN,
  ONNX_ML_OPSET,
  ONNX_OPSET,
  type OnnxAttribute,
  type OnnxModel,
  type OnnxNode,
  writeOnnxModel,
} from './onnx/writer.js';

/** Trainer name and version recorded in lineage (bump the version when exported numbers change). */
export const GBDT_TRAINER = { name: 'builtin-gbdt', version: '1' } as const;

/** What the model embeds about itself besides its trees. */
export interface GbdtContract {
  /** How raw rows become the model's feature columns. */
  readonly encoding: EncodingSpec;
  /** The raw features the model takes. */
  readonly signature: InputSignature;
  /** Classes in index order (label k is `classes[k]`); empty for regression. */
  readonly classes: readonly ClassLabel[];
  readonly lineage?: ModelLineage;
}

interface NodeArrays {
  treeIds: number[];
  nodeIds: number[];
  featureIds: number[];
  modes: string[];
  values: number[];
  trueIds: number[];
  falseIds: number[];
  missingTrue: number[];
  leafTree: number[];
  leafNode: number[];
  leafTarget: number[];
  leafWeight: number[];
}

function treeArrays(model: GbdtModel): NodeArrays {
  const a: NodeArrays = {
    treeIds: [],
    nodeIds: [],
    featureIds: [],
    modes: [],
    values: [],
    trueIds: [],
    falseIds: [],
    missingTrue: [],
    leafTree: [],
    leafNode: [],
    leafTarget: [],
    leafWeight: [],
  };
  model.trees.forEach((tree, t) => {
    for (let node = 0; node < tree.feature.length; node++) {
      const leaf = tree.feature[node] === -1;
      a.treeIds.push(t);
      a.nodeIds.push(node);
      a.featureIds.push(leaf ? 0 : (tree.feature[node] as number));
      a.modes.push(leaf ? 'LEAF' : 'BRANCH_LEQ');
      a.values.push(leaf ? 0 : (tree.threshold[node] as number));
      a.trueIds.push(leaf ? 0 : (tree.left[node] as number));
      a.falseIds.push(leaf ? 0 : (tree.right[node] as number));
      a.missingTrue.push(leaf ? 0 : (tree.missingLeft[node] as number));
      if (leaf) {
        a.leafTree.push(t);
        a.leafNode.push(node);
        a.leafTarget.push(t % model.numOutputs);
        a.leafWeight.push(tree.value[node] as number);
      }
    }
  });
  return a;
}

function modelOutput(model: GbdtModel, classes: readonly ClassLabel[]): ModelOutput {
  if (model.task === 'regression') return { kind: 'regression' };
  if (model.task === 'binary')
    return { kind: 'binary', positiveClass: classes[1] as ClassLabel, threshold: 0.5 };
  return { kind: 'multiclass', classes: classes.map(String) };
}

const ints = (value: readonly number[]): OnnxAttribute => ({ type: 'ints', value });
const floats = (value: readonly number[]): OnnxAttribute => ({ type: 'floats', value });

/**
 * The bytes of model.onnx. `contract.lineage` is embedded as given plus the trainer; equal models
 * and contracts give byte-identical files.
 */
export function exportGbdtModel(model: GbdtModel, contract: GbdtContract): Uint8Array {
  const regression = model.task === 'regression';
  const { classes } = contract;
  if (regression ? classes.length !== 0 : classes.length !== model.numClasses) {
    throw new ValidationError(
      'contract.classes',
      regression ? 'must be empty for regression' : `must list the model's ${model.numClasses} classes`,
    );
  }
  const a = treeArrays(model);
  const nodeAttributes: Record<string, OnnxAttribute> = {
    nodes_treeids: ints(a.treeIds),
    nodes_nodeids: ints(a.nodeIds),
    nodes_featureids: ints(a.featureIds),
    nodes_modes: { type: 'strings', value: a.modes },
    nodes_values: floats(a.values),
    nodes_truenodeids: ints(a.trueIds),
    nodes_falsenodeids: ints(a.falseIds),
    nodes_missing_value_tracks_true: ints(a.missingTrue),
    base_values: floats(model.baseScores),
  };
  const numeric = classes.every((c) => typeof c === 'number');
  const nodes: OnnxNode[] = regression
    ? [
        {
          opType: 'TreeEnsembleRegressor',
          domain: ONNX_ML_DOMAIN,
          name: 'gbdt_regressor',
          inputs: [MODEL_INPUT],
          outputs: ['prediction_float'],
          attributes: {
            ...nodeAttributes,
            target_treeids: ints(a.leafTree),
            target_nodeids: ints(a.leafNode),
            target_ids: ints(a.leafTarget),
            target_weights: floats(a.leafWeight),
            n_targets: { type: 'int', value: 1 },
            aggregate_function: { type: 'string', value: 'SUM' },
            post_transform: { type: 'string', value: 'NONE' },
          },
        },
        cast('prediction_float', OUTPUT_PREDICTION),
      ]
    : [
        {
          opType: 'TreeEnsembleClassifier',
          domain: ONNX_ML_DOMAIN,
          name: 'gbdt_classifier',
          inputs: [MODEL_INPUT],
          outputs: [OUTPUT_LABEL, 'probabilities_float'],
          attributes: {
            ...nodeAttributes,
            class_treeids: ints(a.leafTree),
            class_nodeids: ints(a.leafNode),
            class_ids: ints(a.leafTarget),
            class_weights: floats(a.leafWeight),
            ...(numeric
              ? { classlabels_int64s: ints(classes as number[]) }
              : { classlabels_strings: { type: 'strings', value: classes.map(String) } }),
            post_transform: { type: 'string', value: model.task === 'binary' ? 'LOGISTIC' : 'SOFTMAX' },
          },
        },
        cast('probabilities_float', OUTPUT_PROBABILITIES),
      ];
  const onnx: OnnxModel = {
    producerVersion: `${GBDT_TRAINER.name}/${GBDT_TRAINER.version}`,
    opsetImports: [
      { domain: '', version: ONNX_OPSET },
      { domain: ONNX_ML_DOMAIN, version: ONNX_ML_OPSET },
    ],
    graph: {
      name: `gbdt_${model.task}`,
      inputs: [{ name: MODEL_INPUT, elemType: 'double', shape: [BATCH_DIM, model.numFeatures] }],
      outputs: regression
        ? [{ name: OUTPUT_PREDICTION, elemType: 'double', shape: [BATCH_DIM, 1] }]
        : [
            { name: OUTPUT_LABEL, elemType: numeric ? 'int64' : 'string', shape: [BATCH_DIM] },
            { name: OUTPUT_PROBABILITIES, elemType: 'double', shape: [BATCH_DIM, model.numClasses] },
          ],
      nodes,
    },
    metadata: contractMetadata({
      encoding: contract.encoding,
      signature: contract.signature,
      output: modelOutput(model, classes),
      lineage: parseOrThrow(lineageSchema, { ...contract.lineage, trainer: { ...GBDT_TRAINER } }, 'lineage'),
      classes,
    }),
  };
  return writeOnnxModel(onnx);
}

function cast(input: string, output: string): OnnxNode {
  return {
    opType: 'Cast',
    name: `${output}_cast`,
    inputs: [input],
    outputs: [output],
    attributes: { to: { type: 'int', value: ONNX_DATA_TYPE.double } },
  };
}
