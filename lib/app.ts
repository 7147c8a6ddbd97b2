/**
 * Builds the CDK app from configuration. `bin/app.ts` (the `cdk` entry) and the local harness
 * (`local/assembly.ts`) both call this, so what runs locally is what deploys.
 */
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadConfig, type MlopsConfig } from './config.js';
import { MlopsStack } from './mlops-stack.js';

export interface BuiltApp {
  readonly config: MlopsConfig;
  readonly stack: MlopsStack;
}

/** Adds the project's stack (and the cdk-nag AwsSolutions checks) to `app`. */
export function buildApp(app: App, overrides: unknown = app.node.tryGetContext('mlops') ?? {}): BuiltApp {
  const config = loadConfig(overrides);
  const stack = new MlopsStack(app, config.stackName, { config });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { config, stack };
}
