/**
 * `mlops train start|list|status|logs` against the emulator. Deployed stack: moto's Step Functions
 * stores state machines and executions but runs nothing (an execution stays RUNNING until stopped,
 * with a fixed history), and the stack's TrainingPipelineArns output comes from a CloudFormation
 * stack made here. Local stack: a state file pointing at the test emulator, with executions run
 * in-process by the state-machine runner on the harness fixture stack (the real pipeline's
 * end-to-end run is the pipeline's own test).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CreateStackCommand } from '@aws-sdk/client-cloudformation';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runTrainingLocally } from '../../bin/cli/local-training.js';
import { getExecutionRecord } from '../../bin/cli/training-executions.js';
import { runCli } from '../../bin/mlops.js';
import { TrackingStore } from '../../lambdas/registry/tracking-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { trainingRunId } from '../../lambdas/training/pipeline/run-id.js';
import { STACK_JSON_OUTPUTS, STACK_OUTPUTS } from '../../lib/stack-outputs.js';
import { loadAssembly } from '../../local/assembly.js';
import { type LocalStack, startLocalStack } from '../../local/local-stack.js';
import type { LocalStackState } from '../../local/local-state.js';
import { assemblyFor, harnessFixture } from '../support/assemblies.js';
import { testEmulatorPid } from '../support/cli-process.js';

const CONFIG = path.resolve(import.meta.dirname, '..', 'fixtures', 'train.config.ts');
const STACK = 'CliTrainTestStack';
let trackingTable: string;
let bucket: string;
let tracking: TrackingStore;
let machineArn: string;

async function cli(args: string[], options: { tty?: boolean; onStderr?: (text: string) => void } = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    ['--config', CONFIG, '--tracking-table', trackingTable, '--artifact-bucket', bucket, ...args],
    {
      stdout: (t) => {
        stdout += t;
      },
      stderr: (t) => {
        stderr += t;
        options.onStderr?.(t);
      },
      stdoutIsTty: options.tty === true,
    },
  );
  return { code, stdout, stderr, json: () => JSON.parse(stdout) as Record<string, unknown> };
}

async function startMotoExecution(name: string): Promise<string> {
  const started = await clients
    .sfn()
    .send(new StartExecutionCommand({ stateMachineArn: machineArn, name, input: '{}' }));
  return started.executionArn ?? '';
}

/** A training run as the pipeline writes it: experiment = model, id from the execution ARN, tags. */
async function trackedRun(
  executionArn: string,
  tags: Record<string, string>,
  end?: { status: 'FINISHED' } | { status: 'FAILED'; reason: string },
  startTime = Date.now(),
) {
  const runId = trainingRunId(executionArn);
  await tracking.createRun({
    experiment: 'churn',
    runId,
    startTime,
    tags: { trigger: 'manual', execution: executionArn, ...tags },
  });
  await tracking.logMetrics(runId, [{ key: 'rmse', value: 1.25, step: 0, timestamp: startTime }]);
  if (end) await tracking.endRun(runId, { ...end, endTime: startTime + 4_000 });
  return runId;
}

beforeAll(async () => {
  const local = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'cli-train-' });
  trackingTable = local.resourceName('ModelRegistryTrackingTable');
  bucket = local.resourceName('ModelRegistryArtifacts');
  tracking = new TrackingStore({
    documents: clients.documents(),
    s3: clients.s3(),
    tableName: trackingTable,
  });
  await tracking.createExperiment({ name: 'churn' });
  const machine = await clients.sfn().send(
    new CreateStateMachineCommand({
      name: 'TrainingPipeline-churn-cli-test',
      definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
      roleArn: 'arn:aws:iam::123456789012:role/sfn',
    }),
  );
  machineArn = machine.stateMachineArn ?? '';
  await clients.cloudformation().send(
    new CreateStackCommand({
      StackName: STACK,
      TemplateBody: JSON.stringify({
        Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
        Outputs: {
          [STACK_JSON_OUTPUTS.trainingPipelines]: { Value: JSON.stringify({ churn: machineArn }) },
          [STACK_OUTPUTS.trackingTable]: { Value: trackingTable },
        },
      }),
    }),
  );
});

