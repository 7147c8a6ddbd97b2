import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ONNX_ML_DOMAIN,
  ONNX_ML_OPSET,
  ONNX_OPSET,
  type OnnxModel,
  readOnnxModel,
  writeOnnxModel,
} from '../../lambdas/training/onnx/writer.js';
import { validationErrorOf } from '../support/errors.js';
import { checkOnnx, ensureOnnxChecker } from '../support/onnx-checker.js';

/** y = X·W + B in float64, plus a string label gathered from a constant (exercises string tensors). */
function affineModel(metadata: Record<string, string>): OnnxModel {
  return {
    graph: {
      name: 'affine',
      inputs: [{ name: 'X', elemType: 'double', shape: ['N', 2] }],
      outputs: [
        { name: 'Y', elemType: 'double', shape: ['N', 1] },
        { name: 'L', elemType: 'string', shape: ['N'] },
      ],
      initializers: [
        { name: 'W', elemType: 'double', dims: [2, 1], values: [0.1, -2 / 3] },
        { name: 'B', elemType: 'double', dims: [1], values: [Math.PI] },
        { name: 'C', elemType: 'string', dims: [2], values: ['no', 'ja ✓'] },
        { name: 'I', elemType: 'int64', dims: [1], values: [1] },
      ],
      nodes: [
        { opType: 'MatMul', inputs: ['X', 'W'], outputs: ['XW'] },
        { opType: 'Add', inputs: ['XW', 'B'], outputs: ['Y'] },
        {
          opType: 'Shape',
          inputs: ['X'],
          outputs: ['S'],
          attributes: { start: { type: 'int', value: 0 }, end: { type: 'int', value: 1 } },
        },
        { opType: 'Expand', inputs: ['I', 'S'], outputs: ['IE'] },
        {
          opType: 'Gather',
          inputs: ['C', 'IE'],
          outputs: ['L'],
          attributes: { axis: { type: 'int', value: 0 } },
        },
      ],
    },
    opsetImports: [
      { domain: ONNX_ML_DOMAIN, version: ONNX_ML_OPSET },
      { domain: '', version: ONNX_OPSET },
    ],
    metadata,
  };
}

/** An ai.onnx.ml operator with float, floats, ints and strings attributes. */
function mlModel(): OnnxModel {
  return {
    graph: {
      name: 'ml',
      inputs: [{ name: 'X', elemType: 'float', shape: ['N', 3] }],
      outputs: [
        { name: 'label', elemType: 'string', shape: ['N'] },
        { name: 'scores', elemType: 'float', shape: ['N', 2] },
      ],
      nodes: [
        {
          opType: 'LinearClassifier',
          domain: ONNX_ML_DOMAIN,
          inputs: ['X'],
          outputs: ['label', 'scores'],
          attributes: {
            coefficients: { type: 'floats', value: [1, 2, 3, -1, -2, -3] },
            intercepts: { type: 'floats', value: [0.5, -0.5] },
            classlabels_strings: { type: 'strings', value: ['a', 'b'] },
            multi_class: { type: 'int', value: 0 },
            post_transform: { type: 'string', value: 'SOFTMAX' },
          },
        },
      ],
    },
    opsetImports: [
      { domain: '', version: ONNX_OPSET },
      { domain: ONNX_ML_DOMAIN, version: ONNX_ML_OPSET },
    ],
  };
}

