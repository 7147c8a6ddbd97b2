import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lambdas/shared/errors.js';
import { rowsToFrame } from '../../lambdas/training/encoding.js';
import { trainGbdt } from '../../lambdas/training/gbdt.js';
import { exportGbdtModel } from '../../lambdas/training/gbdt-onnx.js';
import { exportLinearModel } from '../../lambdas/training/linear/linear-export.js';
import { trainLinearModel } from '../../lambdas/training/linear/linear-model.js';
import { readModelContract } from '../../lambdas/training/model-contract.js';
import { readOnnxMetadata } from '../../lambdas/training/onnx/metadata.js';
import { readOnnxModel, writeOnnxModel } from '../../lambdas/training/onnx/writer.js';
import { validationErrorOf } from '../support/errors.js';
import { prng } from '../support/random.js';

const F = 4;

function linearBytes(): Uint8Array {
  const rand = prng(3);
  const rows = Array.from({ length: 300 }, () => {
    const a = 4 * rand() - 2;
    const b = 4 * rand() - 2;
    const color = ['red', 'green', 'blue'][Math.floor(3 * rand())] ?? 'red';
    return { a, b, color, y: a - b + (color === 'red' ? 1 : 0) + rand() - 0.5 > 0 ? 1 : 0 };
  });
  const features = [
    { name: 'a', type: 'float64' },
    { name: 'b', type: 'float64', featureView: 'customer' },
    { name: 'color', type: 'string', categories: ['red', 'green', 'blue'] },
  ] as const;
  const model = trainLinearModel({
    task: 'binary',
    frame: rowsToFrame([...features, { name: 'y', type: 'int64' }], rows),
    label: 'y',
    features,
    params: { l2: 1e-3, unknownCategory: 'zeros' },
  });
  return exportLinearModel(model, { datasetHash: 'abc123', runId: 'run-1' });
}

function gbdtBytes(): Uint8Array {
  const rand = prng(5);
  const n = 2_000;
  const features = Array.from({ length: F }, () => new Float64Array(n));
  const label = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (const column of features) column[i] = rand() < 0.1 ? Number.NaN : 4 * rand() - 2;
    label[i] = (features[0]?.[i] ?? 0) * (features[1]?.[i] ?? 0) + rand() - 0.5 > 0 ? 1 : 0;
  }
  const { model } = trainGbdt(
    { features, label },
    { task: 'binary', numRounds: 30, numLeaves: 15, minChildSamples: 5, subsample: 1, colsample: 1, seed: 1 },
  );
  const encoding = {
    version: 1 as const,
    features: Array.from({ length: F }, (_, f) => ({
      kind: 'numeric' as const,
      name: `x${f}`,
      mean: 0,
      std: 1,
      missing: 'nan' as const,
    })),
  };
  return exportGbdtModel(model, {
    encoding,
    signature: { inputs: encoding.features.map((f) => ({ name: f.name, type: 'float64' as const })) },
    classes: [0, 1],
    lineage: { datasetHash: 'def456', runId: 'run-2' },
  });
}

/** A model with no metadata_props at all. */
function bareBytes(): Uint8Array {
  return writeOnnxModel({
    graph: {
      name: 'bare',
      inputs: [{ name: 'X', elemType: 'double', shape: ['N', 1] }],
      outputs: [{ name: 'Y', elemType: 'double', shape: ['N', 1] }],
      nodes: [{ opType: 'Identity', inputs: ['X'], outputs: ['Y'] }],
    },
    opsetImports: [{ domain: '', version: 17 }],
    metadata: {},
  });
}

/** Appends one top-level field (tag + payload) to model bytes. */
function withField(bytes: Uint8Array, ...extra: number[]): Uint8Array {
  return Uint8Array.from([...bytes, ...extra]);
}

/** What a full protobufjs decode gives, or the class and field of the error it throws. */
function fullDecode(bytes: Uint8Array): unknown {
  try {
    return readOnnxModel(bytes).metadata;
  } catch (error) {
    return { error: (error as Error).name, field: (error as ValidationError).field };
  }
}