describe('mlops train start (deployed stack)', () => {
  it('starts the model state machine with a manual trigger and returns at once with --no-wait', async () => {
    const result = await cli([
      'train',
      'start',
      'churn',
      '--no-wait',
      '--reason',
      'new features',
      '--as-of',
      '2026-01-31T00:00:00Z',
    ]);

    expect(result.code, result.stderr).toBe(0);
    const out = result.json() as { executionArn: string; runId: string; status: string };
    expect(out.status).toBe('RUNNING');
    expect(out.runId).toBe(trainingRunId(out.executionArn));
    const described = await clients
      .sfn()
      .send(new DescribeExecutionCommand({ executionArn: out.executionArn }));
    expect(described.stateMachineArn).toBe(machineArn);
    expect(JSON.parse(described.input ?? '{}')).toEqual({
      trigger: { kind: 'manual', reason: 'new features (by local)' },
      asOf: '2026-01-31T00:00:00.000Z',
    });
  });

  it('waits for the execution, reports its states on stderr and exits 1 when it is aborted', async () => {
    let progress = '';
    const waiting = cli(['train', 'start', 'churn', '--name', 'wait-abort', '--poll-interval', '20'], {
      onStderr: (text) => {
        progress += text;
      },
    });
    // Stopped once the CLI has seen it running (it reported the state it is in).
    while (!progress.includes('A State')) await new Promise((resolve) => setTimeout(resolve, 10));
    const listed = await clients.sfn().send(new ListExecutionsCommand({ stateMachineArn: machineArn }));
    const arn = listed.executions?.find((e) => e.name === 'wait-abort')?.executionArn ?? '';
    await clients.sfn().send(new StopExecutionCommand({ executionArn: arn, cause: 'stopped by the test' }));
    const result = await waiting;

    expect(result.code, result.stderr).toBe(1);
    expect(result.json()).toMatchObject({
      model: 'churn',
      executionArn: arn,
      runId: trainingRunId(arn),
      status: 'ABORTED',
      outcome: 'aborted',
      where: 'deployed',
    });
    // moto's fixed history enters "A State"; the progress line names it (no bar: stderr is not a terminal).
    expect(result.stderr).toMatch(/^train churn: A State \(\d+\.\ds\)$/m);
  });

  it('refuses a model the configuration does not train, listing the trained ones, and starts nothing', async () => {
    const before = (await clients.sfn().send(new ListExecutionsCommand({ stateMachineArn: machineArn })))
      .executions?.length;
    for (const model of ['nope', 'registered-only']) {
      const result = await cli(['train', 'start', model, '--no-wait']);
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(
        `error: model: must be a trained model of the configuration (${model} is not)\nhint: trained models: churn\n`,
      );
    }
    const bad = await cli(['train', 'start', 'churn', '--as-of', '1767225600']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: as-of: must be an ISO time\nhint: epoch seconds\?/);
    const after = (await clients.sfn().send(new ListExecutionsCommand({ stateMachineArn: machineArn })))
      .executions?.length;
    expect(after).toBe(before);
  });

  it('says how to get a stack when the stack has no training pipelines output', async () => {
    const result = await cli(['--stack', 'NoSuchTrainStack', 'train', 'start', 'churn', '--no-wait']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: could not read the outputs of stack NoSuchTrainStack/);
    expect(result.stderr).toMatch(/\nhint: start the local stack with: npx mlops local up/);
  });
});

