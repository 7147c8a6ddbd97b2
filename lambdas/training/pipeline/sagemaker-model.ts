/**
 * The step after a SageMaker training job (UnpackSagemakerModel): read the job's model.tar.gz,
 * unpack model.onnx and metrics.json (./sagemaker-archive.ts), check the model against the job's
 * contract (config/contract.json, ./sagemaker-channels.ts) and embed the contract's `mlops.*`
 * metadata in it, so it reads like a built-in trainer's model (model-contract.ts
 * `readModelContract`); then the candidate step scores it on the held-out rows.
 *
 * Embedding splices the ModelProto on the wire rather than decoding and re-encoding it: the
 * project's ONNX schema (onnx/schema.ts) is the subset the built-in exporters write, and a
 * re-encode through it would drop what a user's exporter writes beyond it (float_data, external
 * data, functions, training info …). Every top-level field but metadata_props (14) is kept byte
 * for byte in its order; metadata_props follow, sorted by key, the contract's keys replacing the
 * user's of the same name. The same model and contract give the same bytes, and embedding twice
 * changes nothing.
 *
 * Plain code over ObjectStore (no AWS SDK).
 */
import protobuf from 'protobufjs/light.js';
import { NotFoundError, ValidationError } from '../../shared/errors.js';
import { runArtifactPrefix } from '../../shared/layout.js';
import type { ObjectStore } from '../../shared/object-store.js';
import type { TrainedModelConfig } from '../model-config.js';
import { contractMetadata, MODEL_INPUT, type ModelContract } from '../model-contract.js';
import { ONNX_DATA_TYPE, ONNX_SCHEMA } from '../onnx/schema.js';
import type { OnnxCandidateInput } from './candidate.js';
import type { CandidateResult, UnpackSagemakerModelEvent } from './contract.js';
import { ARCHIVE_FIELD, MODEL_FILE, type UnpackedModel, unpackModelArchive } from './sagemaker-archive.js';
import {
  contractKey,
  modelContractOf,
  parseSagemakerJobContract,
  type SagemakerJobContract,
} from './sagemaker-channels.js';

export { MAX_UNPACKED_BYTES, type UnpackedModel, unpackModelArchive } from './sagemaker-archive.js';

const root = protobuf.Root.fromJSON(ONNX_SCHEMA);
const ModelProto = root.lookupType('onnx.ModelProto');
const StringStringEntryProto = root.lookupType('onnx.StringStringEntryProto');
/** ModelProto.metadata_props. */
const METADATA_PROPS_FIELD = 14;
const LENGTH_DELIMITED = 2;

/** The model's tensors checked against the contract: what `embedContract` requires. */
export interface TensorRules {
  /** Encoded row width F (the input's second dimension). */
  readonly inputWidth: number;
  readonly requiredOutputs: readonly string[];
  readonly optionalOutputs: readonly string[];
  /** Probability columns K of classifiers. */
  readonly classes: number;
}

export function tensorRulesOf(contract: SagemakerJobContract): TensorRules {
  return {
    inputWidth: contract.input.width,
    requiredOutputs: contract.outputs.required,
    optionalOutputs: contract.outputs.optional,
    classes: contract.classes.length,
  };
}

interface DecodedValueInfo {
  name?: string;
  type?: {
    tensor_type?: { elem_type?: number; shape?: { dim?: { dim_value?: number; dim_param?: string }[] } };
  };
}

/** What a fixed dimension holds, or undefined for a symbolic or absent one. */
const fixedDim = (info: DecodedValueInfo, i: number): number | undefined => {
  const dim = info.type?.tensor_type?.shape?.dim?.[i];
  return dim?.dim_value === undefined || dim.dim_param !== undefined ? undefined : Number(dim.dim_value);
};

