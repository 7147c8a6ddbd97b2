import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, cdkJsonContext } from '../../lib/app.js';
import { resolveConfig } from '../../lib/project-config.js';
import { STACK_OUTPUTS } from '../../lib/stack-outputs.js';
import projectConfig from '../../mlops.config.js';
import { NO_BUNDLING } from '../support/no-bundling.js';

function newApp(): App {
  return new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'mlops-infra-')),
    context: { ...cdkJsonContext(), ...NO_BUNDLING },
  });
}

type Resources = Record<
  string,
  { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> }
>;

describe('MlopsStack', () => {
  let template: Template;
  let resources: Resources;
  let stack: Stack;

  beforeAll(() => {
    const app = newApp();
    stack = buildApp(app).stack;
    const assembly = app.synth(); // throws ValidationFailed on any unacknowledged cdk-nag finding
    const artifact = assembly.getStackByName(stack.stackName);
    template = Template.fromJSON(artifact.template);
    resources = artifact.template.Resources as Resources;
  });

  it('outputs the resource names the mlops CLI looks up', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: { Ref: string } }>;
    const offline = outputs[STACK_OUTPUTS.offlineBucket]?.Value.Ref as string;
    const online = outputs[STACK_OUTPUTS.onlineTable]?.Value.Ref as string;
    expect(resources[offline]?.Type).toBe('AWS::S3::Bucket');
    expect(offline).toMatch(/^FeatureStoreOffline/);
    expect(resources[online]?.Type).toBe('AWS::DynamoDB::Table');
    expect(online).toMatch(/^FeatureStoreOnline/);
  });

  it('keeps registry metadata in a pay-per-request table with point-in-time recovery and encryption', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('keeps artifacts in a versioned, encrypted, private bucket with access logging', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: Match.objectLike({ DestinationBucketName: Match.anyValue() }),
    });
  });

  it('denies every non-TLS request to every bucket', () => {
    const buckets = template.findResources('AWS::S3::Bucket');
    const policies = Object.values(template.findResources('AWS::S3::BucketPolicy'));
    for (const logicalId of Object.keys(buckets)) {
      const policy = policies.find((p) => JSON.stringify(p.Properties.Bucket).includes(logicalId));
      expect(policy, `bucket ${logicalId} has a policy`).toBeDefined();
      expect(JSON.stringify(policy?.Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
    }
  });

  it('runs every function on nodejs24.x, arm64, with JSON logs and tracing', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions).length).toBeGreaterThanOrEqual(2);
    for (const fn of Object.values(functions)) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        LoggingConfig: { LogFormat: 'JSON' },
        TracingConfig: { Mode: 'Active' },
      });
    }
  });

  it('gives no role an AWS managed policy', () => {
    for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('lets the read function only read the registry table', () => {
    const policy = Object.entries(resources).find(([id]) =>
      id.startsWith('ModelRegistryGetModelVersionRoleDefaultPolicy'),
    );
    const actions = JSON.stringify(policy?.[1].Properties?.PolicyDocument);
    expect(actions).toContain('dynamodb:GetItem');
    expect(actions).not.toMatch(/dynamodb:(PutItem|UpdateItem|DeleteItem|BatchWriteItem)/);
    expect(actions).not.toContain('s3:');
  });

  it('logs every state machine execution and traces it', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
      TracingConfiguration: { Enabled: true },
    });
  });

  it('gives every acknowledged cdk-nag finding a reason', () => {
    const acknowledged = Object.values(resources).flatMap(
      (r) =>
        (r.Metadata?.cdk_nag as { rules_to_suppress?: { id: string; reason: string }[] } | undefined)
          ?.rules_to_suppress ?? [],
    );
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const { id, reason } of acknowledged) {
      expect(id).toMatch(/^(AwsSolutions|Serverless)-/);
      expect(reason.length, `reason for ${id}`).toBeGreaterThan(30);
    }
  });

  it('fails synthesis on an unacknowledged cdk-nag finding', () => {
    const app = newApp();
    const { stack: other } = buildApp(app);
    new s3.Bucket(other, 'UnloggedBucket'); // no access logs, no SSL enforcement
    expect(() => app.synth()).toThrow(/AwsSolutions-S10/);
    const report = readFileSync(path.join(app.outdir, 'validation-report.json'), 'utf8');
    expect(report).toContain('AwsSolutions-S1');
    expect(report).toContain('AwsSolutions-S10');
  });
});

describe('configuration', () => {
  it('applies log retention and removal policy from configuration to every log group', () => {
    const app = newApp();
    const { stack } = buildApp(app, { logRetentionDays: 7, removalPolicy: 'destroy' });
    const template = Template.fromStack(stack);
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup'));
    expect(groups.length).toBeGreaterThanOrEqual(3);
    for (const group of groups) {
      expect(group.Properties.RetentionInDays).toBe(7);
      expect(group.DeletionPolicy).toBe('Delete');
    }
  });

  it('rejects an invalid configuration value by field', () => {
    expect(() => buildApp(newApp(), { logRetentionDays: 3 })).toThrow(/config\.logRetentionDays/);
    expect(() => buildApp(newApp(), { stackNmae: 'x' })).toThrow(/config\.stackNmae: is not a known field/);
  });
});

describe('configuration in TypeScript (mlops.config.ts)', () => {
  it('is the base the app builds from, and the context overrides its keys', () => {
    const { config } = buildApp(newApp());
    expect(config).toEqual(resolveConfig());
    expect(config.stackName).toBe(projectConfig.stackName);
    const base = { stackName: 'FromFile', logRetentionDays: 90 as const };
    expect(resolveConfig({ logRetentionDays: 14 }, base)).toMatchObject({
      stackName: 'FromFile',
      logRetentionDays: 14,
    });
    expect(() => resolveConfig({}, { featureViews: [{ name: 'Bad Name' }] } as never)).toThrow(
      /config\.featureViews\.0/,
    );
  });
});

describe('configuration from the command line', () => {
  it('reads `-c mlops=<json>` (JSON text) like an object', () => {
    const app = new App({
      outdir: mkdtempSync(path.join(tmpdir(), 'mlops-infra-')),
      context: { ...cdkJsonContext(), ...NO_BUNDLING, mlops: JSON.stringify({ logRetentionDays: 14 }) },
    });
    const { config } = buildApp(app);
    expect(config.logRetentionDays).toBe(14);
  });

  it('rejects context that is not a JSON object', () => {
    const app = new App({ context: { ...cdkJsonContext(), mlops: 'retain' } });
    expect(() => buildApp(app)).toThrow(/config: the mlops context value must be a JSON object/);
  });
});
