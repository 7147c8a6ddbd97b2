import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, cdkJsonContext } from '../../lib/app.js';
import { MlopsStack } from '../../lib/mlops-stack.js';
import { resolveConfig } from '../../lib/project-config.js';
import { type Assembly, stackOf } from '../../local/assembly.js';
import { testFeatureViews } from '../fixtures/feature-views.js';
import { assemblyFor } from '../support/assemblies.js';
import { NO_BUNDLING } from '../support/no-bundling.js';

describe('FeatureStore grant methods', () => {
  it('grantLand lets a producer put under landing/ and invoke ingestion; grantReadOffline adds the Glue catalog', () => {
    // Without the cdk-nag plugin: the grantees here are the test's own roles.
    const app = new App({ context: { ...cdkJsonContext(), ...NO_BUNDLING } });
    const stack = new MlopsStack(app, 'Grants', {
      config: resolveConfig({ featureViews: testFeatureViews }),
    });
    const producer = new iam.Role(stack, 'Producer', { assumedBy: new iam.AccountRootPrincipal() });
    const analyst = new iam.Role(stack, 'Analyst', { assumedBy: new iam.AccountRootPrincipal() });
    stack.featureStore.grantLand(producer);
    stack.featureStore.grantReadOffline(analyst);
    const resources = Template.fromStack(stack).toJSON().Resources as Record<
      string,
      { Type: string; Properties: { PolicyDocument?: unknown } }
    >;
    const policyOf = (prefix: string) =>
      JSON.stringify(
        Object.entries(resources).find(
          ([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith(prefix),
        )?.[1].Properties.PolicyDocument,
      );
    expect(policyOf('ProducerDefaultPolicy')).toMatch(/"s3:PutObject".*\/landing\/\*/);
    expect(policyOf('ProducerDefaultPolicy')).toContain('lambda:InvokeFunction');
    const analystPolicy = policyOf('AnalystDefaultPolicy');
    expect(analystPolicy).toContain('glue:GetPartitions');
    expect(analystPolicy).toContain(':table/');
    expect(analystPolicy).toContain('/features/*');
    expect(analystPolicy).not.toContain('s3:PutObject');
  });
});

describe('FeatureStore grant methods under cdk-nag', () => {
  it('leave a nag-checked app clean: their prefix-scoped wildcards are acknowledged on the grantee', () => {
    const app = new App({
      outdir: mkdtempSync(path.join(tmpdir(), 'mlops-grants-')),
      context: { ...cdkJsonContext(), ...NO_BUNDLING },
    });
    const { stack } = buildApp(app, { featureViews: testFeatureViews });
    const producer = new iam.Role(stack, 'Producer', { assumedBy: new iam.AccountRootPrincipal() });
    const analyst = new iam.Role(stack, 'Analyst', { assumedBy: new iam.AccountRootPrincipal() });
    stack.featureStore.grantLand(producer);
    stack.featureStore.grantReadOffline(analyst);
    expect(() => app.synth()).not.toThrow();
  });
});

describe('FeatureStore', () => {
  let assembly: Assembly;
  let template: Template;

  beforeAll(async () => {
    // Synthesis runs the cdk-nag checks and throws on any unacknowledged finding.
    assembly = await assemblyFor({ context: { mlops: { featureViews: testFeatureViews } } });
    template = Template.fromJSON(stackOf(assembly).template);
  });

  it('declares one Glue table per view over its Parquet partitions, with partition projection', () => {
    template.resourceCountIs('AWS::Glue::Table', 2);
    const customer = Object.values(template.findResources('AWS::Glue::Table')).find(
      (t) => t.Properties.TableInput.Name === 'customer',
    );
    const input = customer?.Properties.TableInput;
    expect(input.StorageDescriptor.Columns).toEqual([
      { Name: 'customer_id', Type: 'string' },
      { Name: 'event_time', Type: 'timestamp' },
      { Name: 'ingested_at', Type: 'timestamp' },
      { Name: 'orders', Type: 'bigint' },
      { Name: 'spend', Type: 'double' },
    ]);
    expect(input.PartitionKeys).toEqual([{ Name: 'date', Type: 'string' }]);
    expect(input.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe(
      'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
    );
    expect(input.Parameters).toMatchObject({
      'projection.enabled': 'true',
      'projection.date.format': 'yyyy-MM-dd',
      'projection.date.range': '2000-01-01,NOW+1DAYS',
    });
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Athena's own ${} placeholder
    const locationTemplate = '/features/customer/date=${date}/';
    expect(JSON.stringify(input.Parameters['storage.location.template'])).toContain(locationTemplate);
  });

  it('keeps the online store in a table with TTL and point-in-time recovery', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('bakes the configured feature views into the ingestion bundle', () => {
    const fn = Object.entries(stackOf(assembly).template.Resources).find(
      ([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith('FeatureStoreIngest'),
    )?.[1];
    const bundle = readFileSync(
      path.join(assembly.dir, String(fn?.Metadata?.['aws:asset:path']), 'index.mjs'),
      'utf8',
    );
    expect(bundle).toContain('"growth-ml"');
    expect(bundle).toContain('"merchant_id"');
  });

  interface Statement {
    readonly Action: string | string[];
    readonly Resource: unknown;
  }
  /** The statements of the policy attached to the role whose logical id starts with `role`. */
  const statements = (role: string): Statement[] =>
    Object.entries(stackOf(assembly).template.Resources)
      .filter(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith(role))
      .flatMap(
        ([, r]) => (r.Properties?.PolicyDocument as { Statement: Statement[] } | undefined)?.Statement ?? [],
      );
  const actions = (st: Statement) => (Array.isArray(st.Action) ? st.Action : [st.Action]);
  /** Whether some statement allows an action matching `action` on a resource mentioning `resource`. */
  const allows = (role: string, action: RegExp, resource: string) =>
    statements(role).some(
      (st) => actions(st).some((a) => action.test(a)) && JSON.stringify(st.Resource).includes(resource),
    );
  // A whole-bucket object resource: the bucket ARN joined with "/*" and no prefix.
  const WHOLE_BUCKET = /Offline[A-Za-z0-9]+","Arn"\]\},"\/\*"/;

  it('lets ingestion read landed batches, its manifests and log, and write only its own prefixes', () => {
    const role = 'FeatureStoreIngestRole';
    expect(allows(role, /^s3:GetObject/, '/landing/*')).toBe(true);
    expect(allows(role, /^s3:GetObject/, '/ingestion-log/*')).toBe(true);
    expect(allows(role, /^s3:PutObject$/, '/ingestion-log/*')).toBe(true);
    expect(allows(role, /^s3:PutObject$/, '/landing/*')).toBe(false);
    // Deletes only its own staged files (published under features/ once the manifest commits).
    expect(allows(role, /^s3:DeleteObject/, '/staging/*')).toBe(true);
    expect(
      statements(role).filter(
        (st) =>
          actions(st).some((a) => a.startsWith('s3:DeleteObject')) &&
          !JSON.stringify(st.Resource).includes('/staging/*'),
      ),
    ).toEqual([]);
    expect(JSON.stringify(statements(role))).not.toMatch(WHOLE_BUCKET);
  });

  it('lets materialization read what it reads and put items, nothing else (no deletes, no other writes)', () => {
    const role = 'FeatureStoreMaterializeRole';
    const onTable = (table: string) =>
      statements(role)
        .filter((st) => JSON.stringify(st.Resource).includes(table))
        .flatMap(actions)
        .filter((a) => a.startsWith('dynamodb:'));
    expect(onTable('FeatureStoreOnline')).toEqual(['dynamodb:PutItem']);
    // Its lease: taken with a conditional put, given back with a conditional delete.
    expect(onTable('FeatureStoreLeases').sort()).toEqual(['dynamodb:DeleteItem', 'dynamodb:PutItem']);
    expect(allows(role, /^s3:GetObject/, '/ingestion-log/*')).toBe(true);
    expect(allows(role, /^s3:GetObject/, '/ingestion/*')).toBe(true);
    expect(allows(role, /^s3:PutObject$/, '/materialization/*')).toBe(true);
    expect(allows(role, /^s3:PutObject$/, '/ingestion-log/*')).toBe(false);
    const all = statements(role).flatMap(actions);
    expect(all).not.toContainEqual(expect.stringMatching(/^s3:DeleteObject/));
    expect(JSON.stringify(statements(role))).not.toMatch(WHOLE_BUCKET);
  });

  it('lets training sets read batch manifests (which files are committed) and write datasets, without deletes', () => {
    const role = 'FeatureStoreBuildTrainingSetRole';
    expect(allows(role, /^s3:GetObject/, '/ingestion/*')).toBe(true);
    expect(allows(role, /^s3:PutObject$/, '/datasets/*')).toBe(true);
    expect(statements(role).flatMap(actions)).not.toContainEqual(expect.stringMatching(/^s3:DeleteObject/));
  });

  it('checks whole-bucket access with a pattern that matches it', () => {
    const whole = JSON.stringify({
      'Fn::Join': ['', [{ 'Fn::GetAtt': ['FeatureStoreOffline1234ABCD', 'Arn'] }, '/*']],
    });
    expect(whole).toMatch(WHOLE_BUCKET);
  });

  it('schedules materialization of each online view, and only those', () => {
    const schedules = Object.values(template.findResources('AWS::Events::Rule')).filter(
      (r) => r.Properties.ScheduleExpression !== undefined,
    );
    expect(schedules).toHaveLength(1);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [
        Match.objectLike({
          Input: JSON.stringify({ view: 'customer' }),
          RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 2 }),
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^FeatureStoreMaterializeFailures'), 'Arn'] },
          },
        }),
      ],
    });
  });
});
