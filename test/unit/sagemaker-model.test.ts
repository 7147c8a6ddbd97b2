import { gzipSync } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import * as tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { lineageSchema } from '../../lambdas/registry/version-record.js';
import { ValidationError } from '../../lambdas/shared/errors.js';
import { fitEncodingSpec, rowsToFrame } from '../../lambdas/training/encoding.js';
import {
  METADATA_KEYS,
  MODEL_INPUT,
  type ModelContract,
  OUTPUT_PROBABILITIES,
  readModelContract,
} from '../../lambdas/training/model-contract.js';
import { type OnnxModel, readOnnxModel, writeOnnxModel } from '../../lambdas/training/onnx/writer.js';
import { packModelArchive } from '../../lambdas/training/pipeline/sagemaker-archive.js';
import {
  embedContract,
  type TensorRules,
  unpackModelArchive,
} from '../../lambdas/training/pipeline/sagemaker-model.js';

/** A user's exporter's model: features [N,2] ─MatMul─Softmax─▶ probabilities [N,2], its own metadata. */
function userModel(options: { input?: string; output?: string; metadata?: Record<string, string> } = {}) {
  const model: OnnxModel = {
    producerName: 'skl2onnx',
    opsetImports: [{ domain: '', version: 17 }],
    graph: {
      name: 'user',
      inputs: [{ name: options.input ?? MODEL_INPUT, elemType: 'double', shape: ['N', 2] }],
      outputs: [{ name: options.output ?? OUTPUT_PROBABILITIES, elemType: 'double', shape: ['N', 2] }],
      initializers: [{ name: 'W', elemType: 'double', dims: [2, 2], values: [0, 1, 0, -1] }],
      nodes: [
        { opType: 'MatMul', inputs: [options.input ?? MODEL_INPUT, 'W'], outputs: ['logits'] },
        {
          opType: 'Softmax',
          inputs: ['logits'],
          outputs: [options.output ?? OUTPUT_PROBABILITIES],
          attributes: { axis: { type: 'int', value: -1 } },
        },
      ],
    },
    metadata: options.metadata ?? { author: 'data-science', 'mlops.encoding': 'stale' },
  };
  return writeOnnxModel(model);
}

const FEATURES = [
  { name: 'age', type: 'float64' },
  { name: 'visits', type: 'int64' },
] as const;

const CONTRACT: ModelContract = {
  encoding: fitEncodingSpec(
    FEATURES,
    rowsToFrame(FEATURES, [
      { age: 30, visits: 1 },
      { age: 50, visits: 3 },
    ]),
  ),
  signature: { inputs: FEATURES.map((f) => ({ name: f.name, type: f.type, featureView: 'customer' })) },
  output: { kind: 'binary', positiveClass: 1, threshold: 0.5 },
  lineage: lineageSchema.parse({ runId: 'run-1', trainer: { name: 'sagemaker', version: '1' } }),
  classes: [0, 1],
};
const RULES: TensorRules = {
  inputWidth: 2,
  requiredOutputs: [OUTPUT_PROBABILITIES],
  optionalOutputs: ['label'],
  classes: 2,
};

async function refusal(promise: Promise<unknown>): Promise<ValidationError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

function refusalOf(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

/** A tar.gz written by tar-stream directly (names and types as given). */
async function rawArchive(entries: { name: string; body?: string; type?: 'file' | 'symlink' }[]) {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries)
    if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: '/etc/passwd' });
    else pack.entry({ name: e.name }, e.body ?? '');
  pack.finalize();
  await done;
  return new Uint8Array(gzipSync(Buffer.concat(chunks)));
}