function checkDoubleMatrix(info: DecodedValueInfo, columns: number, what: string): void {
  const name = info.name ?? '';
  const tensor = info.type?.tensor_type;
  if (tensor?.elem_type !== ONNX_DATA_TYPE.double)
    throw new ValidationError(`${MODEL_FILE}.${name}`, `must be a double tensor (${what})`);
  const rank = tensor.shape?.dim?.length;
  if (rank !== undefined && rank !== 2)
    throw new ValidationError(
      `${MODEL_FILE}.${name}`,
      `must have shape [N, ${columns}], not rank ${rank} (${what})`,
    );
  const width = fixedDim(info, 1);
  if (width !== undefined && width !== columns)
    throw new ValidationError(
      `${MODEL_FILE}.${name}`,
      `must have ${columns} columns, not ${width} (${what})`,
    );
}

/** Checks the graph's input and outputs against the contract; ValidationError names the tensor. */
export function checkModelTensors(onnx: Uint8Array, rules: TensorRules): void {
  let model: {
    graph?: { input?: DecodedValueInfo[]; output?: DecodedValueInfo[]; initializer?: { name?: string }[] };
  };
  try {
    model = ModelProto.toObject(ModelProto.decode(onnx), { longs: Number, defaults: false });
  } catch (cause) {
    throw new ValidationError(MODEL_FILE, `must be an ONNX ModelProto (${(cause as Error).message})`);
  }
  const graph = model.graph;
  if (graph === undefined) throw new ValidationError(MODEL_FILE, 'must hold a graph');
  // Before IR 4 initializers were listed among the inputs too; they are not fed.
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name));
  const input = inputs.find((i) => i.name === MODEL_INPUT);
  if (input === undefined || inputs.length !== 1)
    throw new ValidationError(
      `${MODEL_FILE}.${MODEL_INPUT}`,
      `must be the graph's one input (the encoded rows, double [N, ${rules.inputWidth}]); it has ${inputs.map((i) => i.name).join(', ') || 'none'}`,
    );
  checkDoubleMatrix(input, rules.inputWidth, 'the rows encoded by contract.json encoding');
  const outputs = graph.output ?? [];
  const allowed = new Set([...rules.requiredOutputs, ...rules.optionalOutputs]);
  for (const output of outputs)
    if (!allowed.has(output.name ?? ''))
      throw new ValidationError(
        `${MODEL_FILE}.${output.name}`,
        `is not an output of the contract (outputs: ${[...allowed].join(', ')})`,
      );
  for (const name of rules.requiredOutputs) {
    const output = outputs.find((o) => o.name === name);
    if (output === undefined)
      throw new ValidationError(`${MODEL_FILE}.${name}`, 'is a required output the graph does not have');
    checkDoubleMatrix(
      output,
      name === 'prediction' ? 1 : rules.classes,
      name === 'prediction' ? 'one prediction per row' : 'class probabilities in contract.json classes order',
    );
  }
}

function metadataEntry(key: string, value: string): Uint8Array {
  const body = StringStringEntryProto.encode({ key, value }).finish();
  return protobuf.Writer.create()
    .uint32((METADATA_PROPS_FIELD << 3) | LENGTH_DELIMITED)
    .bytes(body)
    .finish();
}

/**
 * model.onnx with the contract's `mlops.*` metadata_props (the user's other props kept), after
 * checking its tensors against `rules`. Deterministic: the same bytes and contract give the same
 * output.
 */
export function embedContract(onnx: Uint8Array, contract: ModelContract, rules: TensorRules): Uint8Array {
  checkModelTensors(onnx, rules);
  const kept: Uint8Array[] = [];
  const props = new Map<string, string>();
  const reader = protobuf.Reader.create(onnx);
  try {
    while (reader.pos < reader.len) {
      const start = reader.pos;
      const tag = reader.uint32();
      if (tag >>> 3 === METADATA_PROPS_FIELD && (tag & 7) === LENGTH_DELIMITED) {
        const entry = StringStringEntryProto.toObject(StringStringEntryProto.decode(reader.bytes())) as {
          key?: string;
          value?: string;
        };
        const key = entry.key ?? '';
        if (props.has(key))
          throw new ValidationError(
            `${MODEL_FILE}.metadata_props`,
            `keys must be distinct; '${key}' repeats`,
          );
        props.set(key, entry.value ?? '');
      } else {
        reader.skipType(tag & 7);
        kept.push(onnx.subarray(start, reader.pos));
      }
    }
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    throw new ValidationError(MODEL_FILE, `must be an ONNX ModelProto (${(error as Error).message})`);
  }
  for (const [key, value] of Object.entries(contractMetadata(contract))) props.set(key, value);
  const entries = [...props]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => metadataEntry(k, v));
  return new Uint8Array(Buffer.concat([...kept, ...entries]));
}

