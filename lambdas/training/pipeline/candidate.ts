/**
 * The TrainCandidate step (one iteration of the training workflow's Map over hyperparameter
 * candidates) and its SageMaker twin: a trained model judged on the held-out rows, stored under its
 * tracked run, and summed up as a {@link CandidateResult} for EvaluateCandidates.
 *
 * Runs: with a hyperparameter search configured, each candidate is a child run of the execution's
 * run (id derived from the parent's and the candidate's index, so a retried step finds its run);
 * without one, the single candidate logs into the execution's run itself. Child runs end FINISHED
 * (FAILED, with the reason, when training refuses the data).
 *
 * Artifacts (artifact bucket, `runs/<experiment>/<run>/`): `model.onnx`, `evaluation.json` (held-out
 * and validation metrics, latency, rows), `reference-profile.json`, and `candidate.json` (the step's
 * result, written last): a retried step whose run already holds it returns it without training again.
 *
 * Plain code over ObjectStore and TrackingStore (no SDK calls of its own).
 */
import { createHash } from 'node:crypto';
import type { FeatureView } from '../../feature-store/feature-view.js';
import { P95_LATENCY_METRIC } from '../../registry/gates.js';
import type { TrackingStore } from '../../registry/tracking-store.js';
import { ValidationError } from '../../shared/errors.js';
import { runArtifactPrefix } from '../../shared/layout.js';
import type { ObjectStore } from '../../shared/object-store.js';
import type { ReferenceProfile } from '../evaluate/reference-profile.js';
import type { Task } from '../labels.js';
import type { TrainedModelConfig } from '../model-config.js';
import { readModelContract } from '../model-contract.js';
import { selectRows, splitFrame } from '../split.js';
import {
  type Evaluation,
  evaluateOnnxModel,
  type Metrics,
  type TrainerInput,
  trainModel,
} from '../train-model.js';
import { configuredTrainedModel } from './configured-models.js';
import type {
  CandidateResult,
  DatasetRef,
  PrimaryMetric,
  StoredObjectRef,
  TrainCandidateEvent,
} from './contract.js';
import { isNonRetryable } from './contract.js';
import { loadTrainingFrame } from './dataset.js';
import { candidateLineage } from './lineage.js';

/** File names under a candidate's run prefix. */
export const CANDIDATE_FILES = {
  model: 'model.onnx',
  evaluationReport: 'evaluation.json',
  referenceProfile: 'reference-profile.json',
  result: 'candidate.json',
} as const;

/** The metric a task's models are compared by (search, champion gate). */
export function primaryMetric(task: Task): PrimaryMetric {
  if (task === 'binary') return { name: 'rocAuc', direction: 'max' };
  if (task === 'multiclass') return { name: 'macroF1', direction: 'max' };
  return { name: 'rmse', direction: 'min' };
}

/** Whether `a` is better than `b` under `metric`'s direction (strictly). */
export function isBetter(metric: PrimaryMetric, a: number, b: number): boolean {
  return metric.direction === 'max' ? a > b : a < b;
}

/** Counts and settings among the task metrics, not scores: kept in the report, not in the flat metrics. */
const NOT_SCORES = new Set(['task', 'count', 'positives', 'threshold', 'classes', 'undefinedReasons']);

/** Task metrics as finite numbers by name (nulls, arrays and counts left out). */
export function flatTaskMetrics(metrics: Metrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(metrics))
    if (!NOT_SCORES.has(key) && typeof value === 'number' && Number.isFinite(value)) out[key] = value;
  return out;
}

/**
 * An evaluation as the registry's flat metrics (finite numbers only): the task's scores, per-row
 * latency (`p50LatencyMs`, and `p95LatencyMs` — the key the latency gate reads), `modelBytes`,
 * the row counts of each side, and each slice attribute's fairness gaps
 * (`<view:feature>.demographicParity`, `<view:feature>.equalOpportunity`) where defined.
 */
export function flattenMetrics(evaluation: Evaluation): Record<string, number> {
  const out: Record<string, number> = {
    ...flatTaskMetrics(evaluation.metrics),
    p50LatencyMs: evaluation.latency.p50,
    [P95_LATENCY_METRIC]: evaluation.latency.p95,
    modelBytes: evaluation.modelBytes,
    trainRows: evaluation.rows.train,
    validationRows: evaluation.rows.validation,
    testRows: evaluation.rows.test,
  };
  // Fairness gaps per slice attribute, for gates to bound (`<view:feature>.demographicParity`).
  for (const slice of evaluation.slices ?? []) {
    if (slice.demographicParity.value !== null)
      out[`${slice.attribute}.demographicParity`] = slice.demographicParity.value;
    if (slice.equalOpportunity.value !== null)
      out[`${slice.attribute}.equalOpportunity`] = slice.equalOpportunity.value;
  }
  for (const [key, value] of Object.entries(out)) if (!Number.isFinite(value)) delete out[key];
  return out;
}

