import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, type CfnElement, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV, retrainingAlarmName, TRACKING_ITEM } from '../../lambdas/shared/layout.js';
import {
  isTrained,
  type ModelConfigInput,
  modelConfigSchema,
  type TrainedModelConfig,
} from '../../lambdas/training/model-config.js';
import {
  DRIFT_INPUT_PATHS,
  driftAlarmPattern,
  driftInput,
  scheduleInput,
} from '../../lambdas/training/pipeline/triggers.js';
import { cdkJsonContext } from '../../lib/app.js';
import { Monitoring } from '../../lib/monitoring.js';
import { AcknowledgementAudit, acknowledge } from '../../lib/nag.js';
import { secureBucket } from '../../lib/secure-bucket.js';
import { RetrainingTriggers } from '../../lib/training-triggers.js';
import { alarmStateChange, atPath } from '../fixtures/aws-events.js';
import { NO_BUNDLING } from '../support/no-bundling.js';

function trained(input: Partial<ModelConfigInput> & { name: string }): TrainedModelConfig {
  const model = modelConfigSchema.parse({
    task: 'binary',
    label: 'outcome:defaulted',
    features: ['customer:income'],
    gates: {},
    ...input,
  });
  if (!isTrained(model)) throw new Error('fixture model is not trained');
  return model;
}

const churn = trained({
  name: 'churn',
  retraining: { schedule: 'rate(7 days)', newDataRows: 1000 },
});
const frozen = trained({ name: 'frozen', retraining: { onDrift: false } });

/** A stack with the triggers of `models`, each with a one-Pass-state pipeline, under cdk-nag. */
function triggerStack(models: TrainedModelConfig[]) {
  const app = new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'mlops-triggers-')),
    context: { ...cdkJsonContext(), ...NO_BUNDLING },
  });
  const stack = new Stack(app, 'TriggerStack');
  const offlineBucket = secureBucket(stack, 'Offline', { removalPolicy: RemovalPolicy.DESTROY });
  const trackingTable = new dynamodb.Table(stack, 'Tracking', {
    partitionKey: { name: TRACKING_ITEM.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: TRACKING_ITEM.sortKey, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
  });
  const pipelines = models.map((config) => ({
    config,
    stateMachine: new sfn.StateMachine(stack, `Pipeline-${config.name}`, {
      definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, `Train-${config.name}`)),
    }),
  }));
  // The stand-ins for the stack's bucket, table and pipelines are not under test.
  const standIn = { reason: 'Test stand-in for a resource the real stack configures.' };
  acknowledge(offlineBucket, { id: 'S1', ...standIn });
  acknowledge(trackingTable, { id: 'DDB3', ...standIn });
  for (const { stateMachine } of pipelines)
    acknowledge(
      stateMachine,
      { id: 'SF1', ...standIn },
      { id: 'SF2', ...standIn },
      { pack: 'Serverless', id: 'StepFunctionStateMachineXray', ...standIn },
    );
  const triggers = new RetrainingTriggers(stack, 'Retraining', {
    models: pipelines,
    offlineBucket,
    trackingTable,
    monitoring: new Monitoring(stack, 'Monitoring', { removalPolicy: RemovalPolicy.DESTROY }),
  });
  const ref = (construct: IConstruct | undefined) =>
    stack.getLogicalId(construct?.node.defaultChild as CfnElement);
  return { app, stack, triggers, pipelines, ref, offlineBucket };
}

