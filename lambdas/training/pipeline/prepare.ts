/**
 * The PrepareTraining step: turns a trigger into a tracked run and, when there is work to do, a
 * training set and its candidates. In order:
 *
 * 1. The model's configuration and fingerprint (./fingerprint.ts).
 * 2. The run: its id derives from the execution, so a retried Prepare finds the same run (the
 *    tracking store's createRun with a runId is idempotent); the experiment is the model's name.
 * 3. The lease (./training-state.ts), held until the execution's timeout at most. Held by another
 *    execution: this run ends KILLED (outcome `dropped`) — extra triggers are recorded and dropped.
 * 4. The training set (./training-set.ts). An earlier execution concluded on the same (dataset hash,
 *    fingerprint): this run ends FINISHED (outcome `reused`) and the lease is released.
 * 5. Otherwise the candidates to train (./search-space.ts).
 *
 * Any error after the lease is taken releases it first (a bad-input run must not block the model
 * until the lease expires); Step Functions' retry takes it again (the holder is the execution).
 */
import { createHash } from 'node:crypto';
import type { FeatureView } from '../../feature-store/feature-view.js';
import type { RunParams, RunTags } from '../../registry/tracking.js';
import type { TrackingStore } from '../../registry/tracking-store.js';
import { ConflictError, ValidationError } from '../../shared/errors.js';
import type { ObjectStore } from '../../shared/object-store.js';
import type { TrainedModelConfig } from '../model-config.js';
import { configuredTrainedModel, configuredTrainedModels } from './configured-models.js';
import {
  type PrepareTrainingEvent,
  type PrepareTrainingResult,
  TRAINING_TIMEOUT_MS,
  TRIGGER_KINDS,
  type TrainingTrigger,
} from './contract.js';
import { trainingFingerprint } from './fingerprint.js';
import { expandCandidates } from './search-space.js';
import { buildModelTrainingSet } from './training-set.js';
import { leaseTaken, type TrainingStateStore } from './training-state.js';

export interface PrepareTrainingDeps {
  readonly tracking: TrackingStore;
  readonly state: TrainingStateStore;
  /** The offline store. */
  readonly store: ObjectStore;
  readonly views: ReadonlyMap<string, FeatureView>;
  /** @default the bundle's configured trained models */
  readonly models?: readonly TrainedModelConfig[];
  /** Clock (epoch ms), injectable for tests. @default Date.now */
  readonly now?: () => number;
}

/**
 * Slack past the execution's own timeout before its lease expires: Step Functions' clock and
 * Lambda's are not the same clock.
 */
export const LEASE_CLOCK_SLACK_MS = 60_000;

/** Most characters of a tag value (the tracking store's rule). */
const TAG_CHARS = 256;
const tag = (value: string) => (value.length > TAG_CHARS ? `${value.slice(0, TAG_CHARS - 1)}…` : value);

/** The run id of an execution: 32 hex digits of the sha256 of its ARN (a retry finds the same run). */
export const runIdOf = (execution: string): string =>
  createHash('sha256').update(execution).digest('hex').slice(0, 32);

export async function prepareTraining(
  event: PrepareTrainingEvent,
  deps: PrepareTrainingDeps,
): Promise<PrepareTrainingResult> {
  const now = deps.now ?? Date.now;
  const { execution, startMs, asOfMs, trigger } = parseEvent(event);
  const model = configuredTrainedModel(event.model, deps.models ?? configuredTrainedModels());
  const fingerprint = trainingFingerprint(model);
  const runId = runIdOf(execution);
  const experiment = model.name;
  await ensureExperiment(deps.tracking, experiment);
  await deps.tracking.createRun({
    experiment,
    runId,
    name: `${model.name} (${trigger.kind})`,
    startTime: startMs,
    params: runParams(model, fingerprint, asOfMs),
    tags: runTags(trigger, execution),
  });

  const attempt = await deps.state.acquireLease(
    model.name,
    execution,
    Math.max(1, startMs + TRAINING_TIMEOUT_MS + LEASE_CLOCK_SLACK_MS - now()),
  );
  if (!leaseTaken(attempt)) {
    const reason = `another execution ${attempt.heldBy} holds the training lease`;
    await deps.tracking.setTags(runId, { outcome: 'dropped', heldBy: tag(attempt.heldBy) });
    await endOnce(deps.tracking, runId, 'KILLED', reason);
    return { outcome: 'dropped', runId, heldBy: attempt.heldBy, reason };
  }

  try {
    const dataset = await buildModelTrainingSet(model, asOfMs, {
      store: deps.store,
      views: deps.views,
      now: () => new Date(now()),
    });
    await deps.tracking.logParams(runId, {
      'dataset.hash': dataset.hash,
      'dataset.rows': dataset.rowCount,
      'dataset.manifestSha256': dataset.manifestSha256,
    });
    const earlier = await deps.state.getResult(model.name, dataset.hash, fingerprint);
    if (earlier !== undefined) {
      await deps.tracking.setTags(runId, { outcome: 'reused', reusedRunId: earlier.runId });
      await endOnce(deps.tracking, runId, 'FINISHED');
      await deps.state.releaseLease(model.name, execution);
      return { outcome: 'reused', runId, earlier };
    }
    const candidates = expandCandidates(model);
    // TODO(lead): SageMaker trainer: set `sagemaker` = writeSagemakerChannels({ model, runId,
    // experiment, dataset, frame, split, features, labelColumn, lineage }, { offline, offlineBucket,
    // artifactBucket }) (./sagemaker-channels.ts, branch sm; the frame and split from the candidate
    // helper's dataset loader). Neither module was on this branch when this was written; the
    // handler will then need ENV.artifactBucket too.
    return {
      outcome: 'train',
      runId,
      experiment,
      dataset,
      fingerprint,
      lease: attempt,
      trigger,
      candidates,
    };
  } catch (error) {
    await deps.state.releaseLease(model.name, execution);
    throw error;
  }
}

