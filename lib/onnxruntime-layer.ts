/**
 * onnxruntime-node as a Lambda layer holding only the linux binaries of one architecture.
 *
 * The npm package ships every platform's binaries (~288 MB, over Lambda's 250 MB unzipped limit);
 * a function needs one: linux/arm64 is ~25 MB, linux/x64 ~46 MB. The layer is assembled on the host
 * (no Docker) from the installed package:
 *
 * ```
 * nodejs/node_modules/onnxruntime-node/{package.json, dist/, bin/napi-v6/linux/<arch>/}
 * nodejs/node_modules/onnxruntime-common/{package.json, dist/}
 * ```
 *
 * `dist/index.js` (the package's `main`) requires `onnxruntime-common` and
 * `../bin/napi-v6/${process.platform}/${process.arch}/onnxruntime_binding.node`, which links
 * `libonnxruntime.so.1` beside it. The package's other dependencies (adm-zip, global-agent) serve
 * only its install script (`script/`) and are left out. Functions that use the layer mark
 * `onnxruntime-node` external (MlopsFunction does, with `onnxRuntime: true`), so Node resolves it
 * from /opt/nodejs/node_modules at run time (Lambda resolves ES module imports from layers on
 * Node.js 18 and later).
 *
 * Limits:
 * - CPU execution provider only. On linux/x64 the package's install script may download the CUDA
 *   and TensorRT providers (`libonnxruntime_providers_*.so`, hundreds of MB) unless
 *   `onnxruntime-node-install=skip` (this repo's .npmrc); they are never copied, Lambda has no GPU.
 * - The asset hash is the package versions, the architecture and {@link LAYER_LAYOUT_VERSION},
 *   not the file contents: a reinstall of the same version is assumed identical, and a change to
 *   what {@link assembleOnnxRuntimeLayer} copies must bump that constant or the old layer is kept.
 * - Handlers import everything from `onnxruntime-node`, never `onnxruntime-common` directly: a
 *   bundled copy of the latter would be a second instance that the native backend is not
 *   registered with.
 * - The binaries come from the host's node_modules, so they are whatever `npm ci` installed; the
 *   layer fails to synthesize (rather than shipping an empty package) if they are missing.
 */
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { AssetHashType, DockerImage, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

const require = createRequire(import.meta.url);

/**
 * Version of the layer's layout. Part of the asset hash: bump it whenever
 * {@link assembleOnnxRuntimeLayer} changes what it copies, so a new layer version is published.
 */
export const LAYER_LAYOUT_VERSION = 1;

/** GPU execution providers the install script may add on linux/x64; useless without a GPU. */
const GPU_PROVIDER = /^libonnxruntime_providers_/;

/** Platform folder names onnxruntime-node uses for the two Lambda architectures. */
export type OnnxArch = 'arm64' | 'x64';

interface InstalledPackage {
  readonly dir: string;
  readonly version: string;
}

/** An installed package, resolved the way Node resolves it from `from` (or from this file). */
function installedPackage(name: string, from?: string): InstalledPackage {
  const resolver = from ? createRequire(path.join(from, 'package.json')) : require;
  // Resolve the entry point (onnxruntime-common does not export ./package.json), then walk up to
  // the directory whose manifest names the package.
  let dir = path.dirname(resolver.resolve(name));
  while (dir !== path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { name: found, version } = JSON.parse(readFileSync(manifest, 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (found === name && version) return { dir, version };
    }
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find the package root of ${name}`);
}

/** onnxruntime-node and the onnxruntime-common it resolves. */
function onnxPackages(): { node: InstalledPackage; common: InstalledPackage } {
  const node = installedPackage('onnxruntime-node');
  return { node, common: installedPackage('onnxruntime-common', node.dir) };
}

/** The platform folder name onnxruntime-node uses for a Lambda architecture. */
export function onnxPlatformArch(architecture: lambda.Architecture): OnnxArch {
  if (architecture.name === lambda.Architecture.ARM_64.name) return 'arm64';
  if (architecture.name === lambda.Architecture.X86_64.name) return 'x64';
  throw new Error(`onnxruntime-node has no linux binaries for ${architecture.name}`);
}

/**
 * Writes the layer's contents into `outputDir`: onnxruntime-node with only the linux binaries of
 * `arch`, and onnxruntime-common. Exported so tests can build the layer for the host's
 * architecture and load it.
 */
export function assembleOnnxRuntimeLayer(outputDir: string, arch: OnnxArch): void {
  const { node, common } = onnxPackages();
  const binaries = path.join('bin', 'napi-v6', 'linux', arch);
  if (!existsSync(path.join(node.dir, binaries, 'onnxruntime_binding.node'))) {
    throw new Error(
      `onnxruntime-node ${node.version} at ${node.dir} has no ${binaries}; reinstall it with its binaries`,
    );
  }
  const target = path.join(outputDir, 'nodejs', 'node_modules');
  const copy = (from: string, to: string, rel: string) =>
    cpSync(path.join(from, rel), path.join(to, rel), {
      recursive: true,
      filter: (source) => !GPU_PROVIDER.test(path.basename(source)),
    });

  const nodeTarget = path.join(target, 'onnxruntime-node');
  mkdirSync(nodeTarget, { recursive: true });
  for (const rel of ['package.json', 'dist', binaries]) copy(node.dir, nodeTarget, rel);

  const commonTarget = path.join(target, 'onnxruntime-common');
  mkdirSync(commonTarget, { recursive: true });
  for (const rel of ['package.json', 'dist']) copy(common.dir, commonTarget, rel);
}

export interface OnnxRuntimeLayerProps {
  /** Architecture whose linux binaries the layer holds. */
  readonly architecture: lambda.Architecture;
  /** Runtime the layer is declared compatible with (the functions' runtime). */
  readonly runtime: lambda.Runtime;
}

/**
 * A `LayerVersion` with onnxruntime-node for one architecture, assembled on the host.
 * Functions get it through {@link OnnxRuntimeLayer.forArchitecture}, which keeps one per stack
 * and architecture so that functions share it.
 */
export class OnnxRuntimeLayer extends Construct {
  /**
   * The stack's layer for `architecture`, created on first use (one per stack and architecture,
   * found by construct id on the stack). Asking again with a different runtime is an error rather
   * than a silently mismatched layer.
   */
  static forArchitecture(
    scope: Construct,
    architecture: lambda.Architecture,
    runtime: lambda.Runtime,
  ): lambda.ILayerVersion {
    const stack = Stack.of(scope);
    const arch = onnxPlatformArch(architecture);
    const id = `OnnxRuntimeLayer${arch === 'arm64' ? 'Arm64' : 'X64'}`;
    const existing = stack.node.tryFindChild(id);
    if (existing === undefined) return new OnnxRuntimeLayer(stack, id, { architecture, runtime }).layer;
    if (!(existing instanceof OnnxRuntimeLayer)) {
      throw new Error(`${stack.node.path}/${id} exists and is not an OnnxRuntimeLayer`);
    }
    if (!existing.runtime.runtimeEquals(runtime)) {
      throw new Error(
        `the stack's onnxruntime layer for ${arch} is for ${existing.runtime.name}, not ${runtime.name}`,
      );
    }
    return existing.layer;
  }

  /** The layer version functions attach. */
  public readonly layer: lambda.LayerVersion;
  /** Runtime the layer is declared compatible with. */
  public readonly runtime: lambda.Runtime;

  constructor(scope: Construct, id: string, props: OnnxRuntimeLayerProps) {
    super(scope, id);
    const arch = onnxPlatformArch(props.architecture);
    const { node, common } = onnxPackages();
    this.runtime = props.runtime;
    this.layer = new lambda.LayerVersion(this, 'Layer', {
      description: `onnxruntime-node ${node.version}, linux/${arch} binaries only`,
      compatibleArchitectures: [props.architecture],
      compatibleRuntimes: [props.runtime],
      code: lambda.Code.fromAsset(node.dir, {
        // Known before bundling, so a cdk.out that already holds this asset skips the copy.
        assetHash: `onnxruntime-node-${node.version}-common-${common.version}-linux-${arch}-layout-${LAYER_LAYOUT_VERSION}`,
        assetHashType: AssetHashType.CUSTOM,
        bundling: {
          // Required by the API and never pulled: local bundling always succeeds or throws.
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