/** The value of `metric` in task metrics, or undefined when it is undefined (null) there. */
export function metricValue(metrics: Metrics, metric: PrimaryMetric): number | undefined {
  const value = (metrics as unknown as Record<string, unknown>)[metric.name];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * What search picks by: the primary metric on the validation rows. Without validation rows (or
 * when it is undefined there, e.g. one class among them) the held-out value stands in — the only
 * honest score left; the report records which was used.
 */
export function validationScoreOf(
  evaluation: Evaluation,
  validationMetrics: Metrics | undefined,
  metric: PrimaryMetric,
): { value: number; from: 'validation' | 'test' } {
  const validation = validationMetrics === undefined ? undefined : metricValue(validationMetrics, metric);
  if (validation !== undefined) return { value: validation, from: 'validation' };
  const test = metricValue(evaluation.metrics, metric);
  if (test !== undefined) return { value: test, from: 'test' };
  throw new ValidationError(
    'label',
    `leaves the primary metric ${metric.name} undefined on both validation and held-out rows (${
      evaluation.metrics.undefinedReasons[metric.name] ?? 'no value'
    })`,
  );
}

export interface CandidateDeps {
  /** The offline bucket (training sets). */
  readonly offline: ObjectStore;
  /** The artifact bucket (run artifacts). */
  readonly artifacts: ObjectStore;
  readonly tracking: TrackingStore;
  /** @default the models baked into the bundle */
  readonly models?: readonly TrainedModelConfig[];
  /** @default the views baked into the bundle */
  readonly views?: ReadonlyMap<string, FeatureView>;
  /** Held-out rows timed one at a time. @default 200 */
  readonly latencyRows?: number;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/**
 * A candidate's run id: a child `<parent>-c<index>` (hashed when that would pass the 64-character
 * limit), deterministic so a retried step reuses its run.
 */
export function candidateRunId(parentRunId: string, index: number): string {
  const plain = `${parentRunId}-c${index}`;
  if (plain.length <= 64) return plain;
  return `${createHash('sha256').update(parentRunId).digest('hex').slice(0, 40)}-c${index}`;
}

/** Params as a tracked run takes them: strings, finite numbers, booleans (anything else as JSON). */
export function runParams(
  params: Readonly<Record<string, unknown>>,
): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(params)) {
    if (typeof value === 'string' || typeof value === 'boolean') out[key] = value;
    else if (typeof value === 'number' && Number.isFinite(value)) out[key] = value;
    else if (value !== undefined) out[key] = JSON.stringify(value);
  }
  return out;
}

const sha256 = (body: Uint8Array | string) => createHash('sha256').update(body).digest('hex');

async function putRef(
  store: ObjectStore,
  key: string,
  body: Uint8Array | string,
  contentType: string,
): Promise<StoredObjectRef> {
  await store.put(key, body, { contentType });
  const bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  return { key, sha256: sha256(body), sizeBytes: bytes };
}

interface RunTarget {
  readonly runId: string;
  readonly child: boolean;
}

/** Opens the candidate's run (a child when searching) and returns an earlier result if it has one. */
async function openRun(
  deps: CandidateDeps,
  model: TrainedModelConfig,
  parent: { runId: string; experiment: string },
  index: number,
  params: Record<string, string | number | boolean>,
): Promise<{ target: RunTarget; earlier?: CandidateResult }> {
  const child = model.search !== undefined;
  const runId = child ? candidateRunId(parent.runId, index) : parent.runId;
  const earlierBody = await deps.artifacts.get(
    `${runArtifactPrefix(parent.experiment, runId)}${CANDIDATE_FILES.result}`,
  );
  if (earlierBody !== undefined) {
    const earlier = JSON.parse(new TextDecoder().decode(earlierBody)) as CandidateResult;
    if (child) await deps.tracking.endRun(runId, { status: 'FINISHED' });
    return { target: { runId, child }, earlier };
  }
  if (child)
    await deps.tracking.createRun({
      experiment: parent.experiment,
      runId,
      name: `${model.name} candidate ${index}`,
      parentRunId: parent.runId,
      params,
      tags: { candidate: String(index) },
    });
  else await deps.tracking.logParams(runId, params);
  return { target: { runId, child } };
}

