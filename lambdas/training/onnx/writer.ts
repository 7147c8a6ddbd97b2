/**
 * Writes an ONNX model (`model.onnx`) from a typed description of its graph, on protobufjs and the
 * official field numbers (./schema.ts). Shared by every built-in trainer (linear, GBDT).
 *
 * Deterministic by construction: the same description gives the same bytes. Fields are written in
 * field-number order (protobufjs' encoder), node attributes sorted by name, metadata_props sorted by
 * key, opset imports sorted by domain; nothing time- or host-dependent is written. Numeric tensors
 * go into `raw_data` as little-endian fixed-width values (the layout onnx.proto prescribes), so a
 * float64 weight round-trips bit for bit.
 *
 * `readOnnxModel` decodes the same subset back (metadata, opsets, graph signature), for tests and for
 * the serving path that needs the encoding spec stored in metadata.
 */
import protobuf from 'protobufjs/light.js';
import { ValidationError } from '../../shared/errors.js';
import { ONNX_ATTRIBUTE_TYPE, ONNX_DATA_TYPE, ONNX_SCHEMA } from './schema.js';

/** ONNX IR version written (IR 9 = ONNX 1.14+, understood by onnxruntime 1.15 and later). */
export const ONNX_IR_VERSION = 9;
/** Default-domain opset the built-in exporters target. */
export const ONNX_OPSET = 17;
/** `ai.onnx.ml` opset the built-in exporters target (TreeEnsemble*, Linear*, ZipMap …). */
export const ONNX_ML_OPSET = 3;
/** The domain of the classical-ML operators. */
export const ONNX_ML_DOMAIN = 'ai.onnx.ml';

export type OnnxElemType = keyof typeof ONNX_DATA_TYPE;

/** A dimension: a fixed size, or a symbolic name (e.g. `'N'` for the batch). */
export type OnnxDim = number | string;

/** A graph input or output: a tensor of an element type and shape. */
export interface OnnxValueInfo {
  readonly name: string;
  readonly elemType: OnnxElemType;
  readonly shape: readonly OnnxDim[];
  readonly docString?: string;
}

/** A constant tensor (an initializer or a tensor attribute). `values` is row-major, length = ∏dims. */
export type OnnxTensor =
  | {
      readonly name?: string;
      readonly elemType: 'float' | 'double';
      readonly dims: readonly number[];
      readonly values: ArrayLike<number>;
    }
  | {
      readonly name?: string;
      readonly elemType: 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';
      readonly dims: readonly number[];
      readonly values: ArrayLike<number>;
    }
  | {
      readonly name?: string;
      readonly elemType: 'string';
      readonly dims: readonly number[];
      readonly values: readonly string[];
    };

/** A typed node attribute. */
export type OnnxAttribute =
  | { readonly type: 'int'; readonly value: number }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'ints'; readonly value: ArrayLike<number> }
  | { readonly type: 'floats'; readonly value: ArrayLike<number> }
  | { readonly type: 'strings'; readonly value: readonly string[] }
  | { readonly type: 'tensor'; readonly value: OnnxTensor };

export interface OnnxNode {
  readonly opType: string;
  /** Operator set domain: `''` (default ONNX) or `'ai.onnx.ml'`. @default '' */
  readonly domain?: string;
  readonly name?: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Written sorted by name. */
  readonly attributes?: Readonly<Record<string, OnnxAttribute>>;
}

export interface OnnxOpsetImport {
  readonly domain: string;
  readonly version: number;
}

export interface OnnxGraph {
  readonly name: string;
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  /** Topologically sorted. */
  readonly nodes: readonly OnnxNode[];
  /** Every initializer needs a `name`. */
  readonly initializers?: readonly OnnxTensor[];
  readonly docString?: string;
}

export interface OnnxModel {
  readonly graph: OnnxGraph;
  /** Written sorted by domain; must include the default domain `''`. */
  readonly opsetImports: readonly OnnxOpsetImport[];
  /** @default 'serverless-mlops' */
  readonly producerName?: string;
  /** @default '' (omitted) */
  readonly producerVersion?: string;
  /** @default ONNX_IR_VERSION */
  readonly irVersion?: number;
  readonly docString?: string;
  /** ModelProto.metadata_props; written sorted by key. */
  readonly metadata?: Readonly<Record<string, string>>;
}

const root = protobuf.Root.fromJSON(ONNX_SCHEMA);
const ModelProto = root.lookupType('onnx.ModelProto');
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

