import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { MlopsFunction } from '../../lib/mlops-function.js';
import { type Assembly, stackOf, synthesize } from '../../local/assembly.js';

const lambdasDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'lambdas');

describe('MlopsFunction', () => {
  let assembly: Assembly;
  let fn: { Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> };
  let bundleDir: string;

  beforeAll(() => {
    assembly = synthesize((app) => {
      // `flaky` imports the DynamoDB SDK, so the bundle shows whether @aws-sdk stays external.
      new MlopsFunction(new Stack(app, 'FunctionFixture'), 'Probe', {
        name: 'flaky',
        description: 'probe',
        lambdasDir,
      });
    });
    const resources = Object.values(stackOf(assembly).template.Resources);
    fn = resources.find((r) => r.Type === 'AWS::Lambda::Function') ?? {};
    bundleDir = path.join(assembly.dir, String(fn.Metadata?.['aws:asset:path']));
  });

  it('runs nodejs24.x on arm64 with source maps enabled', () => {
    expect(fn.Properties).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Environment: { Variables: { NODE_OPTIONS: '--enable-source-maps' } },
    });
  });

  it('bundles ESM with a source map, leaving the AWS SDK to the runtime', () => {
    expect(existsSync(path.join(bundleDir, 'index.mjs'))).toBe(true);
    expect(existsSync(path.join(bundleDir, 'index.mjs.map'))).toBe(true);
    const bundle = readFileSync(path.join(bundleDir, 'index.mjs'), 'utf8');
    expect(bundle).toMatch(/from\s*"@aws-sdk\/lib-dynamodb"/);
    expect(bundle).not.toContain('DynamoDBDocumentClient=class');
  });

  it('keeps class names through minification (error names must survive bundling)', () => {
    // esbuild's keepNames helper: __name = (target, value) => defineProperty(target, "name", { value, configurable: true })
    expect(readFileSync(path.join(bundleDir, 'index.mjs'), 'utf8')).toMatch(
      /"name",\{value:[\w$]+,configurable:!0\}/,
    );
  });

  it('writes to its own log group with a retention, through its own role', () => {
    const resources = stackOf(assembly).template.Resources;
    const logGroup = Object.values(resources).find((r) => r.Type === 'AWS::Logs::LogGroup');
    expect(logGroup?.Properties?.RetentionInDays).toBe(30);
    expect(fn.Properties?.LoggingConfig).toMatchObject({ LogFormat: 'JSON', LogGroup: expect.anything() });
    const role = Object.values(resources).find((r) => r.Type === 'AWS::IAM::Role');
    expect(role?.Properties?.ManagedPolicyArns).toBeUndefined();
  });
});
