import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Assembly, StackArtifact } from '../../local/assembly.js';
import { LocalLambdas } from '../../local/lambda-runtime.js';
import type { ProvisionedStack } from '../../local/provision.js';

const dir = mkdtempSync(path.join(tmpdir(), 'lambda-runtime-env-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A bundle that reports the variable it was given, then changes it, as a handler may.
mkdirSync(path.join(dir, 'asset'));
writeFileSync(
  path.join(dir, 'asset', 'index.mjs'),
  `export const handler = async () => { const seen = process.env.RUNTIME_ENV_TEST; process.env.RUNTIME_ENV_TEST = 'changed by ' + process.env.AWS_LAMBDA_FUNCTION_NAME; return seen; };\n`,
);
const fn = (value: string) => ({
  Type: 'AWS::Lambda::Function',
  Properties: {
    Handler: 'index.handler',
    Environment: { Variables: { RUNTIME_ENV_TEST: value } },
  },
  Metadata: { 'aws:asset:path': 'asset' },
});
const stack: StackArtifact = { stackName: 'S', template: { Resources: { A: fn('a'), B: fn('b') } } };
const assembly: Assembly = { dir, stacks: [stack] };
const provisioned: ProvisionedStack = {
  context: {
    region: 'us-east-1',
    accountId: '000000000000',
    partition: 'aws',
    stackName: 'S',
    resources: {},
  },
  tables: {},
  buckets: {},
  functions: {},
  versions: {},
  aliases: {},
  secrets: {},
  alarms: {},
  rules: {},
  deliveryStreams: {},
  resolve: (value) => value,
};

describe('LocalLambdas environment', () => {
  it("keeps a warm function's own changes to process.env, as a warm sandbox does, and gives each function its own", async () => {
    const lambdas = new LocalLambdas(assembly, stack, provisioned);
    expect(await lambdas.invoke('A', {})).toBe('a');
    // Same function again: its environment is not re-applied over what it changed.
    expect(await lambdas.invoke('A', {})).toBe('changed by A');
    // Another function: its own variables.
    expect(await lambdas.invoke('B', {})).toBe('b');
    expect(await lambdas.invoke('B', {})).toBe('changed by B');
  });
});