describe('unpackModelArchive', () => {
  it('returns model.onnx and the metrics of a SageMaker model.tar.gz', async () => {
    const onnx = userModel();
    const archive = await packModelArchive([
      { name: 'model.onnx', body: onnx },
      { name: 'metrics.json', body: '{"rocAuc":0.91,"logLoss":0.3}' },
      { name: 'checkpoints/epoch-1.pt', body: 'x'.repeat(1000) },
    ]);
    const unpacked = await unpackModelArchive(archive);
    expect(Buffer.from(unpacked.onnx).equals(Buffer.from(onnx))).toBe(true);
    expect(unpacked.metrics).toEqual({ rocAuc: 0.91, logLoss: 0.3 });
  });

  it('reads ./model.onnx (tar run inside /opt/ml/model) like model.onnx, and no metrics.json as none', async () => {
    const onnx = userModel();
    const unpacked = await unpackModelArchive(await packModelArchive([{ name: './model.onnx', body: onnx }]));
    expect(Buffer.from(unpacked.onnx).equals(Buffer.from(onnx))).toBe(true);
    expect(unpacked.metrics).toBeUndefined();
  });

  it('refuses an archive without model.onnx, naming the file and the job', async () => {
    const error = await refusal(
      unpackModelArchive(await packModelArchive([{ name: 'model.pkl', body: 'pickle' }])),
    );
    expect(error.field).toBe('model.onnx');
    expect(error.rule).toContain('the SageMaker job wrote no model.onnx to /opt/ml/model');
  });

  it('does not take a model.onnx from a subdirectory', async () => {
    const error = await refusal(
      unpackModelArchive(await packModelArchive([{ name: 'export/model.onnx', body: userModel() }])),
    );
    expect(error.field).toBe('model.onnx');
  });

  it.each([
    ['an array', '[1, 2]', 'metrics.json'],
    ['a string value', '{"auc":"0.9"}', 'metrics.json.auc'],
    ['an overflowing number', '{"auc":1e999}', 'metrics.json.auc'],
    ['not JSON', '{auc: 0.9}', 'metrics.json'],
    ['null', 'null', 'metrics.json'],
  ])('refuses a metrics.json that is %s', async (_what, body, field) => {
    const archive = await packModelArchive([
      { name: 'model.onnx', body: userModel() },
      { name: 'metrics.json', body },
    ]);
    expect((await refusal(unpackModelArchive(archive))).field).toBe(field);
  });

  it('refuses an archive that unpacks past the cap (a gzip bomb) and names the rule', async () => {
    // 16 MiB of zeros gzip to ~16 KiB.
    const bomb = await packModelArchive([
      { name: 'model.onnx', body: userModel() },
      { name: 'padding.bin', body: new Uint8Array(16 * 2 ** 20) },
    ]);
    expect(bomb.byteLength).toBeLessThan(2 ** 20);
    const error = await refusal(unpackModelArchive(bomb, { maxUnpackedBytes: 2 * 2 ** 20 }));
    expect(error.field).toBe('model.tar.gz');
    expect(error.rule).toMatch(/must unpack to at most 2097152 bytes/);
  });

  it('refuses bytes that are not gzip, and a symlinked model.onnx', async () => {
    expect((await refusal(unpackModelArchive(userModel()))).field).toBe('model.tar.gz');
    const link = await rawArchive([{ name: 'model.onnx', type: 'symlink' }]);
    const error = await refusal(unpackModelArchive(link));
    expect(error.field).toBe('model.onnx');
    expect(error.rule).toContain('regular file');
  });

  it('refuses two model.onnx entries rather than picking one', async () => {
    const twice = await rawArchive([
      { name: 'model.onnx', body: 'a' },
      { name: './model.onnx', body: 'b' },
    ]);
    expect((await refusal(unpackModelArchive(twice))).rule).toContain('occurs twice');
  });
});

describe('embedContract', () => {
  it('adds the mlops metadata the serving path reads, replacing stale mlops keys', () => {
    const embedded = embedContract(userModel(), CONTRACT, RULES);
    expect(readModelContract(embedded)).toEqual(CONTRACT);
    expect(readOnnxModel(embedded).metadata[METADATA_KEYS.encoding]).not.toBe('stale');
  });

  it("keeps the user's other metadata and every other field byte for byte", () => {
    const original = userModel();
    // A top-level field our schema does not know (as a newer exporter might write one).
    const unknown = Uint8Array.from([0x9a, 0x06, 3, 0x61, 0x62, 0x63]); // field 99, length 3, "abc"
    const withUnknown = new Uint8Array(Buffer.concat([original, unknown]));
    const embedded = embedContract(withUnknown, CONTRACT, RULES);
    expect(readOnnxModel(embedded).metadata.author).toBe('data-science');
    expect(Buffer.from(embedded).includes(Buffer.from(unknown))).toBe(true);
    expect(readOnnxModel(embedded).producerName).toBe('skl2onnx');
  });

  it('gives the same bytes for the same model and contract, and embedding twice changes nothing', () => {
    const once = embedContract(userModel(), CONTRACT, RULES);
    expect(Buffer.from(embedContract(userModel(), CONTRACT, RULES)).equals(Buffer.from(once))).toBe(true);
    expect(Buffer.from(embedContract(once, CONTRACT, RULES)).equals(Buffer.from(once))).toBe(true);
  });

  it('leaves a model onnxruntime scores exactly as before', async () => {
    const x = new ort.Tensor('float64', Float64Array.from([1, 2, -3, 0.5]), [2, 2]);
    const run = async (bytes: Uint8Array) => {
      const session = await ort.InferenceSession.create(bytes);
      try {
        return Array.from(
          (await session.run({ [MODEL_INPUT]: x }))[OUTPUT_PROBABILITIES]?.data as Float64Array,
        );
      } finally {
        await session.release();
      }
    };
    expect(await run(embedContract(userModel(), CONTRACT, RULES))).toEqual(await run(userModel()));
  });

  it('refuses a model whose input is not named features, naming the tensor', () => {
    const error = refusalOf(() => embedContract(userModel({ input: 'input_1' }), CONTRACT, RULES));
    expect(error.field).toBe('model.onnx.features');
    expect(error.rule).toContain('input_1');
  });

  it('refuses outputs the contract does not name, and a missing required one', () => {
    expect(refusalOf(() => embedContract(userModel({ output: 'output_0' }), CONTRACT, RULES)).field).toBe(
      'model.onnx.output_0',
    );
    const regression: TensorRules = { ...RULES, requiredOutputs: ['prediction'], optionalOutputs: [] };
    expect(refusalOf(() => embedContract(userModel(), CONTRACT, regression)).field).toBe(
      'model.onnx.probabilities',
    );
  });

  it('refuses a width or class count other than the contract', () => {
    expect(refusalOf(() => embedContract(userModel(), CONTRACT, { ...RULES, inputWidth: 3 })).rule).toContain(
      'must have 3 columns, not 2',
    );
    expect(refusalOf(() => embedContract(userModel(), CONTRACT, { ...RULES, classes: 3 })).field).toBe(
      'model.onnx.probabilities',
    );
  });

  it('refuses bytes that are not ONNX', () => {
    expect(refusalOf(() => embedContract(Uint8Array.from([0xff, 0xff, 0xff]), CONTRACT, RULES)).field).toBe(
      'model.onnx',
    );
  });
});
