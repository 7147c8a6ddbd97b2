import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { NON_RETRYABLE_ERRORS } from '../../lambdas/training/pipeline/contract.js';
import { buildApp, cdkJsonContext } from '../../lib/app.js';
import { STACK_JSON_OUTPUTS } from '../../lib/stack-outputs.js';
import { forEachState } from '../../local/asl-guard.js';
import { trainingModels, trainingViews } from '../fixtures/training.js';
import { NO_BUNDLING } from '../support/no-bundling.js';

type Resource = { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> };
type Json = Record<string, unknown>;

let resources: Record<string, Resource>;
let outputs: Record<string, { Value: unknown }>;

beforeAll(() => {
  const app = new App({
    outdir: mkdtempSync(path.join(tmpdir(), 'mlops-training-')),
    context: {
      ...cdkJsonContext(),
      ...NO_BUNDLING,
      'aws:cdk:enable-path-metadata': true,
      mlops: {
        featureViews: trainingViews,
        // A registry-only model beside the trained ones: it gets no pipeline.
        models: [...trainingModels, { name: 'outside', gates: {} }],
      },
    },
  });
  const { stack } = buildApp(app);
  // Synthesis runs cdk-nag: an acknowledgement without its finding, or a finding without one, fails here.
  const template = app.synth().getStackByName(stack.stackName).template as {
    Resources: Record<string, Resource>;
    Outputs: Record<string, { Value: unknown }>;
  };
  resources = template.Resources;
  outputs = template.Outputs;
});

const pathOf = (r: Resource) => String(r.Metadata?.['aws:cdk:path'] ?? '');

/** The definition with its `Fn::Join` parts flattened to text (ARNs left as tokens). */
function definitionOf(resource: Resource): Json {
  const body = resource.Properties?.DefinitionString as { 'Fn::Join': [string, unknown[]] } | string;
  const text =
    typeof body === 'string'
      ? body
      : body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'TOKEN')).join('');
  return JSON.parse(text) as Json;
}

function machines(): [string, Resource][] {
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::StepFunctions::StateMachine' && pathOf(r).includes('/Training/'))
    .map((r) => [/Pipeline-([a-z0-9-]+)\//.exec(pathOf(r))?.[1] ?? '', r]);
}

describe('training pipelines (synthesized)', () => {
  it('gives each trained model one state machine, and registry-only models none', () => {
    expect(
      machines()
        .map(([name]) => name)
        .sort(),
    ).toEqual(['churn', 'churn-gbdt', 'churn-sm', 'churn-strict']);
    const value = outputs[STACK_JSON_OUTPUTS.trainingPipelines]?.Value as { 'Fn::Join': [string, unknown[]] };
    const output = JSON.parse(
      value['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : 'ARN')).join(''),
    ) as Record<string, string>;
    expect(output).toEqual({ churn: 'ARN', 'churn-gbdt': 'ARN', 'churn-sm': 'ARN', 'churn-strict': 'ARN' });
  });

  it('retries every task except on bad input, and catches every failure into RecordFailure', () => {
    for (const [name, resource] of machines()) {
      const definition = definitionOf(resource);
      const topLevel = definition.States as Json;
      forEachState(definition, (stateName, state, where) => {
        if (state.Type !== 'Task') return;
        const inMap = !(stateName in topLevel);
        const catches = (state.Catch as { ErrorEquals: string[]; Next: string }[]) ?? [];
        if (!inMap && stateName !== 'RecordFailure') {
          // A lost answer of a committed stage move: read back before calling it a failure.
          const first =
            stateName === 'TransitionToStaging'
              ? [{ ErrorEquals: ['ConflictError'], Next: 'ReadBackStage', ResultPath: '$.error' }]
              : [];
          expect(catches, `${name}/${stateName}`).toEqual([
            ...first,
            { ErrorEquals: ['States.ALL'], Next: 'RecordFailure', ResultPath: '$.error' },
          ]);
        }
        // A SageMaker job name is used once: a retried CreateTrainingJob would be refused.
        if (stateName === 'SagemakerTraining') return expect(state.Retry).toBeUndefined();
        const retry = (state.Retry as { ErrorEquals: string[]; MaxAttempts?: number }[]) ?? [];
        const refusal = retry.find((r) => r.ErrorEquals.includes('ValidationError'));
        expect(refusal?.ErrorEquals, `${name}/${where}`).toEqual([...NON_RETRYABLE_ERRORS]);
        expect(refusal?.MaxAttempts, `${name}/${where}`).toBe(0);
        expect(retry.at(-1)?.ErrorEquals, `${name}/${where}`).toEqual(['States.ALL']);
        expect(retry.findIndex((r) => r === refusal)).toBeLessThan(retry.length - 1);
      });
      const map = topLevel.TrainCandidates as Json | undefined;
      if (map !== undefined)
        expect(map.Catch).toEqual([
          { ErrorEquals: ['States.ALL'], Next: 'RecordFailure', ResultPath: '$.error' },
        ]);
      expect(topLevel.TrainingFailed).toMatchObject({ Type: 'Fail', Error: 'TrainingFailed' });
    }
  });

  it('trains search candidates with the configured parallelism, SageMaker models through a .sync job', () => {
    const byName = new Map(machines());
    const gbdt = definitionOf(byName.get('churn-gbdt') as Resource).States as Json;
    expect(gbdt.TrainCandidates).toMatchObject({ Type: 'Map', MaxConcurrency: 2 });
    const sm = definitionOf(byName.get('churn-sm') as Resource).States as Json;
    expect(sm.TrainCandidates).toBeUndefined();
    expect(JSON.stringify(sm.SagemakerTraining)).toContain('sagemaker:createTrainingJob.sync');
  });

  it('records timed-out and aborted executions (no Catch sees them) through FinishTraining, failures alarmed', () => {
    const rules = Object.values(resources).filter(
      (r) => r.Type === 'AWS::Events::Rule' && pathOf(r).includes('/RecordTimedOutOrAborted/'),
    );
    expect(rules).toHaveLength(4);
    for (const rule of rules) {
      expect(rule.Properties?.EventPattern).toMatchObject({
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['TIMED_OUT', 'ABORTED'] },
      });
      const [target] = (rule.Properties?.Targets ?? []) as {
        InputTransformer: { InputTemplate: string };
        DeadLetterConfig: unknown;
      }[];
      expect(target?.InputTransformer.InputTemplate).toMatch(/"outcome":"failed"/);
      expect(target?.InputTransformer.InputTemplate).toMatch(/"execution":<detail-executionArn>/);
      expect(target?.DeadLetterConfig).toBeDefined();
    }
  });

  it('alarms when an execution fails or times out', () => {
    const alarms = Object.values(resources).filter(
      (r) => r.Type === 'AWS::CloudWatch::Alarm' && pathOf(r).includes('/Training/Pipeline-'),
    );
    expect(alarms.map((a) => /Pipeline-([a-z0-9-]+)\//.exec(pathOf(a))?.[1]).sort()).toEqual([
      'churn',
      'churn-gbdt',
      'churn-sm',
      'churn-strict',
    ]);
    for (const alarm of alarms) {
      expect(JSON.stringify(alarm.Properties?.Metrics)).toContain('ExecutionsFailed');
      expect(JSON.stringify(alarm.Properties?.Metrics)).toContain('ExecutionsTimedOut');
      // A period with failures but no timeouts must still sum to a datapoint.
      expect(JSON.stringify(alarm.Properties?.Metrics)).toContain('FILL(failed, 0) + FILL(timedOut, 0)');
    }
  });
});
