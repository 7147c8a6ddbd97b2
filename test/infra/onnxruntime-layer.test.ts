import { execFileSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_RUNTIME, MlopsFunction } from '../../lib/mlops-function.js';
import { assembleOnnxRuntimeLayer, OnnxRuntimeLayer } from '../../lib/onnxruntime-layer.js';
import { type Assembly, type CfnResource, stackOf, synthesize } from '../../local/assembly.js';
import { addModel } from '../fixtures/onnx-model.js';

const lambdasDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'lambdas');
const MB = 1024 * 1024;
const LAYER_ORT = 'nodejs/node_modules/onnxruntime-node';

/** Every file under `dir`, with its path relative to `dir` and its size in bytes. */
function files(dir: string): { rel: string; size: number }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const full = path.join(entry.parentPath, entry.name);
      return { rel: path.relative(dir, full).split(path.sep).join('/'), size: statSync(full).size };
    });
}

/** The one resource of `type` in `resources`, with its logical id. */
function only(resources: Record<string, CfnResource>, type: string): [string, CfnResource] {
  const matches = Object.entries(resources).filter(([, r]) => r.Type === type);
  const [match] = matches;
  if (match === undefined || matches.length > 1)
    throw new Error(`expected one ${type}, got ${matches.length}`);
  return match;
}

