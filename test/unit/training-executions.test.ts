import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import {
  type ExecutionOutcome,
  type ExecutionRecord,
  outcomeFailed,
  stepsFromHistory,
  summarizeOutcome,
} from '../../bin/cli/training-executions.js';
import type { TrackedRun } from '../../lambdas/registry/tracking.js';

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
let id = 0;
const event = (type: string, s: number, details: Partial<HistoryEvent> = {}): HistoryEvent => ({
  id: ++id,
  type: type as HistoryEvent['type'],
  timestamp: at(s),
  ...details,
});
const entered = (name: string, s: number, type = 'Task') =>
  event(`${type}StateEntered`, s, { stateEnteredEventDetails: { name } });
const exited = (name: string, s: number, type = 'Task') =>
  event(`${type}StateExited`, s, { stateExitedEventDetails: { name } });

describe('stepsFromHistory', () => {
  it('names failures by the state they happened in and a task scheduled again after one as a retry', () => {
    const steps = stepsFromHistory([
      event('ExecutionStarted', 0),
      entered('PrepareTraining', 1),
      event('LambdaFunctionScheduled', 1),
      event('LambdaFunctionFailed', 2, {
        lambdaFunctionFailedEventDetails: { error: 'Lambda.ServiceException', cause: 'throttled' },
      }),
      event('LambdaFunctionScheduled', 3),
      event('LambdaFunctionSucceeded', 4),
      exited('PrepareTraining', 4),
      entered('TrainCandidates', 5, 'Map'),
      entered('TrainCandidate', 5),
      event('TaskTimedOut', 9, { taskTimedOutEventDetails: { resourceType: 'lambda', resource: 'invoke' } }),
      event('ExecutionFailed', 9, { executionFailedEventDetails: { error: 'States.Timeout' } }),
    ]);

    expect(steps).toEqual([
      { type: 'entered', state: 'PrepareTraining', at: at(1).toISOString() },
      {
        type: 'failed',
        state: 'PrepareTraining',
        at: at(2).toISOString(),
        error: 'Lambda.ServiceException',
        cause: 'throttled',
      },
      { type: 'retried', state: 'PrepareTraining', at: at(3).toISOString() },
      { type: 'exited', state: 'PrepareTraining', at: at(4).toISOString() },
      { type: 'entered', state: 'TrainCandidates', at: at(5).toISOString() },
      { type: 'entered', state: 'TrainCandidate', at: at(5).toISOString() },
      { type: 'failed', state: 'TrainCandidate', at: at(9).toISOString(), error: 'States.Timeout' },
    ]);
  });
});

const record = (over: Partial<ExecutionRecord>): ExecutionRecord => ({
  model: 'churn',
  runId: 'r1',
  executionArn: 'arn:aws:states:us-east-1:1:execution:m:e',
  stateMachineArn: 'arn:aws:states:us-east-1:1:stateMachine:m',
  where: 'deployed',
  status: 'SUCCEEDED',
  startedAt: at(0).toISOString(),
  input: {},
  steps: [],
  ...over,
});
const run = (over: Partial<TrackedRun>): TrackedRun => ({
  runId: 'r1',
  experiment: 'churn',
  name: '',
  status: 'FINISHED',
  startTime: 0,
  params: {},
  tags: {},
  metrics: {},
  artifactPrefix: 'runs/churn/r1/',
  registeredVersions: [],
  ...over,
});

describe('summarizeOutcome', () => {
  it("takes the run's outcome tag first, then the output's outcome, then the terminal state", () => {
    const ended = record({
      output: { outcome: 'rejected', reasons: ['auc 0.6 < 0.8'] },
      steps: [{ type: 'entered', state: 'TrainingSucceeded', at: '' }],
    });
    expect(summarizeOutcome(ended, run({ tags: { outcome: 'dropped' } })).outcome).toBe('dropped');
    expect(summarizeOutcome(ended, run({}))).toEqual({ outcome: 'rejected', reasons: ['auc 0.6 < 0.8'] });
    expect(summarizeOutcome(record({ steps: ended.steps }), undefined).outcome).toBe('succeeded');
  });

  it('falls back to the status for an execution that stopped outside the pipeline, and has none while running', () => {
    expect(summarizeOutcome(record({ status: 'ABORTED' }), undefined).outcome).toBe('aborted');
    expect(summarizeOutcome(record({ status: 'TIMED_OUT' }), undefined).outcome).toBe('timed-out');
    expect(summarizeOutcome(record({ status: 'FAILED' }), undefined).outcome).toBe('failed');
    expect(summarizeOutcome(record({ status: 'RUNNING' }), undefined).outcome).toBeUndefined();
  });

  it("reads the version from the output, else the run's registered versions", () => {
    expect(summarizeOutcome(record({ output: { version: 4 } }), undefined).version).toBe(4);
    expect(summarizeOutcome(undefined, run({ registeredVersions: ['churn:7'] })).version).toBe(7);
    expect(summarizeOutcome(undefined, run({ status: 'FAILED', reason: 'boom' })).reasons).toEqual(['boom']);
  });
});

describe('outcomeFailed', () => {
  it('is an error only when the execution failed, was aborted or timed out; a rejection is a decision', () => {
    const decided: ExecutionOutcome[] = ['succeeded', 'rejected', 'dropped', 'reused'];
    const errors: ExecutionOutcome[] = ['failed', 'aborted', 'timed-out'];
    expect(decided.map(outcomeFailed)).toEqual([false, false, false, false]);
    expect(errors.map(outcomeFailed)).toEqual([true, true, true]);
  });
});
