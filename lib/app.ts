/**
 * Builds the CDK app from configuration. `bin/app.ts` (the `cdk` entry) and the local harness
 * (`local/assembly.ts`) both call this, so what runs locally is what deploys.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { MlopsConfig } from './config.js';
import { PROJECT_ROOT } from './mlops-function.js';
import { MlopsStack } from './mlops-stack.js';
import { AcknowledgementAudit } from './nag.js';
import { resolveConfig } from './project-config.js';

export interface BuiltApp {
  readonly config: MlopsConfig;
  readonly stack: MlopsStack;
}

/**
 * Adds the project's stack (and the cdk-nag AwsSolutions and Serverless checks, plus the audit that
 * every IAM5 acknowledgement matches a finding) to `app`, configured by
 * mlops.config.ts with the context key `mlops` (an object, or JSON text from `cdk synth -c`) on top.
 */
export function buildApp(app: App, overrides: unknown = app.node.tryGetContext('mlops') ?? {}): BuiltApp {
  const config = resolveConfig(overrides);
  const stack = new MlopsStack(app, config.stackName, { config });
  // Acknowledged findings are copied into each resource's Metadata (cdk_nag.rules_to_suppress) as an audit trail.
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true }),
    new ServerlessChecks(app, { verbose: true }),
    new AcknowledgementAudit(),
  );
  return { config, stack };
}

/**
 * The `context` block of cdk.json (feature flags). An in-process synthesis passes it to `new App`
 * so it builds what `cdk synth` builds.
 */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}