describe('RetrainingTriggers', () => {
  let template: Template;
  let built: ReturnType<typeof triggerStack>;
  const smRef = (name: string) => {
    const pipeline = built.pipelines.find((p) => p.config.name === name);
    if (pipeline === undefined) throw new Error(`no pipeline ${name}`);
    return { Ref: built.ref(pipeline.stateMachine) };
  };

  beforeAll(() => {
    built = triggerStack([churn, frozen]);
    template = Template.fromStack(built.stack);
  });

  it("schedules the model's retraining with its expression as the reason", () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(7 days)',
      Targets: [
        Match.objectLike({
          Arn: smRef('churn'),
          Input: JSON.stringify(scheduleInput('rate(7 days)')),
          DeadLetterConfig: Match.anyValue(),
          RetryPolicy: Match.anyValue(),
        }),
      ],
    });
  });

  it("routes the model's drift alarms on the default bus, turning the alarm event into a drift trigger", () => {
    const rules = template.findResources('AWS::Events::Rule', {
      Properties: { EventPattern: driftAlarmPattern('TriggerStack', 'churn') },
    });
    const [rule] = Object.values(rules) as { Properties: Record<string, unknown> }[];
    expect(rule).toBeDefined();
    expect(rule?.Properties.EventBusName).toBeUndefined();
    const [target] = (rule?.Properties.Targets ?? []) as {
      Arn: unknown;
      InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: string };
    }[];
    expect(target?.Arn).toEqual(smRef('churn'));
    expect(Object.values(target?.InputTransformer.InputPathsMap ?? {}).sort()).toEqual(
      Object.values(DRIFT_INPUT_PATHS).sort(),
    );
    // EventBridge fills an unquoted placeholder with the selected value as JSON (a string quoted and escaped).
    const alarm = alarmStateChange(retrainingAlarmName('TriggerStack', 'churn', 'feature-psi'));
    const paths = target?.InputTransformer.InputPathsMap ?? {};
    const filled = (target?.InputTransformer.InputTemplate ?? '').replace(/<([^>]+)>/g, (_, name: string) =>
      JSON.stringify(atPath(alarm, paths[name] ?? '$.missing')),
    );
    expect(JSON.parse(filled)).toEqual(
      driftInput({
        alarmName: 'TriggerStack/churn/retrain/feature-psi',
        reason: alarm.detail.state.reason,
        start: alarm.detail.previousState.timestamp,
        end: alarm.detail.state.timestamp,
      }),
    );
  });

  it("routes the watched views' ingestion-log entries to the one new-data function", () => {
    const fn = built.triggers.newDataFunction;
    expect(fn).toBeDefined();
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [{ Ref: built.ref(built.offlineBucket) }] },
          object: { key: [{ prefix: 'ingestion-log/customer/' }, { prefix: 'ingestion-log/outcome/' }] },
        },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [built.ref(fn), 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [ENV.trainingPipelines]: Match.anyValue(),
          [ENV.trackingTable]: Match.anyValue(),
          [ENV.offlineBucket]: Match.anyValue(),
        }),
      },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [built.ref(built.triggers.failures), 'Arn'] } },
      },
    });
  });

  it("lets the function start only the watching models' pipelines, read only their views' manifests and write only items", () => {
    const role = built.triggers.newDataFunction?.executionRole;
    const policies = template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: built.ref(role) }] },
    });
    const statements = Object.values(policies).flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: unknown[] } } }).Properties.PolicyDocument
          .Statement,
    ) as { Action: string | string[]; Resource: unknown }[];
    const text = JSON.stringify(statements);
    expect(text).toContain('states:StartExecution');
    expect(text).toContain(`"Ref":"${smRef('churn').Ref}"`);
    expect(text).not.toContain(smRef('frozen').Ref);
    expect(text).toContain('/ingestion/customer/*.json');
    expect(text).toContain('/ingestion/outcome/*.json');
    expect(text).not.toContain('s3:PutObject');
    const dynamo = statements.find((s) => JSON.stringify(s.Action).includes('dynamodb:'));
    expect([dynamo?.Action].flat().sort()).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
  });

  it('alarms on the failure queue', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [built.ref(built.triggers.failures), 'QueueName'] } },
      ],
    });
  });

  it('gives a model without triggers no rule', () => {
    const targets = JSON.stringify(template.findResources('AWS::Events::Rule'));
    expect(targets).not.toContain(smRef('frozen').Ref);
    expect(built.triggers.rules.get('frozen')).toEqual({});
  });

  it('makes no rule, function or grant when no model has a trigger', () => {
    const none = Template.fromStack(triggerStack([frozen]).stack);
    none.resourceCountIs('AWS::Events::Rule', 0);
    none.resourceCountIs('AWS::Lambda::Function', 0);
  });

  it('leaves a cdk-nag-checked app clean', () => {
    const { app } = triggerStack([churn, frozen]);
    Validations.of(app).addPlugins(
      new AwsSolutionsChecks(app, { verbose: true }),
      new ServerlessChecks(app, { verbose: true }),
      new AcknowledgementAudit(),
    );
    expect(() => app.synth()).not.toThrow();
  });
});
