import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { MlopsFunction } from '../../lib/mlops-function.js';
import { assembleOnnxRuntimeLayer } from '../../lib/onnxruntime-layer.js';
import { type Assembly, stackOf, synthesize } from '../../local/assembly.js';
import { addModel } from '../fixtures/onnx-model.js';

const lambdasDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'lambdas');
const MB = 1024 * 1024;

function files(dir: string): { rel: string; size: number }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const full = path.join(entry.parentPath, entry.name);
      return { rel: path.relative(dir, full), size: statSync(full).size };
    });
}

describe('onnxruntime-node layer', () => {
  let assembly: Assembly;
  let resources: Record<
    string,
    { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> }
  >;

  beforeAll(() => {
    assembly = synthesize((app) => {
      const stack = new Stack(app, 'OnnxFixture');
      for (const id of ['ProbeA', 'ProbeB']) {
        new MlopsFunction(stack, id, { name: 'onnx-probe', description: id, lambdasDir, onnxRuntime: true });
      }
    });
    resources = stackOf(assembly).template.Resources as typeof resources;
  });

  const layerEntries = () =>
    Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Lambda::LayerVersion');
  const layerDir = () => path.join(assembly.dir, String(layerEntries()[0]?.[1].Metadata?.['aws:asset:path']));

  it('creates one arm64 layer that both functions use', () => {
    const layers = layerEntries();
    expect(layers).toHaveLength(1);
    const [layerId, layer] = layers[0] ?? [];
    expect(layer?.Properties).toMatchObject({
      CompatibleArchitectures: ['arm64'],
      CompatibleRuntimes: ['nodejs24.x'],
    });
    const functions = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(functions).toHaveLength(2);
    for (const fn of functions) expect(fn.Properties?.Layers).toEqual([{ Ref: layerId }]);
  });

  it('holds only linux/arm64 binaries, under 40 MB unzipped', () => {
    const contents = files(layerDir());
    const binaries = contents.filter((f) => /\.(node|so(\.\d+)*|dylib|dll)$/.test(f.rel));
    expect(binaries.map((f) => f.rel).sort()).toEqual([
      'nodejs/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1',
      'nodejs/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node',
    ]);
    const total = contents.reduce((sum, f) => sum + f.size, 0);
    expect(total).toBeLessThan(40 * MB);
    expect(contents.some((f) => f.rel.startsWith('nodejs/node_modules/onnxruntime-common/dist/'))).toBe(true);
  });

  it('leaves onnxruntime-node out of the function bundle', () => {
    const fn = Object.values(resources).find((r) => r.Type === 'AWS::Lambda::Function');
    const bundle = readFileSync(
      path.join(assembly.dir, String(fn?.Metadata?.['aws:asset:path']), 'index.mjs'),
      'utf8',
    );
    expect(bundle).toMatch(/from\s*"onnxruntime-node"/);
    expect(bundle.length).toBeLessThan(100_000);
  });

  it('loads from the layer layout and runs a model (x64 variant, this machine)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ort-layer-x64-'));
    assembleOnnxRuntimeLayer(dir, 'x64');
    const requireFromLayer = createRequire(path.join(dir, 'nodejs', 'node_modules', 'probe.js'));
    const ort = requireFromLayer('onnxruntime-node') as typeof import('onnxruntime-node');
    expect(requireFromLayer.resolve('onnxruntime-node')).toContain(dir);

    const session = await ort.InferenceSession.create(addModel());
    const x = new ort.Tensor('float32', Float32Array.from([1, 2, 3]), [3]);
    const y = new ort.Tensor('float32', Float32Array.from([10, 20, 30]), [3]);
    const { Z } = await session.run({ X: x, Y: y });
    expect(Array.from(Z?.data as Float32Array)).toEqual([11, 22, 33]);
  });
});
