/**
 * Where the configuration comes from: the project's `mlops.config.ts` (TypeScript, typed by
 * `defineConfig`), with the CDK context key `mlops` (`cdk synth -c mlops='{…}'`, or a test's
 * context) overriding top-level keys. The CDK app and the `mlops` CLI both call this, so they read
 * the same feature views; the Lambdas get the validated views baked in at synthesis.
 */
import { pathToFileURL } from 'node:url';
import { ValidationError } from '../lambdas/shared/errors.js';
import projectConfig from '../mlops.config.js';
import { loadConfig, type MlopsConfig, type MlopsConfigInput } from './config.js';

/**
 * Validates `base` (default: this project's mlops.config.ts) with `overrides` on top. Overrides
 * replace top-level keys, with one coupling: overriding `featureViews` without `models` replaces
 * the base's models with none, since models name their views (`view:feature`) and the base's would
 * name views the override took away.
 */
export function resolveConfig(overrides: unknown = {}, base: MlopsConfigInput = projectConfig): MlopsConfig {
  const parsed = typeof overrides === 'string' ? parseJsonContext(overrides) : overrides;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new ValidationError('config', 'overrides must be an object of configuration values');
  const viewsOnly = 'featureViews' in parsed && !('models' in parsed);
  return loadConfig({ ...base, ...(viewsOnly ? { models: [] } : {}), ...parsed });
}

/**
 * Reads a configuration module (a `mlops.config.ts`-like file whose default export is the
 * configuration); used by the CLI's `--config`.
 */
export async function importConfigFile(file: string): Promise<MlopsConfigInput> {
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (error) {
    throw new ValidationError('config', `could not load ${file}: ${(error as Error).message}`);
  }
  if (typeof module.default !== 'object' || module.default === null)
    throw new ValidationError('config', `${file} must export the configuration as its default export`);
  return module.default as MlopsConfigInput;
}

function parseJsonContext(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError('config', 'the mlops context value must be a JSON object');
  }
}