describe('mlops train list / status / logs (deployed stack)', () => {
  let succeeded: string;
  let rejected: string;
  let rejectedArn: string;

  beforeAll(async () => {
    const t0 = Date.parse('2026-03-01T00:00:00Z');
    succeeded = await trackedRun(
      await startMotoExecution('listed-1'),
      { outcome: 'succeeded' },
      { status: 'FINISHED' },
      t0,
    );
    rejectedArn = await startMotoExecution('listed-2');
    rejected = await trackedRun(rejectedArn, { outcome: 'rejected' }, { status: 'FINISHED' }, t0 + 60_000);
    // A search candidate: a child run, not a training run of its own.
    await tracking.createRun({ experiment: 'churn', parentRunId: rejected, startTime: t0 + 61_000 });
  });

  it('lists the training runs newest first with outcome and trigger, leaving out candidate runs', async () => {
    const result = await cli(['train', 'list', 'churn', '--limit', '2']);

    expect(result.code, result.stderr).toBe(0);
    const runs = (result.json() as { runs: Record<string, unknown>[] }).runs;
    expect(runs.map((r) => [r.runId, r.outcome, r.trigger, r.status])).toEqual([
      [rejected, 'rejected', 'manual', 'FINISHED'],
      [succeeded, 'succeeded', 'manual', 'FINISHED'],
    ]);
    expect(runs[0]).toMatchObject({ durationMs: 4_000, executionArn: rejectedArn });

    const shown = await cli(['train', 'list', 'churn', '--limit', '2'], { tty: true });
    expect(shown.stdout).toMatch(/run\s+│ status\s+│ outcome\s+│ trigger/);
    expect(shown.stdout).toContain(rejected);
  });

  it('shows the named run with its execution from Step Functions, its outcome and metrics', async () => {
    const result = await cli(['train', 'status', 'churn', rejectedArn]);

    expect(result.code, result.stderr).toBe(0);
    expect(result.json()).toMatchObject({
      model: 'churn',
      runId: rejected,
      executionArn: rejectedArn,
      where: 'deployed',
      status: 'RUNNING', // moto's view of the execution
      state: 'A State',
      outcome: 'rejected', // the run's tag
      trigger: 'manual',
      runStatus: 'FINISHED',
      metrics: { rmse: 1.25 },
    });
    const byRunId = await cli(['train', 'status', 'churn', rejected]);
    expect(byRunId.json()).toMatchObject({ runId: rejected, executionArn: rejectedArn });
    const shown = await cli(['train', 'status', 'churn', rejected], { tty: true });
    expect(shown.stdout).toMatch(/^churn: rejected \(the candidate did not pass its gates: not an error\)\n/);
    expect(shown.stdout).toMatch(/│ rmse\s+│ 1\.25\s+│/);
  });

  it("prints a deployed execution's history as steps", async () => {
    const result = await cli(['train', 'logs', 'churn', rejected]);

    expect(result.code, result.stderr).toBe(0);
    expect((result.json() as { events: unknown[] }).events).toEqual([
      { type: 'entered', state: 'A State', at: '2020-01-01T00:00:10.000Z' },
      { type: 'exited', state: 'A State', at: '2020-01-01T00:00:10.000Z' },
    ]);
    const shown = await cli(['train', 'logs', 'churn', rejected], { tty: true });
    expect(shown.stdout).toContain('2020-01-01T00:00:10.000Z  entered  A State');
  });

  it('answers not found (exit 3) for an unknown run and bad input for a bad limit', async () => {
    const missing = await cli(['train', 'status', 'churn', 'no-such-run']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toBe(
      'error: run: training run no-such-run of churn not found\nhint: list them with: mlops train list churn\n',
    );
    const limit = await cli(['train', 'list', 'churn', '--limit', '0']);
    expect(limit.code).toBe(2);
    expect(limit.stderr).toMatch(/^error: limit: must be a whole number from 1 to 1000/);
  });
});

describe('mlops train on the local stack (executions run in-process)', () => {
  let fixture: LocalStack;
  let stateDir: string;
  const previousStateDir = process.env.MLOPS_STATE_DIR;

  beforeAll(async () => {
    fixture = await startLocalStack(await assemblyFor(harnessFixture('CliTrainFixture')), {
      prefix: 'cli-train-',
    });
    stateDir = mkdtempSync(path.join(tmpdir(), 'cli-train-state-'));
    const state: LocalStackState = {
      version: 1,
      endpoint: process.env.AWS_ENDPOINT_URL ?? '',
      pid: testEmulatorPid(),
      stackName: STACK,
      region: process.env.AWS_REGION ?? 'us-east-1',
      startedAt: new Date().toISOString(),
      logFile: '/dev/null',
      outputs: {
        [STACK_JSON_OUTPUTS.trainingPipelines]: JSON.stringify({
          churn: fixture.stateMachine('Features').arn,
        }),
      },
      resources: { trackingTable, artifactBucket: bucket },
    };
    writeFileSync(path.join(stateDir, 'local.json'), JSON.stringify(state));
    process.env.MLOPS_STATE_DIR = stateDir;
  });

  afterAll(() => {
    if (previousStateDir === undefined) delete process.env.MLOPS_STATE_DIR;
    else process.env.MLOPS_STATE_DIR = previousStateDir;
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('stores the execution record as it runs, and status and logs read it back', async () => {
    const seen: string[] = [];
    // The fixture machine's own input, with the pipeline's trigger (which it ignores).
    const input = {
      trigger: { kind: 'manual' as const },
      key: 'cli-local',
      failTimes: 1,
      bad: true,
      items: [],
    };
    const record = await runTrainingLocally(fixture.stateMachine('Features'), {
      model: 'churn',
      input,
      bucket,
      executionName: 'local-1',
      // The fixture's SageMaker task (not reached on this path) needs a local implementation to run at all.
      serviceIntegrations: { Train: () => ({}) },
      onStep: (step) => seen.push(`${step.type} ${step.state}`),
    });

    expect(record.status).toBe('SUCCEEDED');
    expect(record.runId).toBe(trainingRunId(record.executionArn));
    expect(seen).toEqual([
      'entered Flaky',
      'failed Flaky',
      'retried Flaky',
      'exited Flaky',
      'entered IsBad',
      'exited IsBad',
      'entered Reject',
      'failed Reject',
      'exited Reject',
      'entered Rejected',
      'exited Rejected',
    ]);
    expect(await getExecutionRecord(bucket, 'churn', record.runId)).toEqual(record);

    const logs = await cli(['train', 'logs', 'churn', record.executionArn]);
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.json()).toMatchObject({ runId: record.runId, status: 'SUCCEEDED' });
    expect((logs.json() as { events: { type: string; state: string }[] }).events.map((e) => e.state)).toEqual(
      seen.map((s) => s.split(' ')[1]),
    );

    const status = await cli(['train', 'status', 'churn', record.executionArn]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json()).toMatchObject({ where: 'local', status: 'SUCCEEDED', state: 'Rejected' });
  });

  it('records a run the local harness cannot finish as FAILED and says why', async () => {
    const catchAll = fixture.stateMachine('CatchAll');
    await expect(
      runTrainingLocally(catchAll, { model: 'churn', input: {}, bucket, executionName: 'local-2' }),
    ).rejects.toThrow(/the local run of churn's training stopped: .*not-in-this-stack/);
    const stored = await getExecutionRecord(bucket, 'churn', trainingRunId(catchAll.executionArn('local-2')));
    expect(stored).toMatchObject({ status: 'FAILED', error: 'HarnessError', where: 'local' });
  });

  it('refuses --no-wait on the local stack: its executions run in the CLI process', async () => {
    const result = await cli(['train', 'start', 'churn', '--no-wait']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: no-wait: is not possible on the local stack/);
  });
});