function wireRead(bytes: Uint8Array): unknown {
  try {
    return readOnnxMetadata(bytes);
  } catch (error) {
    return { error: (error as Error).name, field: (error as ValidationError).field };
  }
}

describe('readOnnxMetadata (metadata_props off the wire, graph skipped)', () => {
  const linear = linearBytes();
  const gbdt = gbdtBytes();

  it.each([
    ['linear', linear],
    ['gbdt', gbdt],
  ])('%s: exactly the metadata a full decode gives, and the same contract', (_, bytes) => {
    const metadata = readOnnxMetadata(bytes);
    expect(Object.keys(metadata).length).toBeGreaterThanOrEqual(5);
    expect(metadata).toEqual(readOnnxModel(bytes).metadata);
    expect(readModelContract(bytes).classes).toEqual([0, 1]);
  });

  it('a model without metadata: {} like the full decode, and readModelContract names the missing key', () => {
    const bare = bareBytes();
    expect(readOnnxMetadata(bare)).toEqual({});
    expect(readOnnxModel(bare).metadata).toEqual({});
    const error = validationErrorOf(() => readModelContract(bare));
    expect(error.field).toBe('metadata.mlops.classes');
  });

  it('skips fields of every wire type and reads a repeated key as the full decode does (last wins)', () => {
    // field 20 varint 300, field 21 fixed64, field 22 fixed32, field 23 group with a varint inside,
    // then metadata_props {key 'k', value 'v1'} and {key 'k', value 'v2'}, and an entry with no key.
    const extra = withField(
      linear,
      ...[0xa0, 0x01, 0xac, 0x02],
      ...[0xa9, 0x01, 1, 2, 3, 4, 5, 6, 7, 8],
      ...[0xb5, 0x01, 1, 2, 3, 4],
      ...[0xbb, 0x01, 0x08, 0x05, 0xbc, 0x01],
      ...[0x72, 7, 0x0a, 1, 0x6b, 0x12, 2, 0x76, 0x31],
      ...[0x72, 7, 0x0a, 1, 0x6b, 0x12, 2, 0x76, 0x32],
      ...[0x72, 3, 0x12, 1, 0x7a],
    );
    const metadata = readOnnxMetadata(extra);
    expect(metadata.k).toBe('v2');
    expect(metadata['']).toBe('z');
    expect(metadata).toEqual(readOnnxModel(extra).metadata);
  });

  it('truncated or garbled bytes: the same error class and field as the full decode', () => {
    const cases = [
      gbdt.subarray(0, gbdt.length - 3),
      gbdt.subarray(0, Math.floor(gbdt.length / 2)),
      linear.subarray(0, 40),
      withField(linear, 0x72, 50, 0x0a),
      withField(linear, 0x77),
      Uint8Array.from([0xff, 0xff, 0xff]),
    ];
    for (const bytes of cases) {
      const full = fullDecode(bytes);
      expect(full).toEqual({ error: 'ValidationError', field: 'model' });
      expect(wireRead(bytes)).toEqual(full);
      expect(() => readModelContract(bytes)).toThrow(ValidationError);
      expect(() => readModelContract(bytes)).toThrow(/^model: is not an ONNX ModelProto/);
    }
  });

  it('never decodes the graph: a graph whose inside is garbage still gives the metadata', () => {
    // Field 7 (graph) holding bytes protobufjs cannot decode; the full decode fails, the wire read does not.
    const garbage = Uint8Array.from([0x3a, 3, 0xff, 0xff, 0xff, 0x72, 5, 0x0a, 1, 0x6b, 0x12, 0]);
    expect(fullDecode(garbage)).toEqual({ error: 'ValidationError', field: 'model' });
    expect(readOnnxMetadata(garbage)).toEqual({ k: '' });
    // Concatenated messages merge: the garbage graph, then a real model. readModelContract reads the
    // real model's contract without ever looking inside a graph.
    const merged = Uint8Array.from([...garbage.subarray(0, 5), ...linear]);
    expect(fullDecode(merged)).toEqual({ error: 'ValidationError', field: 'model' });
    expect(readModelContract(merged)).toEqual(readModelContract(linear));
  });
});
