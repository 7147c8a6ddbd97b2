/**
 * The local event router: target input shaping as the EventBridge User Guide documents it
 * ("Transforming target input"), and delivery of the evaluator's alarm events to the synthesized
 * stack's own drift rule (pattern and input transformer read from the assembly, put on a bus of
 * this test's own in the emulator): an alarm named with layout.ts `retrainingAlarmName` entering
 * ALARM reaches the training state machine's callback with exactly `driftInput(...)`, and the
 * rule's SQS target through the emulator's SendMessage.
 */
import { randomUUID } from 'node:crypto';
import { PutMetricAlarmCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateEventBusCommand,
  DisableRuleCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { clients } from '../../lambdas/shared/clients.js';
import { retrainingAlarmName } from '../../lambdas/shared/layout.js';
import { driftInput } from '../../lambdas/training/pipeline/triggers.js';
import { evaluateAlarmsOnce } from '../../local/alarm-evaluator.js';
import { loadAssembly, stackOf } from '../../local/assembly.js';
import { type Deliver, EventRoutingError, routeEvent, targetInput } from '../../local/event-router.js';
import { CLOUDWATCH_ALARM_STATE_CHANGE } from '../fixtures/aws-events.js';

const RULE = { name: 'r', arn: 'arn:aws:events:us-east-1:123456789012:rule/r' };

describe('target input, as EventBridge documents it', () => {
  const event = {
    ...CLOUDWATCH_ALARM_STATE_CHANGE,
    detail: { ...CLOUDWATCH_ALARM_STATE_CHANGE.detail, 'instance-id': 'i-0123456789', note: 'say "hi"' },
  };

  it('passes a constant Input as written', () => {
    expect(targetInput({ Input: '{"fixed":true}' }, event, RULE)).toBe('{"fixed":true}');
  });

  it('sends the value at InputPath as JSON, and the whole event with neither', () => {
    expect(JSON.parse(targetInput({ InputPath: '$.detail.state' }, event, RULE))).toEqual(event.detail.state);
    expect(JSON.parse(targetInput({}, event, RULE))).toEqual(event);
  });

  it('fills a JSON template: a bare variable becomes its JSON, one inside quotes its escaped text', () => {
    const input = targetInput(
      {
        InputTransformer: {
          InputPathsMap: { instance: '$.detail.instance-id', state: '$.detail.state', note: '$.detail.note' },
          InputTemplate: '{"instance": <instance>, "state": <state>, "said": "<note>", "missing": <nope>}',
        },
      },
      event,
      RULE,
    );
    expect(JSON.parse(input.replace('<nope>', 'null'))).toEqual({
      instance: 'i-0123456789',
      state: event.detail.state,
      said: 'say "hi"',
      missing: null,
    });
  });

  it('fills a string template and the reserved rule and event variables', () => {
    const input = targetInput(
      {
        InputTransformer: {
          InputPathsMap: { instance: '$.detail.instance-id' },
          InputTemplate:
            '"instance <instance> matched <aws.events.rule-name> at <aws.events.event.ingestion-time>"',
        },
      },
      event,
      RULE,
    );
    expect(JSON.parse(input)).toBe(`instance i-0123456789 matched r at ${event.time}`);
  });
});

/** The synthesized drift rule: its pattern, its transformer and the model it retrains. */
function driftRuleOfAssembly() {
  const { template } = stackOf(loadAssembly(inject('assemblyDir')));
  const rules = Object.values(template.Resources).filter(
    (r) =>
      r.Type === 'AWS::Events::Rule' &&
      JSON.stringify(r.Properties?.EventPattern ?? {}).includes('CloudWatch Alarm State Change'),
  );
  const [rule] = rules;
  if (rule === undefined) throw new Error('the assembly has no drift rule');
  const pattern = rule.Properties?.EventPattern as { detail: { alarmName: { prefix: string }[] } };
  const [target] = (rule.Properties?.Targets ?? []) as {
    InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: string };
  }[];
  if (target === undefined) throw new Error('the drift rule has no target');
  const prefix = pattern.detail.alarmName[0]?.prefix ?? '';
  const [stackName, model] = prefix.split('/') as [string, string];
  return { pattern, transformer: target.InputTransformer, stackName, model };
}

