/**
 * How every function is bundled: esbuild options in one place, read by {@link MlopsFunction} (as
 * CDK `BundlingOptions`) and by the benchmarks that build a function the same way outside CDK
 * (bench/serving.bench.ts). Plain data: no aws-cdk-lib import, so a benchmark needs no synthesis.
 */

/** What a function's bundle leaves out or brings (MlopsFunction's props of the same names). */
export interface BundleKind {
  /** The onnxruntime-node layer provides `onnxruntime-node`: it stays out of the bundle. */
  readonly onnxRuntime?: boolean;
  /**
   * Bundle the AWS SDK (tree-shaken, minified) instead of importing the runtime's. Default false:
   * smaller bundles. The predict function sets it: its cold start is a product figure, and a
   * bundled SDK loads about 40 ms faster there than the runtime's node_modules (bench/serving.bench.ts
   * `serving-cold-init-handler`); it also pins the SDK version the tests ran.
   */
  readonly bundleAwsSdk?: boolean;
}

/** The AWS SDK packages the Lambda Node.js runtime provides. */
export const RUNTIME_SDK_MODULES = ['@aws-sdk/*'] as const;

/** The package the onnxruntime layer provides (lib/onnxruntime-layer.ts). */
export const ONNX_RUNTIME_MODULE = 'onnxruntime-node';

/** ESM bundles of CommonJS dependencies still call require(); this gives them one. */
export const REQUIRE_BANNER =
  "import { createRequire as __mlopsCreateRequire } from 'module'; const require = __mlopsCreateRequire(import.meta.url);";

/** Modules esbuild leaves out of a bundle of `kind`: resolved at run time from the runtime or a layer. */
export function externalModules(kind: BundleKind): string[] {
  return [
    ...(kind.bundleAwsSdk ? [] : RUNTIME_SDK_MODULES),
    ...(kind.onnxRuntime ? [ONNX_RUNTIME_MODULE] : []),
  ];
}

/**
 * The esbuild options every function shares (`esbuild.build` names): ESM for Node.js 24, minified
 * with names kept (error classes' names survive), a source map without sources.
 */
export const ESBUILD_OPTIONS = {
  format: 'esm',
  target: 'node24',
  platform: 'node',
  minify: true,
  keepNames: true,
  sourcemap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
} as const;
