/**
 * Training executions as `mlops train start|status|list|logs` see them: one {@link ExecutionRecord}
 * whether the execution ran in Step Functions (a deployed stack: DescribeExecution and
 * GetExecutionHistory, read when asked) or in the CLI's own process (the local stack, whose moto
 * emulator stores state machines but does not run them: `mlops train start` runs the execution
 * with local/state-machine-runner.ts and stores the record).
 *
 * Where a local record is stored: as an artifact of the execution's tracking run in the artifact
 * bucket (layout.ts `trainingExecutionRecordKey`), not in the local state directory: it then lives
 * and dies with the run it describes (both are in the emulator; `mlops local down` discards both),
 * and any process pointed at the stack finds it (another terminal's `train status` while it runs).
 *
 * The outcome of an execution: its run's `outcome` tag (written by the pipeline), else the
 * execution's output `outcome`, else the terminal state it ended in (contract.ts diagram), else its
 * status (FAILED → failed; ABORTED, TIMED_OUT as they are).
 */

import { GetObjectCommand, NoSuchKey, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import type { TrackedRun } from '../../lambdas/registry/tracking.js';
import { clients } from '../../lambdas/shared/clients.js';
import { trainingExecutionRecordKey } from '../../lambdas/shared/layout.js';
import type { FinishTrainingEvent, TrainingPipelineInput } from '../../lambdas/training/pipeline/contract.js';
import {
  TRAINING_RUN_OUTCOMES,
  TRAINING_RUN_TAGS,
  type TrainingRunOutcome,
} from '../../lambdas/training/pipeline/run-id.js';

/** Step Functions' execution statuses (the local runner ends in SUCCEEDED or FAILED). */
export type ExecutionStatus =
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'TIMED_OUT'
  | 'ABORTED'
  | 'PENDING_REDRIVE';

/** One step of an execution's history. */
export interface ExecutionStep {
  readonly type: 'entered' | 'exited' | 'failed' | 'retried';
  readonly state: string;
  /** ISO time. */
  readonly at: string;
  /** `failed`: the error name (a function's errorType, `States.*`) and its cause. */
  readonly error?: string;
  readonly cause?: string;
}

export interface ExecutionRecord {
  readonly model: string;
  readonly runId: string;
  readonly executionArn: string;
  readonly stateMachineArn: string;
  /** Where it ran: Step Functions (`deployed`) or the CLI's process against the local stack. */
  readonly where: 'deployed' | 'local';
  readonly status: ExecutionStatus;
  readonly startedAt: string;
  readonly stoppedAt?: string;
  readonly input: TrainingPipelineInput;
  readonly output?: unknown;
  /** A failed execution's error and cause. */
  readonly error?: string;
  readonly cause?: string;
  readonly steps: readonly ExecutionStep[];
}

/** How an execution ended, beyond the pipeline's outcomes: stopped by someone, or out of time. */
export type ExecutionOutcome = TrainingRunOutcome | 'aborted' | 'timed-out';

/**
 * The terminal states of the training state machine (contract.ts diagram) and the outcome each
 * means, for an execution whose run has no outcome tag (it failed before its run was written).
 */
const TERMINAL_STATE_OUTCOMES: Readonly<Record<string, TrainingRunOutcome>> = {
  TriggerDropped: 'dropped',
  ReusedEarlierResult: 'reused',
  TrainingRejected: 'rejected',
  TrainingSucceeded: 'succeeded',
  TrainingFailed: 'failed',
};

/** What the CLI reads of an execution's output (the pipeline's FinishTraining shape, or a reuse). */
type OutputFields = Partial<Pick<FinishTrainingEvent, 'version' | 'reasons'>> & {
  readonly outcome?: string;
  readonly earlier?: Partial<Pick<FinishTrainingEvent, 'version' | 'reasons'>>;
  readonly reason?: string;
};

const isOutcome = (value: unknown): value is TrainingRunOutcome =>
  TRAINING_RUN_OUTCOMES.includes(value as TrainingRunOutcome);

function outputFields(output: unknown): OutputFields {
  return typeof output === 'object' && output !== null && !Array.isArray(output)
    ? (output as OutputFields)
    : {};
}

/** The state the execution is in (entered, not yet exited) or last left. */
export function currentState(steps: readonly ExecutionStep[]): string | undefined {
  return steps.findLast((s) => s.type === 'entered')?.state ?? steps.at(-1)?.state;
}

export interface OutcomeSummary {
  /** Absent while it runs. */
  readonly outcome?: ExecutionOutcome;
  readonly version?: number;
  readonly reasons?: readonly string[];
}

/** An execution's outcome, version and reasons, from its run and its record (see the module doc). */
export function summarizeOutcome(
  record: ExecutionRecord | undefined,
  run: TrackedRun | undefined,
): OutcomeSummary {
  const output = outputFields(record?.output);
  const tagged = run?.tags[TRAINING_RUN_TAGS.outcome];
  const lastState = record === undefined ? undefined : currentState(record.steps);
  const byStatus: Partial<Record<ExecutionStatus, ExecutionOutcome>> = {
    FAILED: 'failed',
    ABORTED: 'aborted',
    TIMED_OUT: 'timed-out',
  };
  const outcome: ExecutionOutcome | undefined = isOutcome(tagged)
    ? tagged
    : isOutcome(output.outcome)
      ? output.outcome
      : record !== undefined && record.status !== 'RUNNING'
        ? ((lastState === undefined ? undefined : TERMINAL_STATE_OUTCOMES[lastState]) ??
          byStatus[record.status])
        : undefined;
  const registered = run?.registeredVersions.map((ref) => Number(ref.slice(ref.lastIndexOf(':') + 1))).at(-1);
  const version = output.version ?? output.earlier?.version ?? registered;
  const reasons =
    output.reasons ??
    output.earlier?.reasons ??
    (typeof output.reason === 'string' ? [output.reason] : run?.reason ? [run.reason] : undefined);
  return {
    ...(outcome === undefined ? {} : { outcome }),
    ...(typeof version === 'number' && Number.isFinite(version) ? { version } : {}),
    ...(reasons && reasons.length > 0 ? { reasons } : {}),
  };
}

/** Exit code of a finished execution: 0 for what the pipeline decided (even a rejection), 1 else. */
export function outcomeFailed(outcome: ExecutionOutcome | undefined): boolean {
  return outcome === 'failed' || outcome === 'aborted' || outcome === 'timed-out';
}

// --- local records (artifact bucket) ---

/** Stores a local execution's record (overwrites: it is rewritten as the execution moves). */
export async function putExecutionRecord(bucket: string, record: ExecutionRecord): Promise<void> {
  await clients.s3().send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: trainingExecutionRecordKey(record.model, record.runId),
      Body: JSON.stringify(record),
      ContentType: 'application/json',
    }),
  );
}