/** Temporary directories (assemblies and layer builds, tens of MB each), removed after the file. */
const scratch: string[] = [];
function scratchDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A fresh x64 build of the layer (this machine's architecture) in a temporary directory. */
function x64Layer(): string {
  const dir = scratchDir('ort-layer-x64-');
  assembleOnnxRuntimeLayer(dir, 'x64');
  return dir;
}

describe('onnxruntime-node layer', () => {
  let assembly: Assembly;
  let resources: Record<string, CfnResource>;
  let layerDir: string;

  beforeAll(() => {
    assembly = synthesize(
      (app) => {
        const stack = new Stack(app, 'OnnxFixture');
        for (const id of ['ProbeA', 'ProbeB']) {
          new MlopsFunction(stack, id, {
            name: 'onnx-probe',
            description: id,
            lambdasDir,
            onnxRuntime: true,
          });
        }
      },
      { outdir: scratchDir('ort-assembly-') },
    );
    resources = stackOf(assembly).template.Resources;
    const [, layer] = only(resources, 'AWS::Lambda::LayerVersion');
    layerDir = path.join(assembly.dir, String(layer.Metadata?.['aws:asset:path']));
  });

  it('creates one arm64 layer for the function runtime that both functions attach', () => {
    const template = Template.fromJSON(stackOf(assembly).template);
    template.resourceCountIs('AWS::Lambda::LayerVersion', 1);
    template.hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleArchitectures: ['arm64'],
      CompatibleRuntimes: ['nodejs24.x'],
    });
    const [layerId] = only(resources, 'AWS::Lambda::LayerVersion');
    const functions = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(functions).toHaveLength(2);
    for (const fn of functions) expect(fn.Properties?.Layers).toEqual([{ Ref: layerId }]);
  });

  it('holds the linux/arm64 binaries and no other platform', () => {
    const rels = files(layerDir).map((f) => f.rel);
    expect(rels.filter((rel) => rel.startsWith(`${LAYER_ORT}/bin/`)).sort()).toEqual([
      `${LAYER_ORT}/bin/napi-v6/linux/arm64/libonnxruntime.so.1`,
      `${LAYER_ORT}/bin/napi-v6/linux/arm64/onnxruntime_binding.node`,
    ]);
    expect(rels.filter((rel) => /(^|\/)(darwin|win32|x64)(\/|$)|\.(dylib|dll)$/.test(rel))).toEqual([]);
  });

  it('stays under 40 MB unzipped', () => {
    const total = files(layerDir).reduce((sum, f) => sum + f.size, 0);
    expect(total).toBeLessThan(40 * MB);
  });

  it('ships onnxruntime-common beside onnxruntime-node and leaves out the install-script dependencies', () => {
    const packages = readdirSync(path.join(layerDir, 'nodejs', 'node_modules')).sort();
    expect(packages).toEqual(['onnxruntime-common', 'onnxruntime-node']);
    expect(readdirSync(path.join(layerDir, LAYER_ORT)).sort()).toEqual(['bin', 'dist', 'package.json']);
  });

  it('leaves onnxruntime out of the function bundle, importing it from the layer', () => {
    const [, fn] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::Lambda::Function') ?? [];
    const bundleDir = path.join(assembly.dir, String(fn?.Metadata?.['aws:asset:path']));
    expect(
      files(bundleDir)
        .map((f) => f.rel)
        .sort(),
    ).toEqual(['index.mjs', 'index.mjs.map']);
    const bundle = readFileSync(path.join(bundleDir, 'index.mjs'), 'utf8');
    expect(bundle).toMatch(/from\s*"onnxruntime-node"/);
    expect(bundle).not.toContain('no available backend found'); // onnxruntime-common's code
    expect(bundle.length).toBeLessThan(10_000);
  });

  it('loads from the layer layout and runs a model (x64 build, this machine)', async () => {
    const dir = x64Layer();
    const requireFromLayer = createRequire(path.join(dir, 'nodejs', 'node_modules', 'probe.js'));
    const ortPath = requireFromLayer.resolve('onnxruntime-node');
    expect(ortPath.startsWith(dir)).toBe(true);
    expect(createRequire(ortPath).resolve('onnxruntime-common').startsWith(dir)).toBe(true);
    const ort = requireFromLayer('onnxruntime-node') as typeof import('onnxruntime-node');

    const session = await ort.InferenceSession.create(addModel());
    const x = new ort.Tensor('float32', Float32Array.from([1, 2, 3]), [3]);
    const y = new ort.Tensor('float32', Float32Array.from([10, 20, 30]), [3]);
    const { Z } = await session.run({ X: x, Y: y });
    expect(Z?.dims).toEqual([3]);
    expect(Array.from(Z?.data as Float32Array)).toEqual([11, 22, 33]);
  });

  it('runs the synthesized ESM bundle against the layer in a plain Node process', () => {
    // Lambda layout: the bundle in /var/task, the layer in /opt. Lambda lets ES modules resolve
    // bare imports from /opt/nodejs/node_modules; here a node_modules link above the task stands
    // in for that, so the bundle's own `import ... from "onnxruntime-node"` is what gets tested.
    const root = x64Layer();
    const task = path.join(root, 'var', 'task');
    mkdirSync(task, { recursive: true });
    const [, fn] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::Lambda::Function') ?? [];
    cpSync(path.join(assembly.dir, String(fn?.Metadata?.['aws:asset:path'])), task, { recursive: true });
    symlinkSync(path.join(root, 'nodejs', 'node_modules'), path.join(root, 'var', 'node_modules'));
    const event = { modelBase64: Buffer.from(addModel()).toString('base64'), x: [0.5, -1], y: [0.25, 4] };

    const script =
      'const m = await import(process.argv[1]); process.stdout.write(JSON.stringify(await m.handler(JSON.parse(process.argv[2]))));';
    const output = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', script, path.join(task, 'index.mjs'), JSON.stringify(event)],
      { cwd: root, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } },
    );

    const { version } = JSON.parse(readFileSync(path.join(root, LAYER_ORT, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(JSON.parse(output)).toEqual({ ortVersion: version, z: [0.75, 3] });
  });
});

describe('OnnxRuntimeLayer.forArchitecture', () => {
  const stack = () => new Stack(new App({ outdir: scratchDir('ort-singleton-') }), 'S');

  it('returns the same layer for the same stack and architecture', () => {
    const s = stack();
    const first = OnnxRuntimeLayer.forArchitecture(s, lambda.Architecture.ARM_64, FUNCTION_RUNTIME);
    expect(OnnxRuntimeLayer.forArchitecture(s, lambda.Architecture.ARM_64, FUNCTION_RUNTIME)).toBe(first);
  });

  it('refuses a second runtime for the same architecture instead of returning a mismatched layer', () => {
    const s = stack();
    OnnxRuntimeLayer.forArchitecture(s, lambda.Architecture.ARM_64, FUNCTION_RUNTIME);
    expect(() =>
      OnnxRuntimeLayer.forArchitecture(s, lambda.Architecture.ARM_64, lambda.Runtime.NODEJS_22_X),
    ).toThrow(/is for nodejs24\.x, not nodejs22\.x/);
  });
});