function byKey<T>(key: (t: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
}

function checkInt(field: string, value: number): number {
  if (!Number.isSafeInteger(value)) throw new ValidationError(field, 'must be a safe integer');
  return value;
}

function rawData(field: string, tensor: OnnxTensor): Uint8Array {
  const n = tensor.values.length;
  switch (tensor.elemType) {
    case 'double': {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = tensor.values[i] as number;
      return new Uint8Array(out.buffer);
    }
    case 'float': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = tensor.values[i] as number;
      return new Uint8Array(out.buffer);
    }
    case 'int64': {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt(checkInt(`${field}[${i}]`, tensor.values[i] as number));
      return new Uint8Array(out.buffer);
    }
    case 'int32': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = checkInt(`${field}[${i}]`, tensor.values[i] as number);
      return new Uint8Array(out.buffer);
    }
    case 'int8':
      return new Uint8Array(Int8Array.from(tensor.values as ArrayLike<number>).buffer);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(tensor.values as ArrayLike<number>);
    case 'string':
      throw new ValidationError(field, 'string tensors have no raw data');
  }
}

function tensorMessage(field: string, tensor: OnnxTensor): Record<string, unknown> {
  const count = tensor.dims.reduce((a, d) => a * checkInt(`${field}.dims`, d), 1);
  if (count !== tensor.values.length) {
    throw new ValidationError(
      `${field}.values`,
      `must hold ${count} values for dims [${tensor.dims.join(', ')}], not ${tensor.values.length}`,
    );
  }
  const message: Record<string, unknown> = {
    dims: [...tensor.dims],
    data_type: ONNX_DATA_TYPE[tensor.elemType],
  };
  if (tensor.name !== undefined) message.name = tensor.name;
  if (tensor.elemType === 'string') message.string_data = tensor.values.map((s) => utf8.encode(s));
  else message.raw_data = rawData(field, tensor);
  return message;
}

function attributeMessage(field: string, name: string, attribute: OnnxAttribute) {
  const message: Record<string, unknown> = { name, type: ONNX_ATTRIBUTE_TYPE[attribute.type] };
  switch (attribute.type) {
    case 'int':
      message.i = checkInt(field, attribute.value);
      break;
    case 'float':
      message.f = attribute.value;
      break;
    case 'string':
      message.s = utf8.encode(attribute.value);
      break;
    case 'ints':
      message.ints = Array.from(attribute.value, (v, i) => checkInt(`${field}[${i}]`, v));
      break;
    case 'floats':
      message.floats = Array.from(attribute.value);
      break;
    case 'strings':
      message.strings = attribute.value.map((s) => utf8.encode(s));
      break;
    case 'tensor':
      message.t = tensorMessage(field, attribute.value);
      break;
  }
  return message;
}

function valueInfoMessage(info: OnnxValueInfo) {
  const dim = info.shape.map((d) =>
    typeof d === 'number' ? { dim_value: checkInt(`${info.name}.shape`, d) } : { dim_param: d },
  );
  const message: Record<string, unknown> = {
    name: info.name,
    type: { tensor_type: { elem_type: ONNX_DATA_TYPE[info.elemType], shape: { dim } } },
  };
  if (info.docString !== undefined) message.doc_string = info.docString;
  return message;
}

function nodeMessage(node: OnnxNode, index: number) {
  const field = `graph.nodes[${index}]`;
  const attributes = Object.entries(node.attributes ?? {}).sort(byKey(([name]) => name));
  const message: Record<string, unknown> = {
    input: [...node.inputs],
    output: [...node.outputs],
    op_type: node.opType,
    attribute: attributes.map(([name, a]) => attributeMessage(`${field}.attributes.${name}`, name, a)),
    domain: node.domain ?? '',
  };
  if (node.name !== undefined) message.name = node.name;
  return message;
}

function checkUnique(field: string, names: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new ValidationError(field, `names must be distinct; '${name}' repeats`);
    seen.add(name);
  }
}

