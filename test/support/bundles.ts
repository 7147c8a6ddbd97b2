/**
 * The Lambda bundles of a synthesized assembly: what deploys, read back for budgets (test/infra)
 * and sizes (bench/bundles.bench.ts). Each bundle is named by the `lambdas/<name>/handler.ts` its
 * source map lists (the template never records a NodejsFunction's entry).
 */
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { Assembly, StackArtifact } from '../../local/assembly.js';

export interface LambdaBundle {
  /** Function folder under `lambdas/` (e.g. `get-model-version`). */
  readonly name: string;
  readonly logicalId: string;
  /** Absolute path of the bundle (`index.mjs`). */
  readonly file: string;
  /** Size of the bundle in bytes (source map excluded: it is not loaded at cold start). */
  readonly bytes: number;
  /** Every module esbuild put in the bundle, as its source map lists them. */
  readonly sources: readonly string[];
}

/** Every `AWS::Lambda::Function` of `stack` whose bundle is in the assembly, smallest first. */
export function lambdaBundles(assembly: Assembly, stack: StackArtifact): LambdaBundle[] {
  const bundles: LambdaBundle[] = [];
  for (const [logicalId, resource] of Object.entries(stack.template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const assetPath = resource.Metadata?.['aws:asset:path'];
    if (typeof assetPath !== 'string') continue;
    const file = path.join(assembly.dir, assetPath, 'index.mjs');
    const { sources } = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
    const name = sources.map((s) => /(?:^|\/)lambdas\/([^/]+)\/handler\.ts$/.exec(s)?.[1]).find(Boolean);
    if (name === undefined)
      throw new Error(`${logicalId}: its source map lists no lambdas/<name>/handler.ts`);
    bundles.push({ name, logicalId, file, bytes: statSync(file).size, sources });
  }
  return bundles.sort((a, b) => a.bytes - b.bytes);
}

/** zod locale tables other than English (zod's own default) that a bundle carries. */
export function foreignZodLocales(bundle: LambdaBundle): string[] {
  return bundle.sources.filter((s) => /\/zod\/.*\/locales\/(?!en\.js$)[^/]+\.js$/.test(s));
}