/** A local execution's record, or undefined when none was stored for the run. */
export async function getExecutionRecord(
  bucket: string,
  model: string,
  runId: string,
): Promise<ExecutionRecord | undefined> {
  try {
    const object = await clients
      .s3()
      .send(new GetObjectCommand({ Bucket: bucket, Key: trainingExecutionRecordKey(model, runId) }));
    return JSON.parse(await (object.Body?.transformToString() ?? Promise.resolve('null'))) as ExecutionRecord;
  } catch (error) {
    if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

// --- deployed executions (Step Functions) ---

const iso = (date: Date | undefined) => (date === undefined ? undefined : date.toISOString());

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * Step Functions history events as steps: `*StateEntered`/`*StateExited` by state name; a failed
 * or timed-out task or state (`TaskFailed`, `LambdaFunctionFailed`, `*TimedOut`, …) on the state
 * it happened in; a task scheduled again in a state that failed since it was entered is a retry.
 */
export function stepsFromHistory(events: readonly HistoryEvent[]): ExecutionStep[] {
  const steps: ExecutionStep[] = [];
  const open: string[] = [];
  const failedIn = new Set<string>();
  for (const event of events) {
    const type = event.type ?? '';
    const at = (event.timestamp ?? new Date(0)).toISOString();
    if (type.endsWith('StateEntered')) {
      const state = event.stateEnteredEventDetails?.name ?? '';
      open.push(state);
      failedIn.delete(state);
      steps.push({ type: 'entered', state, at });
    } else if (type.endsWith('StateExited')) {
      const state = event.stateExitedEventDetails?.name ?? '';
      const i = open.lastIndexOf(state);
      if (i >= 0) open.splice(i, 1);
      steps.push({ type: 'exited', state, at });
    } else if (!type.startsWith('Execution') && (type.endsWith('Failed') || type.endsWith('TimedOut'))) {
      const details = Object.entries(event).find(([key]) => key.endsWith('EventDetails'))?.[1] as
        | { error?: string; cause?: string }
        | undefined;
      const state = open.at(-1) ?? '';
      failedIn.add(state);
      steps.push({
        type: 'failed',
        state,
        at,
        error: details?.error ?? (type.endsWith('TimedOut') ? 'States.Timeout' : type),
        ...(details?.cause === undefined ? {} : { cause: details.cause }),
      });
    } else if (type.endsWith('Scheduled') && failedIn.has(open.at(-1) ?? '')) {
      const state = open.at(-1) ?? '';
      failedIn.delete(state);
      steps.push({ type: 'retried', state, at });
    }
  }
  return steps;
}

/** Every event of an execution's history, oldest first. */
async function history(executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await clients
      .sfn()
      .send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

/** The state a deployed execution is in now (its newest events only). */
export async function deployedCurrentState(executionArn: string): Promise<string | undefined> {
  const page = await clients
    .sfn()
    .send(new GetExecutionHistoryCommand({ executionArn, maxResults: 50, reverseOrder: true }));
  return currentState(stepsFromHistory([...(page.events ?? [])].reverse()));
}

/** A deployed execution's record (DescribeExecution + GetExecutionHistory); undefined if SFN has none. */
export async function describeDeployedExecution(
  model: string,
  runId: string,
  executionArn: string,
  options: { readonly steps?: boolean } = {},
): Promise<ExecutionRecord | undefined> {
  let described: DescribeExecutionCommandOutput;
  try {
    described = await clients.sfn().send(new DescribeExecutionCommand({ executionArn }));
  } catch (error) {
    if (error instanceof ExecutionDoesNotExist) return undefined;
    throw error;
  }
  const stoppedAt = iso(described.stopDate);
  return {
    model,
    runId,
    executionArn,
    stateMachineArn: described.stateMachineArn ?? '',
    where: 'deployed',
    status: (described.status ?? 'RUNNING') as ExecutionStatus,
    startedAt: iso(described.startDate) ?? '',
    ...(stoppedAt === undefined ? {} : { stoppedAt }),
    input: (parseJson(described.input) ?? {}) as TrainingPipelineInput,
    ...(described.output === undefined ? {} : { output: parseJson(described.output) }),
    ...(described.error === undefined ? {} : { error: described.error }),
    ...(described.cause === undefined ? {} : { cause: described.cause }),
    steps: options.steps === false ? [] : stepsFromHistory(await history(executionArn)),
  };
}