/** What the candidate step is given for a SageMaker model: candidate.ts `candidateFromOnnx`'s input. */
export type SagemakerCandidateInput = OnnxCandidateInput;

export interface SagemakerModelDeps {
  /** The artifact bucket (the job's output). */
  readonly artifacts: ObjectStore;
  readonly artifactBucket: string;
  /** The offline bucket (the job's channels, contract.json among them). */
  readonly offline: ObjectStore;
  readonly models: readonly TrainedModelConfig[];
}

/** The job's model.tar.gz key in the artifact bucket; the outputUri must be the run's, in that bucket. */
export function modelArchiveKey(event: UnpackSagemakerModelEvent, artifactBucket: string): string {
  const expected = `s3://${artifactBucket}/${runArtifactPrefix(event.experiment, event.runId)}sagemaker/`;
  if (event.sagemaker.outputUri !== expected)
    throw new ValidationError('sagemaker.outputUri', `must be ${expected} (the run's output prefix)`);
  return `${expected.slice(`s3://${artifactBucket}/`.length)}${event.sagemaker.jobName}/output/${ARCHIVE_FIELD}`;
}

/** The job's model with its contract embedded, and what the job reported. */
export interface SagemakerModel extends UnpackedModel {
  readonly contract: SagemakerJobContract;
  readonly config: TrainedModelConfig;
}

/** Reads, unpacks, checks and embeds the job's model (writes nothing). */
export async function readSagemakerModel(
  event: UnpackSagemakerModelEvent,
  deps: SagemakerModelDeps,
): Promise<SagemakerModel> {
  const config = deps.models.find((m) => m.name === event.model);
  if (config === undefined) throw new NotFoundError(`trained model ${event.model}`, { field: 'model' });
  const archiveKey = modelArchiveKey(event, deps.artifactBucket);
  const key = contractKey(event.model, event.dataset.hash, event.runId);
  const contractBytes = await deps.offline.get(key);
  if (contractBytes === undefined)
    throw new NotFoundError(`the job's contract (${key})`, { field: 'sagemaker.channels.config' });
  const contract = parseSagemakerJobContract(contractBytes);
  if (contract.model !== event.model)
    throw new ValidationError(
      'sagemaker.channels.config',
      `must be model ${event.model}'s contract, not ${contract.model}'s`,
    );
  const archive = await deps.artifacts.get(archiveKey);
  if (archive === undefined)
    throw new ValidationError(
      ARCHIVE_FIELD,
      `the SageMaker job wrote no model archive (no object at ${archiveKey}): did it write to /opt/ml/model?`,
    );
  const unpacked = await unpackModelArchive(archive);
  const onnx = embedContract(unpacked.onnx, modelContractOf(contract), tensorRulesOf(contract));
  return { ...unpacked, onnx, contract, config };
}

/**
 * UnpackSagemakerModel: the job's model, contract embedded, scored as candidate 0 of the run by
 * `score` (candidate.ts `candidateFromOnnx` with its dependencies bound).
 */
export async function unpackSagemakerModel(
  event: UnpackSagemakerModelEvent,
  deps: SagemakerModelDeps & { readonly score: (input: SagemakerCandidateInput) => Promise<CandidateResult> },
): Promise<CandidateResult> {
  const model = await readSagemakerModel(event, deps);
  return deps.score({
    model: event.model,
    runId: event.runId,
    experiment: event.experiment,
    dataset: event.dataset,
    index: 0,
    params: event.sagemaker.hyperparameters,
    onnx: model.onnx,
    ...(model.metrics === undefined ? {} : { reportedMetrics: model.metrics }),
  });
}
