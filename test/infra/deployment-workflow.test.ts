/**
 * The deployment (canary) workflows (issue 12, item 1) in the synthesized template: one Standard
 * state machine per served model with the canary's states, its target baked in (function, alias,
 * configuration, the model's serving alarms), the step function's least-privilege grants (alias
 * and version operations on the inference functions only), a failure alarm, and the output the CLI
 * reads. Synthesis runs cdk-nag and the acknowledgement audit.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV, SERVING_ALIAS } from '../../lambdas/shared/layout.js';
import { buildApp, cdkJsonContext } from '../../lib/app.js';
import type { MlopsStack } from '../../lib/mlops-stack.js';
import { STACK_JSON_OUTPUTS } from '../../lib/stack-outputs.js';
import { trainingModels, trainingViews } from '../fixtures/training.js';
import { NO_BUNDLING } from '../support/no-bundling.js';

type Resource = { Type: string; Properties?: Record<string, unknown> };

const churn = trainingModels.find((m) => m.name === 'churn');
const models = [churn, { name: 'scorer', gates: {} }];

let stack: MlopsStack;
let resources: Record<string, Resource>;
let outputs: Record<string, { Value: unknown }>;
let template: Template;

beforeAll(() => {
  const app = new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'mlops-deploy-')),
    context: { ...cdkJsonContext(), ...NO_BUNDLING },
  });
  ({ stack } = buildApp(app, {
    featureViews: trainingViews,
    models,
    deployment: { steps: [5, 25, 100], bakeSeconds: 120, alarms: ['team-slo'] },
  }));
  const json = app.synth().getStackByName(stack.stackName).template as {
    Resources: Record<string, Resource>;
    Outputs: Record<string, { Value: unknown }>;
  };
  resources = json.Resources;
  outputs = json.Outputs;
  template = Template.fromJSON(json);
});

const text = (value: unknown) => JSON.stringify(value) ?? '';
const machines = () => Object.values(resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
const deploymentMachines = () =>
  machines().filter((m) => text(m.Properties).includes('canary on its live alias'));

describe('DeploymentWorkflows', () => {
  it('creates one Standard state machine per served model, with the canary’s states', () => {
    expect(deploymentMachines()).toHaveLength(2);
    for (const machine of deploymentMachines()) {
      const definition = text(machine.Properties?.DefinitionString);
      for (const state of [
        'Target',
        'Start',
        'Shift',
        'Bake',
        'Analyze',
        'Verdict',
        'Promote',
        'Rollback',
        'RolledBack',
        'CheckApproval',
        'RecordFailure',
      ])
        expect(definition).toContain(`\\"${state}\\"`);
      expect(definition).toContain('\\"SecondsPath\\":\\"$.target.config.bakeSeconds\\"');
    }
  });

  it('bakes the target in: the model’s function and alias, the configuration, its serving alarms and the configured ones', () => {
    const workflows = stack.deployments?.workflows;
    expect([...(workflows?.keys() ?? [])].sort()).toEqual(['churn', 'scorer']);
    const churnMachine = deploymentMachines().find((m) => text(m.Properties).includes('model churn'));
    const definition = text(churnMachine?.Properties?.DefinitionString);
    expect(definition).toContain(`\\"alias\\":\\"${SERVING_ALIAS}\\"`);
    expect(definition).toContain('\\"steps\\":[5,25,100]');
    expect(definition).toContain('\\"bakeSeconds\\":120');
    expect(definition).toContain('team-slo');
    // The model's serving alarms by reference (their physical names resolve at deploy time).
    const alarmRefs = (stack.inference?.servingAlarms.get('churn') ?? []).map((a) =>
      stack.resolve(a.alarmName),
    );
    expect(alarmRefs).toHaveLength(3);
    for (const ref of alarmRefs)
      expect(text(churnMachine?.Properties?.DefinitionString)).toContain(text(ref).slice(1, -1));
  });

  it('lets the step function change only the inference functions’ aliases and versions', () => {
    const policies = Object.values(resources).filter(
      (r) => r.Type === 'AWS::IAM::Policy' && text(r.Properties).includes('lambda:UpdateAlias'),
    );
    expect(policies).toHaveLength(1);
    const document = policies[0]?.Properties?.PolicyDocument as
      | { Statement: { Action: string[]; Resource: unknown }[] }
      | undefined;
    const statement = document?.Statement.find((s) => text(s.Action).includes('lambda:UpdateAlias'));
    expect([...(statement?.Action ?? [])].sort()).toEqual([
      'lambda:GetAlias',
      'lambda:GetFunctionConfiguration',
      'lambda:PublishVersion',
      'lambda:UpdateAlias',
      'lambda:UpdateFunctionConfiguration',
    ]);
    const targets = text(statement?.Resource);
    expect(targets).toContain('InferenceModelchurnPredict');
    expect(targets).toContain('InferenceModelscorerPredict');
    expect(targets).not.toContain('"*"');
  });

  it('gives the step function the registry table, the namespace and the capture bucket', () => {
    const step = Object.values(resources).find(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        String(r.Properties?.Description ?? '').startsWith('Deployment workflow steps'),
    );
    const environment = step?.Properties?.Environment as { Variables: Record<string, unknown> } | undefined;
    const variables = environment?.Variables ?? {};
    expect(Object.keys(variables)).toEqual(
      expect.arrayContaining([
        ENV.registryTable,
        ENV.artifactBucket,
        ENV.captureBucket,
        ENV.metricsNamespace,
      ]),
    );
  });

  it('alarms on a failed, rolled-back or timed-out deployment', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmDescription: 'A deployment of churn failed, was rolled back or timed out (see its execution)',
    });
  });

  it('starts the workflow on a registry promotion to Production, except its own, with a dead-letter queue', () => {
    const rule = Object.values(resources).find(
      (r) =>
        r.Type === 'AWS::Events::Rule' && String(r.Properties?.Description ?? '').startsWith('Deploys churn'),
    );
    const pattern = rule?.Properties?.EventPattern as {
      detail: Record<string, unknown>;
      'detail-type': string[];
    };
    expect(pattern['detail-type']).toEqual(['ModelStageChanged']);
    expect(pattern.detail.modelName).toEqual(['churn']);
    expect(pattern.detail.to).toEqual(['Production']);
    expect(text(pattern.detail.by)).toContain('anything-but');
    expect(text(pattern.detail.by)).toContain(':execution:');
    const target = (rule?.Properties?.Targets as Record<string, unknown>[] | undefined)?.[0];
    expect(text(target?.InputTransformer)).toContain('$.detail.version');
    expect(target?.DeadLetterConfig).toBeDefined();
  });

  it('cleans up after an aborted, timed-out or failed execution: the fail step, asynchronously, with a failure queue', () => {
    const rule = Object.values(resources).find(
      (r) =>
        r.Type === 'AWS::Events::Rule' &&
        String(r.Properties?.Description ?? '').startsWith("Releases churn's deployment"),
    );
    const pattern = rule?.Properties?.EventPattern as
      | { source: string[]; detail: Record<string, unknown> }
      | undefined;
    expect(pattern?.source).toEqual(['aws.states']);
    expect(pattern?.detail.status).toEqual(['ABORTED', 'TIMED_OUT', 'FAILED']);
    const target = (rule?.Properties?.Targets as Record<string, unknown>[] | undefined)?.[0];
    expect(text(target?.InputTransformer)).toContain('\\"action\\":\\"fail\\"');
    expect(text(target?.InputTransformer)).toContain('$.detail.executionArn');
    expect(target?.DeadLetterConfig).toBeDefined();
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: {
        Ref: Object.keys(resources).find(
          (id) => id.startsWith('DeploymentStep') && resources[id]?.Type === 'AWS::Lambda::Function',
        ),
      },
    });
  });

  it('names each model’s workflow in the DeploymentWorkflowArns output', () => {
    const output = outputs[STACK_JSON_OUTPUTS.deploymentWorkflows];
    expect(text(output?.Value)).toContain('churn');
    expect(text(output?.Value)).toContain('scorer');
  });
});
