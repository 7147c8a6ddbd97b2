import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { TRACKING_ITEM } from '../../lambdas/shared/layout.js';
import { buildApp, cdkJsonContext } from '../../lib/app.js';
import { ModelRegistry } from '../../lib/model-registry.js';
import { Monitoring } from '../../lib/monitoring.js';
import { STACK_OUTPUTS } from '../../lib/stack-outputs.js';
import { NO_BUNDLING } from '../support/no-bundling.js';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;
interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Effect: string;
}

let resources: Resources;
let template: { Resources: Resources; Outputs?: Record<string, unknown> };

beforeAll(() => {
  const app = new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'mlops-registry-')),
    context: { ...cdkJsonContext(), ...NO_BUNDLING },
  });
  const { stack } = buildApp(app);
  // Synthesis runs cdk-nag: an acknowledgement without its finding, or a finding without one, fails here.
  template = app.synth().getStackByName(stack.stackName).template as typeof template;
  resources = template.Resources;
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
    // and HeadObject/GetObject on the artifact (both authorized by s3:GetObject; reading the headed
    // version by VersionId needs s3:GetObjectVersion).
    // Plus GetItem (the run exists) and UpdateItem (its registeredVersions) on the tracking table.
    expect(actions).toEqual([
      'dynamodb:GetItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:UpdateItem',
      's3:GetObject',
      's3:GetObjectVersion',
    ]);
    const s3 = statements.find((s) => [s.Action].flat().includes('s3:GetObject'));
    expect(JSON.stringify(s3?.Resource)).toMatch(/\/models\/\*"/);
    const link = statements.find((s) => JSON.stringify(s.Resource).includes('ModelRegistryTrackingTable'));
    expect([link?.Action].flat().sort()).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    expect(JSON.stringify(link?.Resource)).not.toContain('index');
  });

  it('gives the get function only GetItem on the registry table', () => {
    const { actions } = dataStatements('ModelRegistryGetModelVersionRoleDefaultPolicy');
    expect(actions).toEqual(['dynamodb:GetItem']);
  });

  it('gives the transition function only the item reads and writes a transition makes', () => {
    const { actions } = dataStatements('ModelRegistryTransitionModelStageRoleDefaultPolicy');
    // Get (version, head); TransactWriteItems of Updates (version, head, archived predecessor), Puts
    // (history, new stage index item) and a Delete (old stage index item).
    expect(actions).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
  });

  it('gives the set-alias function only the item reads and writes an alias move makes', () => {
    const { actions } = dataStatements('ModelRegistrySetModelAliasRoleDefaultPolicy');
    // ConditionCheckItem: the move's transaction checks the target version exists (moto does not
    // enforce IAM, so without this action only real DynamoDB refuses every alias move).
    expect(actions).toEqual([
      'dynamodb:ConditionCheckItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
  });

  it('scopes every registry function to the registry table alone', () => {
    for (const prefix of ['TransitionModelStage', 'SetModelAlias', 'GetModelVersion']) {
      const { statements } = dataStatements(`ModelRegistry${prefix}RoleDefaultPolicy`);
      expect(JSON.stringify(statements.map((s) => s.Resource)), prefix).toMatch(/ModelRegistryTable/);
      expect(JSON.stringify(statements.map((s) => s.Resource)), prefix).not.toMatch(/FeatureStore|Artifacts/);
    }
  });
});

describe('registry workflow wiring', () => {
  it('passes the execution ARN to the register task, merged over the request', () => {
    const machine = Object.values(resources).find((r) => r.Type === 'AWS::StepFunctions::StateMachine');
    const definition = JSON.stringify(machine?.Properties?.DefinitionString);
    expect(definition).toContain('\\"invocation\\":{\\"execution.$\\":\\"$$.Execution.Id\\"}');
    expect(definition).toContain(
      'States.JsonMerge(States.JsonMerge($.defaults, $.request, false), $.invocation, false)',
    );
  });
});

describe('stack outputs', () => {
  it('names the registry table and artifact bucket for the CLI', () => {
    const outputs = Object.keys(template.Outputs ?? {});
    expect(outputs).toEqual(
      expect.arrayContaining([STACK_OUTPUTS.registryTable, STACK_OUTPUTS.artifactBucket]),
    );
  });
});

describe('tracking table', () => {
  const tracking = () =>
    Object.entries(resources).filter(
      ([id, r]) => id.startsWith('ModelRegistryTrackingTable') && r.Type === 'AWS::DynamoDB::Table',
    );

  it('is pay-per-request, encrypted, recoverable, with the three sparse indexes the store queries', () => {
    expect(tracking()).toHaveLength(1);
    const props = tracking()[0]?.[1].Properties as Record<string, unknown>;
    expect(props).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      KeySchema: [
        { AttributeName: TRACKING_ITEM.partitionKey, KeyType: 'HASH' },
        { AttributeName: TRACKING_ITEM.sortKey, KeyType: 'RANGE' },
      ],
    });
    const indexes = (
      props.GlobalSecondaryIndexes as { IndexName: string; KeySchema: { AttributeName: string }[] }[]
    ).map((i) => [i.IndexName, ...i.KeySchema.map((k) => k.AttributeName)]);
    expect(indexes).toEqual([
      [TRACKING_ITEM.experimentIndex, TRACKING_ITEM.experimentKey, TRACKING_ITEM.startKey],
      [TRACKING_ITEM.statusIndex, TRACKING_ITEM.statusKey, TRACKING_ITEM.startKey],
      [TRACKING_ITEM.metricIndex, TRACKING_ITEM.metricKey, TRACKING_ITEM.metricSort],
    ]);
  });

  it('grants trackers item writes and run artifacts, readers gets and queries, nothing more', () => {
    const stack = new Stack(new App(), 'Grants');
    const registry = new ModelRegistry(stack, 'Registry', {
      accessLogsBucket: new s3.Bucket(stack, 'Logs'),
      removalPolicy: RemovalPolicy.DESTROY,
      logRetention: logs.RetentionDays.ONE_WEEK,
      eventBus: new events.EventBus(stack, 'Bus'),
      monitoring: new Monitoring(stack, 'Monitoring', { removalPolicy: RemovalPolicy.DESTROY }),
    });
    const tracker = new iam.Role(stack, 'Tracker', { assumedBy: new iam.AccountRootPrincipal() });
    const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    registry.grantTrack(tracker);
    registry.grantReadTracking(reader);
    const template = Template.fromStack(stack);
    const policy = (prefix: string) => {
      const found = Object.entries(template.findResources('AWS::IAM::Policy')).find(([id]) =>
        id.startsWith(prefix),
      );
      return JSON.stringify(found?.[1]);
    };
    const track = policy('TrackerDefaultPolicy');
    for (const action of ['ConditionCheckItem', 'GetItem', 'PutItem', 'Query', 'UpdateItem'])
      expect(track).toContain(`dynamodb:${action}`);
    expect(track).not.toMatch(/dynamodb:(Scan|DeleteItem|BatchWriteItem)/);
    expect(track).toMatch(/\/runs\/\*"/);
    expect(track).not.toMatch(/\/models\/\*"/);
    const read = policy('ReaderDefaultPolicy');
    expect(read).toMatch(/dynamodb:BatchGetItem/);
    expect(read).not.toMatch(/dynamodb:(Scan|PutItem|UpdateItem|DeleteItem)/);
    expect(read).toMatch(/\/index\/\*/);
    expect(read).not.toMatch(/s3:PutObject/);
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
      JSON.stringify(r.Properties?.Dimensions ?? []).includes(queueId as string),
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
