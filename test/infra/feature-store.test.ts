import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Assembly, stackOf, synthesize } from '../../local/assembly.js';
import { testFeatureViews } from '../fixtures/feature-views.js';

describe('FeatureStore', () => {
  let assembly: Assembly;
  let template: Template;

  beforeAll(() => {
    // Synthesis runs the cdk-nag checks and throws on any unacknowledged finding.
    assembly = synthesize(undefined, { context: { mlops: { featureViews: testFeatureViews } } });
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

  it('lets ingestion read only landed batches and its own manifests', () => {
    const policies = Object.entries(stackOf(assembly).template.Resources).filter(
      ([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith('FeatureStoreIngestRole'),
    );
    const document = JSON.stringify(policies[0]?.[1].Properties?.PolicyDocument);
    expect(document).toContain('/landing/*');
    expect(document).not.toMatch(/"s3:DeleteObject/);
    expect(document).not.toMatch(/Offline[A-F0-9]+\.Arn"\]\},"\/\*"/); // no whole-bucket object access
  });

  it('lets ingestion append to the ingestion log and materialization read it, and nothing more', () => {
    const policy = (prefix: string) =>
      JSON.stringify(
        Object.entries(stackOf(assembly).template.Resources).find(
          ([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith(prefix),
        )?.[1].Properties?.PolicyDocument,
      );
    const ingest = JSON.parse(policy('FeatureStoreIngestRole')) as {
      Statement: { Action: unknown; Resource: unknown }[];
    };
    const logStatements = (doc: typeof ingest) =>
      doc.Statement.filter((st) => JSON.stringify(st.Resource).includes('/ingestion-log/*'));
    expect(logStatements(ingest).some((st) => JSON.stringify(st.Action).includes('s3:PutObject'))).toBe(true);
    const materialize = JSON.parse(policy('FeatureStoreMaterializeRole')) as typeof ingest;
    const reads = logStatements(materialize);
    expect(reads.some((st) => JSON.stringify(st.Action).includes('s3:GetObject'))).toBe(true);
    expect(reads.every((st) => !JSON.stringify(st.Action).includes('s3:PutObject'))).toBe(true);
  });

  it('schedules materialization of each online view, and only those', () => {
    template.resourceCountIs('AWS::Events::Rule', 1);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [
        Match.objectLike({
          Input: JSON.stringify({ view: 'customer' }),
          RetryPolicy: { MaximumRetryAttempts: 2 },
        }),
      ],
    });
  });
});
