/**
 * Training executions on the local stack, run in the CLI's process by ./local-runner.ts's runner.
 * The record of the execution is stored as it moves (./training-executions.ts says where and why).
 */
import { randomUUID } from 'node:crypto';
import type { TrainingPipelineInput } from '../../lambdas/training/pipeline/contract.js';
import { trainingRunId } from '../../lambdas/training/pipeline/run-id.js';
import type { RunnerEvent, RunOptions, StateMachineRunner } from '../../local/state-machine-runner.js';
import { CliFailure } from './output.js';
import { type ExecutionRecord, type ExecutionStep, putExecutionRecord } from './training-executions.js';

export interface LocalTrainingOptions {
  readonly model: string;
  readonly input: TrainingPipelineInput;
  /** @default a random UUID */
  readonly executionName?: string;
  /** The artifact bucket (where the record goes). */
  readonly bucket: string;
  /** Told of each step as it happens (after it is recorded). */
  readonly onStep?: (step: ExecutionStep, record: ExecutionRecord) => void;
  /** Told the execution's ARN and run id before it starts. */
  readonly onStart?: (record: ExecutionRecord) => void;
  /** Local implementations of non-Lambda tasks, by state name (RunOptions.serviceIntegrations). @default none */
  readonly serviceIntegrations?: RunOptions['serviceIntegrations'];
}

/**
 * Runs one training execution with `runner` and stores its record: RUNNING at the start, again as
 * each state is entered or fails, and once more with the final status, output, error and cause. A
 * harness failure (a task the runner cannot run locally) ends the record FAILED with
 * `HarnessError` and is thrown on.
 */
export async function runTrainingLocally(
  runner: StateMachineRunner,
  options: LocalTrainingOptions,
): Promise<ExecutionRecord> {
  const executionName = options.executionName ?? randomUUID();
  const executionArn = runner.executionArn(executionName);
  const steps: ExecutionStep[] = [];
  let record: ExecutionRecord = {
    model: options.model,
    runId: trainingRunId(executionArn),
    executionArn,
    stateMachineArn: runner.arn,
    where: 'local',
    status: 'RUNNING',
    startedAt: new Date().toISOString(),
    input: options.input,
    steps,
  };
  // Writes go one after another, so the stored record never goes back to an older one.
  let writes: Promise<void> = putExecutionRecord(options.bucket, record);
  let writeError: unknown;
  const store = (next: ExecutionRecord) => {
    record = next;
    writes = writes
      .then(() => putExecutionRecord(options.bucket, { ...next, steps: [...steps] }))
      .catch((e) => {
        writeError ??= e;
      });
  };
  await writes;
  options.onStart?.(record);
  const onEvent = (event: RunnerEvent) => {
    const step: ExecutionStep = {
      type: event.type,
      state: event.state,
      at: new Date(event.timestamp).toISOString(),
      ...(event.error === undefined ? {} : { error: event.error }),
      ...(event.cause === undefined ? {} : { cause: event.cause }),
    };
    steps.push(step);
    if (event.type !== 'exited') store({ ...record, steps });
    options.onStep?.(step, record);
  };
  let harnessError: unknown;
  try {
    const result = await runner.run(options.input, {
      executionName,
      onEvent,
      ...(options.serviceIntegrations ? { serviceIntegrations: options.serviceIntegrations } : {}),
    });
    store({
      ...record,
      status: result.status,
      stoppedAt: new Date().toISOString(),
      ...(result.output === undefined ? {} : { output: result.output }),
      ...(result.error === undefined ? {} : { error: result.error }),
      ...(result.cause === undefined ? {} : { cause: result.cause }),
    });
  } catch (error) {
    harnessError = error;
    store({
      ...record,
      status: 'FAILED',
      stoppedAt: new Date().toISOString(),
      error: (error as Error)?.name ?? 'Error',
      cause: (error as Error)?.message ?? String(error),
    });
  }
  await writes;
  if (writeError !== undefined) throw writeError;
  if (harnessError !== undefined)
    throw new CliFailure(
      `the local run of ${options.model}'s training stopped: ${(harnessError as Error).message ?? String(harnessError)}`,
      'the local stack runs Lambda tasks only; a SageMaker trainer needs the deployed stack',
      { cause: harnessError },
    );
  return { ...record, steps: [...steps] };
}
