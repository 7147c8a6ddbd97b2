/**
 * The FinishTraining step: what an execution concluded, recorded and announced.
 *
 * - succeeded / rejected: the result is kept per (dataset hash, fingerprint) for duplicate triggers
 *   to reuse (written once), and the run ends FINISHED with tags `outcome`, `version` or `reasons`.
 * - `runId` may be empty or absent (a Catch after a failed Prepare has none): the execution's run
 *   is found by its derived id (./run-end.ts `trainingRunId` in ./run-id.ts).
 * - failed: the run ends FAILED with the cause made readable (`<errorType>: <errorMessage>` from a
 *   Lambda error's Cause JSON). A run that does not exist (the Prepare step failed before creating
 *   it) is skipped: the event still goes out.
 * - The lease is released (by the holder given, else by the execution).
 * - One EventBridge event: TrainingSucceeded, TrainingRejected or TrainingFailed.
 *
 * A retry is safe: every write is conditional or converges (a run already ended is left as it is,
 * the result keeps the first record, releasing twice is a no-op). A retry after the event went out
 * sends it again; consumers tell repeats apart by `detail.execution` and `detail.outcome`.
 */
import { PutEventsCommand, type PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import type { TrackingStore } from '../../registry/tracking-store.js';
import { DependencyError, NotFoundError, ValidationError } from '../../shared/errors.js';
import { EVENT_DETAIL_TYPE, EVENT_SOURCE } from '../../shared/layout.js';
import {
  type FinishTrainingEvent,
  TRAINING_OUTCOMES,
  type TrainingOutcome,
  type TrainingTrigger,
} from './contract.js';
import type { NewDataCounter } from './new-data.js';
import { endOnce } from './run-end.js';
import { TRAINING_RUN_TAGS, trainingRunId } from './run-id.js';
import type { TrainingStateStore } from './training-state.js';

/** What finishTraining needs of the EventBridge client (a wrapper may inject faults in tests). */
export interface EventSender {
  send(command: PutEventsCommand): Promise<PutEventsCommandOutput>;
}

export interface FinishTrainingDeps {
  readonly tracking: TrackingStore;
  readonly state: TrainingStateStore;
  readonly eventBridge: EventSender;
  readonly busName: string;
  /**
   * The model's new-data counter (./new-data.ts): a training that ran (succeeded or rejected)
   * consumed the rows counted so far, whatever triggered it. @default none: left as it is
   */
  readonly newData?: Pick<NewDataCounter, 'reset'>;
  /** Clock, injectable for tests. @default () => new Date() */
  readonly now?: () => Date;
}

/** `detail` of TrainingSucceeded, TrainingRejected and TrainingFailed. */
export interface TrainingEventDetail {
  readonly model: string;
  readonly runId: string;
  readonly execution: string;
  readonly outcome: TrainingOutcome;
  readonly trigger?: TrainingTrigger;
  readonly datasetHash?: string;
  readonly version?: number;
  readonly reasons?: readonly string[];
  /** failed: `<error>: <message>`. */
  readonly error?: string;
  /** When the execution finished (ISO). */
  readonly at: string;
}

export interface FinishTrainingResult {
  readonly outcome: TrainingOutcome;
  readonly runId: string;
  readonly version?: number;
  readonly reasons?: readonly string[];
  readonly error?: string;
}

export const TRAINING_EVENT_DETAIL_TYPE: Record<TrainingOutcome, string> = {
  succeeded: EVENT_DETAIL_TYPE.trainingSucceeded,
  rejected: EVENT_DETAIL_TYPE.trainingRejected,
  failed: EVENT_DETAIL_TYPE.trainingFailed,
};

const TAG_CHARS = 256;
const REASON_CHARS = 4096;
const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/**
 * A caught Step Functions error as a sentence: a Lambda error's Cause is JSON with `errorType` and
 * `errorMessage`; `States.*` errors carry text (or nothing).
 */
export function readableCause(
  error: { readonly Error?: string; readonly Cause?: string } | undefined,
): string {
  const name = error?.Error || 'Error';
  const cause = error?.Cause;
  if (cause === undefined || cause === '') return name;
  try {
    const parsed = JSON.parse(cause) as { errorType?: unknown; errorMessage?: unknown };
    if (parsed !== null && typeof parsed === 'object' && typeof parsed.errorMessage === 'string')
      return `${typeof parsed.errorType === 'string' ? parsed.errorType : name}: ${parsed.errorMessage}`;
  } catch {
    // not JSON: the text itself
  }
  return `${name}: ${cause}`;
}

export async function finishTraining(
  event: FinishTrainingEvent,
  deps: FinishTrainingDeps,
): Promise<FinishTrainingResult> {
  if (!TRAINING_OUTCOMES.includes(event?.outcome))
    throw new ValidationError('outcome', `must be one of ${TRAINING_OUTCOMES.join(', ')}`);
  for (const field of ['model', 'execution'] as const)
    if (typeof event[field] !== 'string' || event[field] === '')
      throw new ValidationError(field, 'must be a non-empty string');
  if (event.runId !== undefined && typeof event.runId !== 'string')
    throw new ValidationError('runId', 'must be a string when given');
  const at = (deps.now?.() ?? new Date()).toISOString();
  const { outcome, model } = event;
  // A Catch after a failed Prepare has no runId: the execution's run has a derived id.
  const runId = event.runId || trainingRunId(event.execution);
  const error = outcome === 'failed' ? clip(readableCause(event.error), REASON_CHARS) : undefined;
  const reasons = outcome === 'rejected' ? (event.reasons ?? []) : undefined;
  const version = outcome === 'succeeded' ? event.version : undefined;

  if (outcome !== 'failed') {
    if (event.dataset !== undefined && event.fingerprint !== undefined)
      await deps.state.putResult(model, event.dataset.hash, event.fingerprint, {
        outcome,
        runId,
        execution: event.execution,
        ...(version !== undefined ? { version } : {}),
        ...(reasons !== undefined ? { reasons } : {}),
        finishedAt: at,
      });
    await deps.tracking.setTags(runId, {
      [TRAINING_RUN_TAGS.outcome]: outcome,
      ...(version !== undefined ? { version: String(version) } : {}),
      ...(reasons !== undefined ? { reasons: clip(reasons.join('; '), TAG_CHARS) } : {}),
    });
    await endOnce(deps.tracking, runId, 'FINISHED');
    await deps.newData?.reset(model);
  } else {
    try {
      // A run a finish step already ended (succeeded or rejected, then its event failed) keeps its outcome.
      if ((await deps.tracking.getRun(runId)).status === 'RUNNING') {
        await deps.tracking.setTags(runId, { [TRAINING_RUN_TAGS.outcome]: outcome });
        await endOnce(deps.tracking, runId, 'FAILED', error);
      }
    } catch (cause) {
      // Prepare failed before the run existed: nothing to end.
      if (!(cause instanceof NotFoundError)) throw cause;
    }
  }
  await deps.state.releaseLease(model, event.lease?.holder ?? event.execution);

  const detail: TrainingEventDetail = {
    model,
    runId,
    execution: event.execution,
    outcome,
    ...(event.trigger !== undefined ? { trigger: event.trigger } : {}),
    ...(event.dataset !== undefined ? { datasetHash: event.dataset.hash } : {}),
    ...(version !== undefined ? { version } : {}),
    ...(reasons !== undefined ? { reasons } : {}),
    ...(error !== undefined ? { error } : {}),
    at,
  };
  const sent = await deps.eventBridge
    .send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: deps.busName,
            Source: EVENT_SOURCE,
            DetailType: TRAINING_EVENT_DETAIL_TYPE[outcome],
            Detail: JSON.stringify(detail),
            Time: new Date(at),
          },
        ],
      }),
    )
    .catch((cause: unknown) => {
      throw new DependencyError('EventBridge', `PutEvents failed: ${(cause as Error).message}`, { cause });
    });
  if ((sent.FailedEntryCount ?? 0) > 0) {
    const entry = sent.Entries?.[0];
    throw new DependencyError(
      'EventBridge',
      `the ${TRAINING_EVENT_DETAIL_TYPE[outcome]} event was refused (${entry?.ErrorCode ?? 'unknown'}: ${entry?.ErrorMessage ?? ''})`,
    );
  }
  return {
    outcome,
    runId,
    ...(version !== undefined ? { version } : {}),
    ...(reasons !== undefined ? { reasons } : {}),
    ...(error !== undefined ? { error } : {}),
  };
}