interface Judged {
  readonly onnx: Uint8Array;
  readonly evaluation: Evaluation;
  readonly validationMetrics?: Metrics;
  readonly referenceProfile: ReferenceProfile;
  readonly reportedMetrics?: Readonly<Record<string, number>>;
}

/** Stores a judged model under its run, logs its metrics, writes the step's result, ends a child run. */
async function recordCandidate(
  deps: CandidateDeps,
  model: TrainedModelConfig,
  experiment: string,
  target: RunTarget,
  index: number,
  params: Readonly<Record<string, unknown>>,
  judged: Judged,
): Promise<CandidateResult> {
  const metric = primaryMetric(model.task);
  const score = validationScoreOf(judged.evaluation, judged.validationMetrics, metric);
  const metrics = flattenMetrics(judged.evaluation);
  const prefix = runArtifactPrefix(experiment, target.runId);
  const json = 'application/json';
  const report = {
    model: model.name,
    runId: target.runId,
    candidate: index,
    params,
    primaryMetric: metric,
    validationScore: score.value,
    /** Which rows the validation score came from (`test` only when there were no validation rows). */
    validationScoreFrom: score.from,
    metrics: judged.evaluation.metrics,
    ...(judged.validationMetrics === undefined ? {} : { validationMetrics: judged.validationMetrics }),
    latency: judged.evaluation.latency,
    modelBytes: judged.evaluation.modelBytes,
    rows: judged.evaluation.rows,
    ...(judged.evaluation.slices === undefined ? {} : { slices: judged.evaluation.slices }),
    ...(judged.reportedMetrics === undefined ? {} : { reportedMetrics: judged.reportedMetrics }),
  };
  const modelRef = await putRef(
    deps.artifacts,
    `${prefix}${CANDIDATE_FILES.model}`,
    judged.onnx,
    'application/octet-stream',
  );
  const evaluationReport = await putRef(
    deps.artifacts,
    `${prefix}${CANDIDATE_FILES.evaluationReport}`,
    `${JSON.stringify(report, null, 2)}\n`,
    json,
  );
  const referenceProfile = await putRef(
    deps.artifacts,
    `${prefix}${CANDIDATE_FILES.referenceProfile}`,
    `${JSON.stringify(judged.referenceProfile)}\n`,
    json,
  );
  const timestamp = (deps.now ?? (() => new Date()))().getTime();
  const logged: Record<string, number> = { ...metrics, validationScore: score.value };
  for (const [key, value] of Object.entries(judged.reportedMetrics ?? {}))
    if (Number.isFinite(value)) logged[`reported.${key}`] = value;
  const points = Object.entries(logged).map(([key, value]) => ({ key, value, step: 0, timestamp }));
  for (let i = 0; i < points.length; i += 40)
    await deps.tracking.logMetrics(target.runId, points.slice(i, i + 40));
  const result: CandidateResult = {
    index,
    runId: target.runId,
    params,
    model: modelRef,
    evaluationReport,
    referenceProfile,
    validationScore: score.value,
    metrics,
  };
  await deps.artifacts.put(`${prefix}${CANDIDATE_FILES.result}`, JSON.stringify(result), {
    contentType: json,
  });
  if (target.child) await deps.tracking.endRun(target.runId, { status: 'FINISHED' });
  return result;
}

/**
 * Ends a child run FAILED with the error's message when Step Functions will not retry the error,
 * then rethrows it; a transient error leaves the run RUNNING for the retry to finish.
 */
async function failing<T>(deps: CandidateDeps, target: RunTarget, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (target.child && isNonRetryable(error))
      await deps.tracking
        .endRun(target.runId, { status: 'FAILED', reason: String((error as Error).message).slice(0, 4096) })
        .catch(() => undefined); // the original error is the one to report
    throw error;
  }
}

