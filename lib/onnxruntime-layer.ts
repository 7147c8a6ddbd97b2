/**
 * onnxruntime-node as a Lambda layer holding only the linux binaries of one architecture.
 *
 * The npm package ships every platform's binaries (~288 MB, over Lambda's 250 MB unzipped limit);
 * a function needs one: linux/arm64 is ~25 MB, linux/x64 ~46 MB. The layer is assembled on the host
 * (no Docker) from the installed package: `nodejs/node_modules/onnxruntime-node/{package.json,
 * dist/, bin/napi-v6/linux/<arch>/}` plus its runtime dependency `onnxruntime-common`. The
 * package's other dependencies (adm-zip, global-agent) serve only its install script and are left
 * out. Functions that use it mark `onnxruntime-node` external (MlopsFunction does, with
 * `onnxRuntime: true`), so Node resolves it from /opt/nodejs/node_modules at run time.
 */
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { AssetHashType, DockerImage, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

const require = createRequire(import.meta.url);

/** Directory of an installed package, resolved the way Node resolves it from `from` (or this file). */
function packageDir(name: string, from?: string): string {
  const resolver = from ? createRequire(path.join(from, 'package.json')) : require;
  // Resolve the entry point (some packages do not export ./package.json), then walk up to its root.
  let dir = path.dirname(resolver.resolve(name));
  while (dir !== path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === name
    )
      return dir;
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find the package root of ${name}`);
}

/** The platform folder name onnxruntime-node uses for a Lambda architecture. */
export function onnxPlatformArch(architecture: lambda.Architecture): 'arm64' | 'x64' {
  if (architecture.name === lambda.Architecture.ARM_64.name) return 'arm64';
  if (architecture.name === lambda.Architecture.X86_64.name) return 'x64';
  throw new Error(`onnxruntime-node has no linux binaries for ${architecture.name}`);
}

/** Copies onnxruntime-node (one architecture's binaries) and onnxruntime-common into `outputDir`. */
export function assembleOnnxRuntimeLayer(outputDir: string, arch: 'arm64' | 'x64'): void {
  const ortDir = packageDir('onnxruntime-node');
  const commonDir = packageDir('onnxruntime-common', ortDir);
  const target = path.join(outputDir, 'nodejs', 'node_modules');
  const ortTarget = path.join(target, 'onnxruntime-node');
  mkdirSync(ortTarget, { recursive: true });
  cpSync(path.join(ortDir, 'package.json'), path.join(ortTarget, 'package.json'));
  cpSync(path.join(ortDir, 'dist'), path.join(ortTarget, 'dist'), { recursive: true });
  const binaries = path.join('bin', 'napi-v6', 'linux', arch);
  cpSync(path.join(ortDir, binaries), path.join(ortTarget, binaries), { recursive: true });
  const commonTarget = path.join(target, 'onnxruntime-common');
  mkdirSync(commonTarget, { recursive: true });
  cpSync(path.join(commonDir, 'package.json'), path.join(commonTarget, 'package.json'));
  cpSync(path.join(commonDir, 'dist'), path.join(commonTarget, 'dist'), { recursive: true });
}

export interface OnnxRuntimeLayerProps {
  /** Architecture whose linux binaries the layer holds. */
  readonly architecture: lambda.Architecture;
  /** Runtime the layer is built for. */
  readonly runtime: lambda.Runtime;
}

export class OnnxRuntimeLayer extends Construct {
  public readonly layer: lambda.LayerVersion;

  /** The stack's layer for `architecture`, created on first use (one per stack and architecture). */
  static forArchitecture(
    scope: Construct,
    architecture: lambda.Architecture,
    runtime: lambda.Runtime,
  ): lambda.ILayerVersion {
    const stack = Stack.of(scope);
    const id = `OnnxRuntimeLayer${onnxPlatformArch(architecture) === 'arm64' ? 'Arm64' : 'X64'}`;
    const existing = stack.node.tryFindChild(id);
    if (existing instanceof OnnxRuntimeLayer) return existing.layer;
    return new OnnxRuntimeLayer(stack, id, { architecture, runtime }).layer;
  }

  constructor(scope: Construct, id: string, props: OnnxRuntimeLayerProps) {
    super(scope, id);
    const arch = onnxPlatformArch(props.architecture);
    const ortDir = packageDir('onnxruntime-node');
    const version = (
      JSON.parse(readFileSync(path.join(ortDir, 'package.json'), 'utf8')) as { version: string }
    ).version;
    this.layer = new lambda.LayerVersion(this, 'Layer', {
      description: `onnxruntime-node ${version}, linux/${arch} binaries only`,
      compatibleArchitectures: [props.architecture],
      compatibleRuntimes: [props.runtime],
      code: lambda.Code.fromAsset(ortDir, {
        assetHash: `onnxruntime-node-${version}-linux-${arch}-v1`,
        assetHashType: AssetHashType.CUSTOM,
        bundling: {
          // Required by the API; never pulled: local bundling always succeeds.
          image: DockerImage.fromRegistry('public.ecr.aws/docker/library/busybox:latest'),
          local: {
            tryBundle(outputDir: string): boolean {
              assembleOnnxRuntimeLayer(outputDir, arch);
              return true;
            },
          },
        },
      }),
    });
  }
}
