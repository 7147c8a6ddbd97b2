import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { MlopsFunction } from '../../lib/mlops-function.js';
import { type Assembly, stackOf, synthesize } from '../../local/assembly.js';

const lambdasDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'lambdas');

describe('MlopsFunction', () => {
  let assembly: Assembly;
  let template: Template;
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
    template = Template.fromJSON(stackOf(assembly).template);
    const [fn] = Object.values(template.findResources('AWS::Lambda::Function'));
    bundleDir = path.join(assembly.dir, String(fn?.Metadata?.['aws:asset:path']));
  });

  const bundle = () => readFileSync(path.join(bundleDir, 'index.mjs'), 'utf8');

  it('runs nodejs24.x on arm64 with the handler exported from index', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
    });
  });

  it('maps stack traces through source maps', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ NODE_OPTIONS: Match.stringLikeRegexp('--enable-source-maps') }),
      },
    });
  });

  it('traces with X-Ray', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { TracingConfig: { Mode: 'Active' } });
  });

  it('logs JSON into its own log group, which has a retention', () => {
    const [logGroupId] = Object.keys(
      template.findResources('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 30 } }),
    );
    expect(logGroupId).toBeDefined();
    template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: logGroupId } },
    });
  });

  it('runs under its own role with no AWS managed policy', () => {
    template.resourceCountIs('AWS::IAM::Role', 1);
    template.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });

  it('bundles ESM with a source map', () => {
    expect(existsSync(path.join(bundleDir, 'index.mjs'))).toBe(true);
    expect(existsSync(path.join(bundleDir, 'index.mjs.map'))).toBe(true);
    expect(existsSync(path.join(bundleDir, 'index.js'))).toBe(false);
    expect(bundle()).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
  });

  it('leaves the AWS SDK to the runtime', () => {
    expect(bundle()).toMatch(/from\s*"@aws-sdk\/lib-dynamodb"/);
    // The source map lists every module esbuild bundled.
    const { sources } = JSON.parse(readFileSync(path.join(bundleDir, 'index.mjs.map'), 'utf8')) as {
      sources: string[];
    };
    expect(sources.some((source) => source.includes('fixtures/lambdas/flaky/handler.ts'))).toBe(true);
    expect(sources.filter((source) => source.includes('node_modules/@aws-sdk/'))).toEqual([]);
  });

  it('keeps class names through minification (error names must survive bundling)', () => {
    // esbuild's keepNames helper: __name = (target, value) => defineProperty(target, "name", { value, configurable: true })
    expect(bundle()).toMatch(/"name",\{value:[\w$]+,configurable:!0\}/);
  });
});