describe('ONNX writer', () => {
  beforeAll(() => ensureOnnxChecker(), 600_000);

  it('writes a model the reference checker accepts at full check', { timeout: 60_000 }, () => {
    expect(checkOnnx(writeOnnxModel(affineModel({ a: '1' })))).toEqual({ ok: true });
  });

  it('writes ai.onnx.ml nodes with typed attributes the checker accepts', { timeout: 60_000 }, () => {
    expect(checkOnnx(writeOnnxModel(mlModel()))).toEqual({ ok: true });
  });

  it('scores in onnxruntime with float64 weights kept bit for bit', async () => {
    const session = await ort.InferenceSession.create(writeOnnxModel(affineModel({})));
    const x = Float64Array.from([1, 2, -3.5, 1e-3]);
    const out = await session.run({ X: new ort.Tensor('float64', x, [2, 2]) });
    expect(Array.from(out.Y?.data as Float64Array)).toEqual([
      1 * 0.1 + 2 * (-2 / 3) + Math.PI,
      -3.5 * 0.1 + 1e-3 * (-2 / 3) + Math.PI,
    ]);
    expect(out.L?.data).toEqual(['ja ✓', 'ja ✓']);
  });

  it('runs ai.onnx.ml operators in onnxruntime', async () => {
    const session = await ort.InferenceSession.create(writeOnnxModel(mlModel()));
    const out = await session.run({ X: new ort.Tensor('float32', Float32Array.from([1, 0, 0]), [1, 3]) });
    expect(out.label?.data).toEqual(['a']);
  });

  it('gives the same bytes whatever order metadata, attributes and opsets were given in', () => {
    const a = writeOnnxModel(affineModel({ zeta: '1', alpha: '2', mid: '3' }));
    const reordered = affineModel({ mid: '3', alpha: '2', zeta: '1' });
    const b = writeOnnxModel({
      ...reordered,
      opsetImports: [...reordered.opsetImports].reverse(),
      graph: {
        ...reordered.graph,
        nodes: reordered.graph.nodes.map((n) =>
          n.opType === 'Shape'
            ? { ...n, attributes: { end: { type: 'int', value: 1 }, start: { type: 'int', value: 0 } } }
            : n,
        ),
      },
    });
    expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
  });

  it('reads back the signature, opsets and metadata it wrote', () => {
    const summary = readOnnxModel(writeOnnxModel(affineModel({ 'mlops.spec': '{"x":1}' })));
    expect(summary.metadata).toEqual({ 'mlops.spec': '{"x":1}' });
    expect(summary.opsetImports).toEqual([
      { domain: '', version: ONNX_OPSET },
      { domain: ONNX_ML_DOMAIN, version: ONNX_ML_OPSET },
    ]);
    expect(summary.inputs).toEqual([{ name: 'X', elemType: 'double', shape: ['N', 2] }]);
    expect(summary.outputs.map((o) => o.elemType)).toEqual(['double', 'string']);
    expect(summary.nodes.map((n) => n.opType)).toEqual(['MatMul', 'Add', 'Shape', 'Expand', 'Gather']);
  });

  it('refuses a tensor whose values do not fill its dims, naming the tensor', () => {
    const model = affineModel({});
    const error = validationErrorOf(() =>
      writeOnnxModel({
        ...model,
        graph: {
          ...model.graph,
          initializers: [{ name: 'W', elemType: 'double', dims: [2, 1], values: [1] }],
        },
      }),
    );
    expect(error.field).toBe('graph.initializers[0].values');
  });

  it('refuses a model without the default opset', () => {
    const error = validationErrorOf(() =>
      writeOnnxModel({ ...affineModel({}), opsetImports: [{ domain: ONNX_ML_DOMAIN, version: 3 }] }),
    );
    expect(error.field).toBe('opsetImports');
  });

  it('refuses two initializers of the same name', () => {
    const model = affineModel({});
    const w = { name: 'W', elemType: 'double', dims: [1], values: [1] } as const;
    const error = validationErrorOf(() =>
      writeOnnxModel({ ...model, graph: { ...model.graph, initializers: [w, w] } }),
    );
    expect(error.field).toBe('graph.initializers');
  });

  it('refuses a non-integer int attribute, naming it', () => {
    const model = mlModel();
    const node = model.graph.nodes[0];
    if (!node) throw new Error('fixture has a node');
    const error = validationErrorOf(() =>
      writeOnnxModel({
        ...model,
        graph: {
          ...model.graph,
          nodes: [{ ...node, attributes: { ...node.attributes, multi_class: { type: 'int', value: 0.5 } } }],
        },
      }),
    );
    expect(error.field).toBe('graph.nodes[0].attributes.multi_class');
  });

  it('refuses bytes that are not a model', () => {
    expect(validationErrorOf(() => readOnnxModel(Uint8Array.from([0xff, 0xff, 0xff]))).field).toBe('model');
  });
});
