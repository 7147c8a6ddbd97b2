/**
 * The scheduled A/B experiment check (lib/experiment-check.ts) in the synthesized template: the
 * function with the served models' deployment workflows in its environment, the schedule at the
 * configured rate, StartExecution on those state machines only, DynamoDB actions only under the
 * served models' and the experiments' partitions, and failures in an alarmed queue. Synthesis runs
 * cdk-nag and the acknowledgement audit.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV, experimentPk, modelPk } from '../../lambdas/shared/layout.js';
import { buildApp, cdkJsonContext } from '../../lib/app.js';
import type { MlopsStack } from '../../lib/mlops-stack.js';
import { trainingModels, trainingViews } from '../fixtures/training.js';
import { NO_BUNDLING } from '../support/no-bundling.js';

type Resource = { Type: string; Properties?: Record<string, unknown> };

const churn = trainingModels.find((m) => m.name === 'churn');
const models = [churn, { name: 'scorer', gates: {} }];

function synth(config: Record<string, unknown>): { stack: MlopsStack; resources: Record<string, Resource> } {
  const app = new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'mlops-expcheck-')),
    context: { ...cdkJsonContext(), ...NO_BUNDLING },
  });
  const { stack } = buildApp(app, { featureViews: trainingViews, models, ...config });
  const json = app.synth().getStackByName(stack.stackName).template as {
    Resources: Record<string, Resource>;
  };
  return { stack, resources: json.Resources };
}

let stack: MlopsStack;
let resources: Record<string, Resource>;
const text = (value: unknown) => JSON.stringify(value) ?? '';
const logicalId = (construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId((construct.node.defaultChild ?? construct) as never);

beforeAll(() => {
  ({ stack, resources } = synth({ experiments: { checkEveryMinutes: 10 } }));
});

describe('ExperimentCheck', () => {
  it('runs the experiment-check function on the configured schedule, failures to an alarmed queue', () => {
    const check = stack.experimentCheck;
    expect(check).toBeDefined();
    const rules = Object.values(resources).filter(
      (r) => r.Type === 'AWS::Events::Rule' && r.Properties?.ScheduleExpression === 'rate(10 minutes)',
    );
    expect(rules).toHaveLength(1);
    const target = (
      ((rules[0] as Resource).Properties as Record<string, unknown>).Targets as {
        Arn: unknown;
        DeadLetterConfig?: unknown;
      }[]
    )[0];
    expect(text(target?.Arn)).toContain(logicalId(check?.function as never));
    expect(text(target?.DeadLetterConfig)).toContain(logicalId(check?.failures as never));
    const fn = resources[logicalId(check?.function as never)];
    const env = (
      ((fn as Resource).Properties as Record<string, unknown>).Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    expect(env[ENV.registryTable]).toBeDefined();
    const workflows = text(env[ENV.deploymentWorkflows]);
    for (const w of stack.deployments?.workflows.values() ?? [])
      expect(workflows).toContain(logicalId(w.stateMachine as never));
    expect(text(fn?.Properties?.DestinationConfig ?? resources)).toContain(
      logicalId(check?.failures as never),
    );
    // The failure queue's depth alarms.
    const alarm = resources[logicalId(check?.failuresAlarm as never)];
    expect(alarm?.Type).toBe('AWS::CloudWatch::Alarm');
    expect(text(alarm?.Properties?.Dimensions)).toContain(logicalId(check?.failures as never));
  });

  it('defaults to every 15 minutes', () => {
    const { resources: defaults } = synth({});
    const rates = Object.values(defaults)
      .filter((r) => r.Type === 'AWS::Events::Rule')
      .map((r) => r.Properties?.ScheduleExpression);
    expect(rates).toContain('rate(15 minutes)');
  });

  it('may start only the deployment workflows and touch only the models’ and experiments’ items', () => {
    const check = stack.experimentCheck;
    const role = logicalId(check?.function.role as never);
    const statements = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && text(r.Properties?.Roles).includes(role))
      .flatMap(
        (r) =>
          (
            (r.Properties as Record<string, unknown>).PolicyDocument as {
              Statement: { Action: string | string[]; Resource: unknown; Condition?: unknown }[];
            }
          ).Statement,
      );
    const actions = (s: { Action: string | string[] }) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
    const start = statements.filter((s) => actions(s).includes('states:StartExecution'));
    expect(start).toHaveLength(1);
    const machines = [...(stack.deployments?.workflows.values() ?? [])].map((w) =>
      logicalId(w.stateMachine as never),
    );
    expect(machines).toHaveLength(2);
    const resourcesOfStart = text(start[0]?.Resource);
    for (const m of machines) expect(resourcesOfStart).toContain(m);
    // No other state machine (training pipelines) may be started.
    const otherMachines = Object.entries(resources)
      .filter(([id, r]) => r.Type === 'AWS::StepFunctions::StateMachine' && !machines.includes(id))
      .map(([id]) => id);
    expect(otherMachines.length).toBeGreaterThan(0);
    for (const other of otherMachines) expect(resourcesOfStart).not.toContain(other);

    const dynamo = statements.filter((s) => actions(s).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo.flatMap(actions).sort()).toEqual([
      'dynamodb:GetItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    for (const s of dynamo)
      expect(s.Condition).toEqual({
        'ForAllValues:StringLike': {
          'dynamodb:LeadingKeys': [modelPk('churn'), modelPk('scorer'), experimentPk('*')],
        },
      });
  });

  it('is absent when no model is served', () => {
    const { stack: unserved } = synth({ serving: { models: [] } });
    expect(unserved.experimentCheck).toBeUndefined();
  });
});
