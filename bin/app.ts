#!/usr/bin/env node
/**
 * The CDK app (`cdk synth`, `cdk deploy`; cdk.json runs it with tsx). A configuration error is
 * printed as every problem, `error: <field>: <rule>`, with exit code 1 and no stack trace.
 *
 * Quiet when asked (`-c quiet=true` or MLOPS_QUIET=1; `npm run synth` does): the CDK's
 * "Bundling asset …" lines are left out (the CDK CLI's own --quiet does not reach the app).
 */
import { App } from 'aws-cdk-lib';
import { ValidationError } from '../lambdas/shared/errors.js';
import { buildApp } from '../lib/app.js';
import { ConfigValidationError } from '../lib/config.js';

const app = new App();
const quiet =
  /^(1|true)$/i.test(process.env.MLOPS_QUIET ?? '') ||
  /^(1|true)$/i.test(String(app.node.tryGetContext('quiet')));
// The bundler runs under npx, whose npm prints warnings about project settings it does not know.
process.env.npm_config_loglevel ??= 'error';
if (quiet) {
  const write = process.stderr.write.bind(process.stderr) as (chunk: unknown, ...rest: unknown[]) => boolean;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) =>
    /^Bundling asset /.test(String(chunk)) ? true : write(chunk, ...rest)) as typeof process.stderr.write;
}

try {
  buildApp(app);
} catch (error) {
  if (!(error instanceof ValidationError)) throw error;
  const problems = error instanceof ConfigValidationError ? error.problems : [error];
  for (const problem of problems) process.stderr.write(`error: ${problem.field}: ${problem.rule}\n`);
  process.exit(1);
}