interface ParsedEvent {
  readonly execution: string;
  readonly startMs: number;
  readonly asOfMs: number;
  readonly trigger: TrainingTrigger;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function parseTime(value: unknown, field: string): number {
  const ms = typeof value === 'string' && ISO_TIME.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms))
    throw new ValidationError(field, 'must be an ISO 8601 time with a zone (2026-10-10T00:00:00Z)');
  return ms;
}

function parseEvent(event: PrepareTrainingEvent): ParsedEvent {
  if (typeof event?.execution !== 'string' || event.execution === '')
    throw new ValidationError('execution', 'must be the execution ARN ($$.Execution.Id)');
  const startMs = parseTime(event.startTime, 'startTime');
  const input = event.input ?? {};
  if (typeof input !== 'object' || Array.isArray(input))
    throw new ValidationError('input', 'must be an object ({} trains now)');
  const asOfMs = input.asOf === undefined ? startMs : parseTime(input.asOf, 'asOf');
  const trigger = input.trigger ?? { kind: 'manual' };
  if (!TRIGGER_KINDS.includes(trigger?.kind))
    throw new ValidationError('input.trigger.kind', `must be one of ${TRIGGER_KINDS.join(', ')}`);
  return { execution: event.execution, startMs, asOfMs, trigger };
}

/** The experiment named after the model; one created otherwise (by hand, with a description) is used as it is. */
async function ensureExperiment(tracking: TrackingStore, experiment: string): Promise<void> {
  try {
    await tracking.createExperiment({
      name: experiment,
      description: `training runs of model ${experiment}`,
    });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
  }
}

function runParams(model: TrainedModelConfig, fingerprint: string, asOfMs: number): RunParams {
  const params: Record<string, string | number | boolean> = {
    'trainer.algorithm': model.trainer.algorithm,
    'split.testFraction': model.split.testFraction,
    'split.validationFraction': model.split.validationFraction,
    'split.seed': model.split.seed,
    windowDays: model.windowDays,
    asOf: new Date(asOfMs).toISOString(),
    fingerprint,
  };
  const trainerParams: Record<string, unknown> =
    model.trainer.algorithm === 'sagemaker' ? model.trainer.hyperparameters : model.trainer.params;
  for (const [key, value] of Object.entries(trainerParams))
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean')
      params[`trainer.${key}`] = value;
  return params;
}

function runTags(trigger: TrainingTrigger, execution: string): RunTags {
  return {
    trigger: trigger.kind,
    execution: tag(execution),
    ...(trigger.reason !== undefined ? { 'trigger.reason': tag(trigger.reason) } : {}),
    ...(trigger.alarmName !== undefined ? { 'trigger.alarmName': tag(trigger.alarmName) } : {}),
    ...(trigger.rows !== undefined ? { 'trigger.rows': String(trigger.rows) } : {}),
    ...(trigger.window !== undefined
      ? { 'trigger.window': tag(`${trigger.window.start}/${trigger.window.end}`) }
      : {}),
  };
}

/** Ends a RUNNING run; a run already ended (a retried step) is left as it is. */
export async function endOnce(
  tracking: TrackingStore,
  runId: string,
  status: 'FINISHED' | 'FAILED' | 'KILLED',
  reason?: string,
): Promise<void> {
  const run = await tracking.getRun(runId);
  if (run.status !== 'RUNNING') return;
  await tracking.endRun(runId, { status, ...(reason !== undefined ? { reason } : {}) });
}
