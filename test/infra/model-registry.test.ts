import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, cdkJsonContext } from '../../lib/app.js';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;
interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Effect: string;
}

let resources: Resources;

beforeAll(() => {
  const app = new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'mlops-registry-')),
    context: cdkJsonContext(),
  });
  const { stack } = buildApp(app);
  // Synthesis runs cdk-nag: an acknowledgement without its finding, or a finding without one, fails here.
  resources = app.synth().getStackByName(stack.stackName).template.Resources as Resources;
});

/** Data-plane statements (DynamoDB, S3) of the role whose default policy starts with `prefix`. */
function dataStatements(prefix: string): { actions: string[]; statements: Statement[] } {
  const policies = Object.entries(resources).filter(
    ([id, r]) => id.startsWith(prefix) && r.Type === 'AWS::IAM::Policy',
  );
  expect(policies, prefix).toHaveLength(1);
  const document = policies[0]?.[1].Properties?.PolicyDocument as { Statement: Statement[] };
  const statements = document.Statement.filter((s) =>
    [s.Action].flat().some((a) => a.startsWith('dynamodb:') || a.startsWith('s3:')),
  );
  return { actions: statements.flatMap((s) => [s.Action].flat()).sort(), statements };
}

describe('model registry permissions', () => {
  it('gives the register function only the item reads and writes a registration makes', () => {
    const { actions, statements } = dataStatements('ModelRegistryRegisterModelVersionRoleDefaultPolicy');
    // Get (head, token, version), TransactWriteItems of an Update (head) and Puts (version, token),
    // and HeadObject/GetObject on the artifact (both authorized by s3:GetObject).
    expect(actions).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 's3:GetObject']);
    const s3 = statements.find((s) => [s.Action].flat().includes('s3:GetObject'));
    expect(JSON.stringify(s3?.Resource)).toMatch(/\/models\/\*"/);
  });

  it('gives the get function only GetItem on the registry table', () => {
    const { actions } = dataStatements('ModelRegistryGetModelVersionRoleDefaultPolicy');
    expect(actions).toEqual(['dynamodb:GetItem']);
  });
});

describe('registry events', () => {
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const eventsPolicy = () => {
    const policies = Object.entries(resources).filter(
      ([id, r]) =>
        id.startsWith('ModelRegistryRegistryEventsRoleDefaultPolicy') && r.Type === 'AWS::IAM::Policy',
    );
    expect(policies).toHaveLength(1);
    return (
      (policies[0]?.[1].Properties?.PolicyDocument as { Statement: Statement[] } | undefined)?.Statement ?? []
    );
  };

  it('streams the registry table with old and new images', () => {
    const [table] = ofType('AWS::DynamoDB::Table').filter(([id]) => id.startsWith('ModelRegistryTable'));
    expect(table?.[1].Properties?.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
  });

  it('has exactly one event bus, the one the events function publishes to', () => {
    const buses = ofType('AWS::Events::EventBus');
    expect(buses).toHaveLength(1);
    const [busId] = buses[0] ?? [];
    const fn = ofType('AWS::Lambda::Function').find(([id]) => id.startsWith('ModelRegistryRegistryEvents'));
    const variables = (fn?.[1].Properties?.Environment as { Variables: Record<string, unknown> } | undefined)
      ?.Variables;
    expect(variables?.EVENT_BUS_NAME).toEqual({ Ref: busId });
  });

  it('consumes the stream bisecting on error, reporting item failures, retrying a bounded number of times, failures to an alarmed queue', () => {
    const mappings = ofType('AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(1);
    const props = mappings[0]?.[1].Properties as Record<string, unknown>;
    expect(props).toMatchObject({
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 10,
      StartingPosition: 'TRIM_HORIZON',
    });
    expect(JSON.stringify(props.EventSourceArn)).toMatch(/ModelRegistryTable.*StreamArn/);
    const destination = JSON.stringify(props.DestinationConfig);
    const queueId = /"(ModelRegistryEventFailures[A-Za-z0-9]+)"/.exec(destination)?.[1];
    expect(queueId).toBeDefined();
    const alarms = ofType('AWS::CloudWatch::Alarm').filter(([, r]) =>
      JSON.stringify(r.Properties?.Dimensions).includes(queueId as string),
    );
    expect(alarms).toHaveLength(1);
    expect(alarms[0]?.[1].Properties).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
    });
  });

  it('lets the events function put events on the project bus only and write model cards only', () => {
    const statements = eventsPolicy();
    const put = statements.filter((s) => [s.Action].flat().includes('events:PutEvents'));
    expect(put).toHaveLength(1);
    expect(JSON.stringify(put[0]?.Resource)).toMatch(/EventBus[A-Za-z0-9]*","Arn"/);
    const s3 = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('s3:')));
    expect(s3.flatMap((s) => [s.Action].flat())).toEqual(['s3:PutObject']);
    expect(JSON.stringify(s3[0]?.Resource)).toMatch(/\/models\/\*\/versions\/\*\/model-card\.md"/);
    const table = statements
      .filter((s) => [s.Action].flat().some((a) => a.startsWith('dynamodb:')))
      .flatMap((s) => [s.Action].flat())
      .sort();
    // Stream reads (the event source mapping) and the card's GetItem and Query; no write.
    expect(
      table.filter((a) => !/^dynamodb:(DescribeStream|GetRecords|GetShardIterator|ListStreams)$/.test(a)),
    ).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
  });
});