/** Trains one candidate with the model's built-in trainer and the candidate's params. */
export async function trainCandidate(
  event: TrainCandidateEvent,
  deps: CandidateDeps,
): Promise<CandidateResult> {
  const model = configuredTrainedModel(event.model, deps.models);
  const algorithm = model.trainer.algorithm;
  if (algorithm === 'sagemaker')
    throw new ValidationError(
      'trainer.algorithm',
      `is sagemaker for model ${model.name}: its candidates train on SageMaker, not in TrainCandidate`,
    );
  const params = runParams({ algorithm, ...event.candidate.params });
  const { target, earlier } = await openRun(deps, model, event, event.candidate.index, params);
  if (earlier !== undefined) return earlier;
  return failing(deps, target, async () => {
    const loaded = await loadTrainingFrame(deps.offline, event.dataset, model, {
      ...(deps.views === undefined ? {} : { views: deps.views }),
    });
    const trainer = { algorithm, params: event.candidate.params } as TrainerInput; // trainModel parses it
    const trained = await trainModel({
      task: model.task,
      frame: loaded.frame,
      label: loaded.label,
      features: loaded.features,
      trainer,
      split: { ...model.split, identity: loaded.identity },
      lineage: candidateLineage(event.dataset, target.runId, event.fingerprint),
      slices: loaded.slices,
      ...(deps.latencyRows === undefined ? {} : { latencyRows: deps.latencyRows }),
    });
    return recordCandidate(
      deps,
      model,
      event.experiment,
      target,
      event.candidate.index,
      event.candidate.params,
      {
        onnx: trained.onnx,
        evaluation: trained.evaluation,
        ...(trained.validationMetrics === undefined ? {} : { validationMetrics: trained.validationMetrics }),
        referenceProfile: trained.referenceProfile,
      },
    );
  });
}

export interface OnnxCandidateInput {
  /** The model's name (its configuration comes from `deps.models`). */
  readonly model: string;
  /** The execution's run. */
  readonly runId: string;
  readonly experiment: string;
  readonly dataset: DatasetRef;
  readonly index: number;
  readonly params: Readonly<Record<string, unknown>>;
  /** The model, carrying the model contract's metadata (model-contract.ts). */
  readonly onnx: Uint8Array;
  /** What the outside trainer reported (its `metrics.json`); recorded, never trusted for gates. */
  readonly reportedMetrics?: Readonly<Record<string, number>>;
}

/**
 * A candidate trained elsewhere (the SageMaker path): its contract read from the ONNX metadata, its
 * held-out and validation rows (the model's split of the same training set) scored in onnxruntime
 * exactly as a built-in model's are. A model without a readable contract, or whose encoding names
 * columns the training set lacks, is a ValidationError.
 */
export async function candidateFromOnnx(
  input: OnnxCandidateInput,
  deps: CandidateDeps,
): Promise<CandidateResult> {
  const model = configuredTrainedModel(input.model, deps.models);
  const contract = readModelContract(input.onnx);
  if (contract.output.kind !== model.task)
    throw new ValidationError(
      'onnx.metadata.mlops.output',
      `must be of kind ${model.task} (model ${model.name}'s task), not ${contract.output.kind}`,
    );
  const params = runParams(input.params);
  const { target, earlier } = await openRun(deps, model, input, input.index, params);
  if (earlier !== undefined) return earlier;
  return failing(deps, target, async () => {
    const loaded = await loadTrainingFrame(deps.offline, input.dataset, model, {
      ...(deps.views === undefined ? {} : { views: deps.views }),
    });
    const split = splitFrame(loaded.frame, model.split, loaded.identity);
    const test = selectRows(loaded.frame, split.test);
    if (test.rows === 0)
      throw new ValidationError('split.testFraction', `leaves no held-out rows among ${loaded.frame.rows}`);
    const evaluated = await evaluateOnnxModel({
      task: model.task,
      onnx: input.onnx,
      encoding: contract.encoding,
      classes: contract.classes,
      label: loaded.label,
      features: loaded.features,
      test,
      validation: selectRows(loaded.frame, split.validation),
      rows: { train: split.train.length, validation: split.validation.length, test: split.test.length },
      slices: loaded.slices,
      ...(deps.latencyRows === undefined ? {} : { latencyRows: deps.latencyRows }),
    });
    return recordCandidate(deps, model, input.experiment, target, input.index, input.params, {
      onnx: input.onnx,
      evaluation: evaluated.evaluation,
      ...(evaluated.validationMetrics === undefined
        ? {}
        : { validationMetrics: evaluated.validationMetrics }),
      referenceProfile: evaluated.referenceProfile,
      ...(input.reportedMetrics === undefined ? {} : { reportedMetrics: input.reportedMetrics }),
    });
  });
}