/** The bytes of `model.onnx`. Throws ValidationError for a description ONNX cannot hold. */
export function writeOnnxModel(model: OnnxModel): Uint8Array {
  const { graph } = model;
  if (!model.opsetImports.some((o) => o.domain === '')) {
    throw new ValidationError('opsetImports', "must import the default domain ''");
  }
  checkUnique(
    'opsetImports',
    model.opsetImports.map((o) => o.domain),
  );
  const initializers = graph.initializers ?? [];
  initializers.forEach((t, i) => {
    if (!t.name) throw new ValidationError(`graph.initializers[${i}].name`, 'is required');
  });
  checkUnique(
    'graph.initializers',
    initializers.map((t) => t.name ?? ''),
  );
  const metadata = Object.entries(model.metadata ?? {}).sort(byKey(([key]) => key));
  const message: Record<string, unknown> = {
    ir_version: model.irVersion ?? ONNX_IR_VERSION,
    producer_name: model.producerName ?? 'serverless-mlops',
    graph: {
      node: graph.nodes.map(nodeMessage),
      name: graph.name,
      initializer: initializers.map((t, i) => tensorMessage(`graph.initializers[${i}]`, t)),
      input: graph.inputs.map(valueInfoMessage),
      output: graph.outputs.map(valueInfoMessage),
      ...(graph.docString === undefined ? {} : { doc_string: graph.docString }),
    },
    opset_import: [...model.opsetImports]
      .sort(byKey((o) => o.domain))
      .map((o) => ({ domain: o.domain, version: checkInt('opsetImports.version', o.version) })),
    metadata_props: metadata.map(([key, value]) => ({ key, value })),
  };
  if (model.producerVersion !== undefined) message.producer_version = model.producerVersion;
  if (model.docString !== undefined) message.doc_string = model.docString;
  const err = ModelProto.verify(message);
  if (err) throw new ValidationError('model', err);
  return ModelProto.encode(message).finish();
}

/** What `readOnnxModel` returns: the model's signature and metadata (not its weights). */
export interface OnnxModelSummary {
  readonly irVersion: number;
  readonly producerName: string;
  readonly opsetImports: readonly OnnxOpsetImport[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly graphName: string;
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
  readonly nodes: readonly { opType: string; domain: string }[];
}

interface DecodedValueInfo {
  name: string;
  type?: {
    tensor_type?: { elem_type?: number; shape?: { dim?: { dim_value?: number; dim_param?: string }[] } };
  };
}

function elemTypeName(code: number | undefined): OnnxElemType {
  const found = Object.entries(ONNX_DATA_TYPE).find(([, n]) => n === code);
  if (!found) throw new ValidationError('model.graph', `unsupported tensor element type ${code}`);
  return found[0] as OnnxElemType;
}

function decodeValueInfo(v: DecodedValueInfo): OnnxValueInfo {
  const tensor = v.type?.tensor_type;
  return {
    name: v.name,
    elemType: elemTypeName(tensor?.elem_type),
    shape: (tensor?.shape?.dim ?? []).map((d) => d.dim_param ?? Number(d.dim_value ?? 0)),
  };
}

/** Decodes a model's signature and metadata_props. Throws ValidationError on bytes that are not ONNX. */
export function readOnnxModel(bytes: Uint8Array): OnnxModelSummary {
  let decoded: Record<string, unknown>;
  try {
    decoded = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, defaults: false }) as Record<
      string,
      unknown
    >;
  } catch (cause) {
    throw new ValidationError('model', `is not an ONNX ModelProto (${(cause as Error).message})`);
  }
  const graph = (decoded.graph ?? {}) as {
    name?: string;
    input?: DecodedValueInfo[];
    output?: DecodedValueInfo[];
    node?: { op_type?: string; domain?: string }[];
  };
  const metadata: Record<string, string> = {};
  for (const entry of (decoded.metadata_props ?? []) as { key?: string; value?: string }[]) {
    metadata[entry.key ?? ''] = entry.value ?? '';
  }
  return {
    irVersion: Number(decoded.ir_version ?? 0),
    producerName: String(decoded.producer_name ?? ''),
    opsetImports: ((decoded.opset_import ?? []) as { domain?: string; version?: number }[]).map((o) => ({
      domain: o.domain ?? '',
      version: Number(o.version ?? 0),
    })),
    metadata,
    graphName: graph.name ?? '',
    inputs: (graph.input ?? []).map(decodeValueInfo),
    outputs: (graph.output ?? []).map(decodeValueInfo),
    nodes: (graph.node ?? []).map((n) => ({ opType: n.op_type ?? '', domain: n.domain ?? '' })),
  };
}

/** Decodes UTF-8 (for string attributes read back in tests). */
export function decodeUtf8(bytes: Uint8Array): string {
  return fromUtf8.decode(bytes);
}