describe("alarm state-change events through the stack's drift rule", () => {
  const bus = `alarm-router-${randomUUID()}`;
  const stateMachineArn = 'arn:aws:states:us-east-1:123456789012:stateMachine:Training-test';
  let queueUrl: string;
  let queueArn: string;
  let drift: ReturnType<typeof driftRuleOfAssembly>;

  beforeAll(async () => {
    drift = driftRuleOfAssembly();
    const eventbridge = clients.eventbridge();
    await eventbridge.send(new CreateEventBusCommand({ Name: bus }));
    const queue = await clients
      .sqs()
      .send(new CreateQueueCommand({ QueueName: `alarm-router-${randomUUID()}` }));
    queueUrl = queue.QueueUrl ?? '';
    const attributes = await clients
      .sqs()
      .send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    queueArn = attributes.Attributes?.QueueArn ?? '';
    await eventbridge.send(
      new PutRuleCommand({ Name: 'drift', EventBusName: bus, EventPattern: JSON.stringify(drift.pattern) }),
    );
    await eventbridge.send(
      new PutTargetsCommand({
        Rule: 'drift',
        EventBusName: bus,
        Targets: [
          { Id: 'training', Arn: stateMachineArn, InputTransformer: drift.transformer },
          { Id: 'queue', Arn: queueArn },
        ],
      }),
    );
    // Would throw (no lambda delivery given) if it matched: it matches no alarm event.
    await eventbridge.send(
      new PutRuleCommand({
        Name: 'other',
        EventBusName: bus,
        EventPattern: JSON.stringify({ source: ['aws.s3'] }),
      }),
    );
    await eventbridge.send(
      new PutTargetsCommand({
        Rule: 'other',
        EventBusName: bus,
        Targets: [{ Id: 'fn', Arn: 'arn:aws:lambda:us-east-1:123456789012:function:other' }],
      }),
    );
  });

  it('starts training with exactly the drift input when the evaluator puts a retraining alarm in ALARM', async () => {
    const namespace = `AlarmRouter/${randomUUID()}`;
    const alarmName = retrainingAlarmName(drift.stackName, drift.model, `psi-${randomUUID().slice(0, 8)}`);
    const now = Math.floor(Date.now() / 60_000) * 60_000 + 10_000;
    await clients.cloudwatch().send(
      new PutMetricAlarmCommand({
        AlarmName: alarmName,
        Namespace: namespace,
        MetricName: 'FeaturePsi',
        Statistic: 'Maximum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 0.2,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    );
    await clients.cloudwatch().send(
      new PutMetricDataCommand({
        Namespace: namespace,
        MetricData: [{ MetricName: 'FeaturePsi', Value: 0.35, Timestamp: new Date(now - 65_000) }],
      }),
    );
    const [change] = await evaluateAlarmsOnce(now, { alarmNames: [alarmName] });
    if (change === undefined) throw new Error('the alarm did not change state');
    const started: [string, string][] = [];
    const states: Deliver = async (arn, input) => {
      started.push([arn, input]);
    };

    const delivered = await routeEvent({ ...change.event }, { eventBusName: bus, deliveries: { states } });

    expect(delivered.map((d) => [d.rule, d.target])).toEqual([
      ['drift', 'training'],
      ['drift', 'queue'],
    ]);
    const { detail } = change.event;
    expect(started).toHaveLength(1);
    expect(started[0]?.[0]).toBe(stateMachineArn);
    expect(JSON.parse(started[0]?.[1] ?? '')).toEqual(
      driftInput({
        alarmName,
        reason: detail.state.reason,
        start: detail.previousState.timestamp,
        end: detail.state.timestamp,
      }),
    );
    const { Messages = [] } = await clients
      .sqs()
      .send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect(Messages.map((m) => JSON.parse(m.Body ?? '{}').detail.alarmName)).toEqual([alarmName]);
  });

  it("does not deliver another model's alarm, an alarm returning to OK, or through a disabled rule", async () => {
    const states: Deliver = async () => {
      throw new Error('nothing should be delivered');
    };
    const base = change('ALARM', retrainingAlarmName(drift.stackName, `${drift.model}-v2`, 'psi'));
    expect(await routeEvent(base, { eventBusName: bus, deliveries: { states } })).toEqual([]);
    const ok = change('OK', retrainingAlarmName(drift.stackName, drift.model, 'psi'));
    expect(await routeEvent(ok, { eventBusName: bus, deliveries: { states } })).toEqual([]);
  });

  it('refuses a matching target whose service has no delivery, naming rule and service', async () => {
    const event = change('ALARM', retrainingAlarmName(drift.stackName, drift.model, 'psi'));
    await expect(routeEvent(event, { eventBusName: bus })).rejects.toThrow(EventRoutingError);
    await expect(routeEvent(event, { eventBusName: bus })).rejects.toThrow(/drift.*states/);
  });

  it('skips a disabled rule', async () => {
    const eventbridge = clients.eventbridge();
    const other = `alarm-router-${randomUUID()}`;
    await eventbridge.send(new CreateEventBusCommand({ Name: other }));
    await eventbridge.send(
      new PutRuleCommand({ Name: 'drift', EventBusName: other, EventPattern: JSON.stringify(drift.pattern) }),
    );
    await eventbridge.send(
      new PutTargetsCommand({
        Rule: 'drift',
        EventBusName: other,
        Targets: [{ Id: 't', Arn: 'arn:aws:states:us-east-1:123456789012:stateMachine:x' }],
      }),
    );
    await eventbridge.send(new DisableRuleCommand({ Name: 'drift', EventBusName: other }));
    const event = change('ALARM', retrainingAlarmName(drift.stackName, drift.model, 'psi'));
    expect(await routeEvent(event, { eventBusName: other })).toEqual([]);
  });
});

/** The documented event for `alarmName` entering `value` from the other state. */
function change(value: 'ALARM' | 'OK', alarmName: string) {
  const { state, previousState } = CLOUDWATCH_ALARM_STATE_CHANGE.detail;
  return {
    ...CLOUDWATCH_ALARM_STATE_CHANGE,
    resources: [`arn:aws:cloudwatch:us-east-1:123456789012:alarm:${alarmName}`],
    detail: {
      ...CLOUDWATCH_ALARM_STATE_CHANGE.detail,
      alarmName,
      ...(value === 'ALARM' ? {} : { state: { ...previousState }, previousState: { ...state } }),
    },
  };
}
