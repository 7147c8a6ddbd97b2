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
import type { FeatureView } from '../../feature-store/feature-view.js';
import type { RunParams, RunTags, TrackedRun } from '../../registry/tracking.js';
import type { TrackingStore } from '../../registry/tracking-store.js';
import { ConfigurationError, ConflictError, ValidationError } from '../../shared/errors.js';
import type { ObjectStore } from '../../shared/object-store.js';
import type { TrainedModelConfig } from '../model-config.js';
import { splitFrame } from '../split.js';
import { configuredTrainedModel, configuredTrainedModels } from './configured-models.js';
import {
  type DatasetRef,
  isNonRetryable,
  type PrepareTrainingEvent,
  type PrepareTrainingResult,
  type SagemakerJobRef,
  TRIGGER_KINDS,
  type TrainingTrigger,
} from './contract.js';
import { loadTrainingFrame } from './dataset.js';
import { trainingFingerprint } from './fingerprint.js';
import { candidateLineage } from './lineage.js';
import { endOnce } from './run-end.js';
import { TRAINING_RUN_TAGS, trainingRunId } from './run-id.js';
import { writeSagemakerChannels } from './sagemaker-channels.js';
import { expandCandidates } from './search-space.js';
import { trainingTimeoutMs } from './timeout.js';
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
  /** Bucket names for a SageMaker model's job (its channels and output); required for such a model. */
  readonly buckets?: { readonly offline: string; readonly artifact: string };
}

/** Writes a SageMaker model's channels (split by the model's seed) and names its job. */
async function sagemakerChannels(
  model: TrainedModelConfig,
  runId: string,
  experiment: string,
  dataset: DatasetRef,
  fingerprint: string,
  deps: PrepareTrainingDeps,
): Promise<SagemakerJobRef> {
  if (deps.buckets === undefined)
    throw new ConfigurationError('PrepareTraining needs the bucket names for a SageMaker model');
  const loaded = await loadTrainingFrame(deps.store, dataset, model, { views: deps.views });
  return writeSagemakerChannels(
    {
      model,
      runId,
      experiment,
      dataset,
      frame: loaded.frame,
      split: splitFrame(loaded.frame, model.split, loaded.identity),
      features: loaded.features,
      labelColumn: loaded.label,
      labelType: loaded.labelType,
      lineage: candidateLineage(dataset, runId, fingerprint),
    },
    { offline: deps.store, offlineBucket: deps.buckets.offline, artifactBucket: deps.buckets.artifact },
  );
}

/**
 * Slack past the execution's own timeout before its lease expires: Step Functions' clock and
 * Lambda's are not the same clock.
 */
export const LEASE_CLOCK_SLACK_MS = 60_000;

/** Most characters of a tag value (the tracking store's rule). */
const TAG_CHARS = 256;
const tag = (value: string) => (value.length > TAG_CHARS ? `${value.slice(0, TAG_CHARS - 1)}…` : value);

export async function prepareTraining(
  event: PrepareTrainingEvent,
  deps: PrepareTrainingDeps,
): Promise<PrepareTrainingResult> {
  const now = deps.now ?? Date.now;
  const { execution, startMs, asOfMs, trigger } = parseEvent(event);
  const model = configuredTrainedModel(event.model, deps.models ?? configuredTrainedModels());
  const fingerprint = trainingFingerprint(model);
  const runId = trainingRunId(execution);
  const experiment = model.name;
  await ensureExperiment(deps.tracking, experiment);
  const run = await deps.tracking.createRun({
    experiment,
    runId,
    name: `${model.name} (${trigger.kind})`,
    startTime: startMs,
    params: runParams(model, fingerprint, asOfMs),
    tags: runTags(trigger, execution),
  });
  // A retry of a Prepare that already decided (its answer was lost): the same answer again.
  if (run.status !== 'RUNNING') return decidedBefore(run, model, fingerprint, deps.state);

  const attempt = await deps.state.acquireLease(
    model.name,
    execution,
    Math.max(1, startMs + trainingTimeoutMs(model) + LEASE_CLOCK_SLACK_MS - now()),
  );
  if (!leaseTaken(attempt)) {
    const reason = `another execution ${attempt.heldBy} holds the training lease`;
    await deps.tracking.setTags(runId, {
      [TRAINING_RUN_TAGS.outcome]: 'dropped',
      heldBy: tag(attempt.heldBy),
    });
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
      await deps.tracking.setTags(runId, {
        [TRAINING_RUN_TAGS.outcome]: 'reused',
        reusedRunId: earlier.runId,
      });
      await endOnce(deps.tracking, runId, 'FINISHED');
      await deps.state.releaseLease(model.name, execution);
      return { outcome: 'reused', runId, earlier };
    }
    const candidates = model.trainer.algorithm === 'sagemaker' ? [] : expandCandidates(model);
    const sagemaker =
      model.trainer.algorithm === 'sagemaker'
        ? await sagemakerChannels(model, runId, experiment, dataset, fingerprint, deps)
        : undefined;
    return {
      outcome: 'train',
      runId,
      experiment,
      dataset,
      fingerprint,
      lease: attempt,
      trigger,
      candidates,
      ...(sagemaker === undefined ? {} : { sagemaker }),
    };
  } catch (error) {
    // Bad input ends the execution: free the model now. A transient error keeps the lease for
    // Step Functions' retry (another execution taking it meanwhile would drop this one).
    if (isNonRetryable(error)) await deps.state.releaseLease(model.name, execution);
    throw error;
  }
}

async function decidedBefore(
  run: TrackedRun,
  model: TrainedModelConfig,
  fingerprint: string,
  state: TrainingStateStore,
): Promise<PrepareTrainingResult> {
  const { runId, tags, params } = run;
  if (tags.outcome === 'dropped' && tags.heldBy !== undefined)
    return { outcome: 'dropped', runId, heldBy: tags.heldBy, reason: run.reason ?? '' };
  const hash = params['dataset.hash'];
  const earlier =
    tags.outcome === 'reused' && typeof hash === 'string'
      ? await state.getResult(model.name, hash, fingerprint)
      : undefined;
  if (earlier !== undefined) return { outcome: 'reused', runId, earlier };
  throw new ValidationError('execution', `must name a running execution: its run ${runId} is ${run.status}`);
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
    [TRAINING_RUN_TAGS.trigger]: trigger.kind,
    [TRAINING_RUN_TAGS.execution]: tag(execution),
    ...(trigger.reason !== undefined ? { 'trigger.reason': tag(trigger.reason) } : {}),
    ...(trigger.alarmName !== undefined ? { 'trigger.alarmName': tag(trigger.alarmName) } : {}),
    ...(trigger.rows !== undefined ? { 'trigger.rows': String(trigger.rows) } : {}),
    ...(trigger.window !== undefined
      ? { 'trigger.window': tag(`${trigger.window.start}/${trigger.window.end}`) }
      : {}),
  };
}
