/**
 * What every model.onnx a built-in trainer exports looks like to its callers (evaluation, serving):
 * tensor names and types, and the metadata_props keys holding the encoding spec, the raw input
 * signature, the output kind and the lineage. One home for these names: the exporters write them
 * from here and the readers read them from here.
 *
 *   input  `features`       double [N, F]  the encoded row (encoding.ts), F = encodedWidth(spec)
 *   output `label`          int64 | string [N]  predicted class (classifiers)
 *   output `probabilities`  double [N, K]  class probabilities in the order of `output` classes
 *                                          (binary: [P(negative), P(positive)]); no ZipMap
 *   output `prediction`     double [N, 1]  regressors
 */
import { canonicalJson } from '../registry/model-version.js';
import {
  type InputSignature,
  lineageSchema,
  type ModelLineage,
  type ModelOutput,
  outputSchema,
  signatureSchema,
} from '../registry/version-record.js';
import { ValidationError } from '../shared/errors.js';
import { parseOrThrow } from '../shared/validation.js';
import { type EncodingSpec, parseEncodingSpec } from './encoding.js';
import { readOnnxMetadata } from './onnx/metadata.js';

export const MODEL_INPUT = 'features';
export const OUTPUT_LABEL = 'label';
export const OUTPUT_PROBABILITIES = 'probabilities';
export const OUTPUT_PREDICTION = 'prediction';
/** Symbolic batch dimension. */
export const BATCH_DIM = 'N';

/** metadata_props keys (values are canonical JSON). */
export const METADATA_KEYS = {
  encoding: 'mlops.encoding',
  signature: 'mlops.signature',
  output: 'mlops.output',
  lineage: 'mlops.lineage',
  /** The classes in `probabilities` column order, as JSON (numbers or strings). */
  classes: 'mlops.classes',
} as const;

export type ClassLabel = number | string;

/** What a model embeds about itself. */
export interface ModelContract {
  readonly encoding: EncodingSpec;
  /** The raw features the model takes (names, types, views), as the registry records them. */
  readonly signature: InputSignature;
  readonly output: ModelOutput;
  readonly lineage: ModelLineage;
  /** Classes in probability column order (classifiers); empty for regressors. */
  readonly classes: readonly ClassLabel[];
}

/** The metadata_props of a model (sorted and canonical, so equal contracts give equal bytes). */
export function contractMetadata(contract: ModelContract): Record<string, string> {
  return {
    [METADATA_KEYS.encoding]: canonicalJson(contract.encoding),
    [METADATA_KEYS.signature]: canonicalJson(contract.signature),
    [METADATA_KEYS.output]: canonicalJson(contract.output),
    [METADATA_KEYS.lineage]: canonicalJson(contract.lineage),
    [METADATA_KEYS.classes]: canonicalJson(contract.classes),
  };
}

function json(metadata: Readonly<Record<string, string>>, key: string): unknown {
  const text = metadata[key];
  if (text === undefined) throw new ValidationError(`metadata.${key}`, 'is required');
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError(`metadata.${key}`, 'must be JSON');
  }
}

/**
 * Reads the contract back from model bytes (what the serving path does at cold start). Only the
 * metadata_props are read off the wire (onnx/metadata.ts): the graph is skipped, not decoded.
 */
export function readModelContract(bytes: Uint8Array): ModelContract {
  const metadata = readOnnxMetadata(bytes);
  const classes = json(metadata, METADATA_KEYS.classes);
  if (!Array.isArray(classes) || !classes.every((c) => typeof c === 'number' || typeof c === 'string')) {
    throw new ValidationError(`metadata.${METADATA_KEYS.classes}`, 'must be an array of numbers or strings');
  }
  return {
    encoding: parseEncodingSpec(json(metadata, METADATA_KEYS.encoding)),
    signature: parseOrThrow(
      signatureSchema,
      json(metadata, METADATA_KEYS.signature),
      METADATA_KEYS.signature,
    ),
    output: parseOrThrow(outputSchema, json(metadata, METADATA_KEYS.output), METADATA_KEYS.output),
    lineage: parseOrThrow(lineageSchema, json(metadata, METADATA_KEYS.lineage), METADATA_KEYS.lineage),
    classes,
  };
}
