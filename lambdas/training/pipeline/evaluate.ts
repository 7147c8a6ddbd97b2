/**
 * The EvaluateCandidates step: pick the best candidate by its validation score, re-score the
 * current champion on the same held-out rows, apply the model's gates and the champion gate, and —
 * when everything passes — copy the winner's artifacts to their content-addressed registry keys
 * and build the register function's request.
 *
 * - Best: the best `validationScore` under the task's primary metric (candidate.ts
 *   `primaryMetric`), ties to the lowest index. The parent run records the outcome (tag
 *   `bestCandidate`, metric `bestValidationScore`).
 * - Champion: the model's `champion` alias (none set: no champion, the gate is skipped). Its
 *   artifact is read (digest checked against the record), its contract read from the ONNX metadata,
 *   and the candidate's held-out rows (dataset.ts `heldOutFrame`: the same split, recomputed) encoded
 *   with ITS encoding spec and scored in onnxruntime. A champion that cannot be read or scored is a
 *   {@link ChampionScoringError}: never a silent pass.
 * - Gates: every configured gate (whatever `gates.stages` says: training judges the candidate once,
 *   here) against the candidate's flat metrics and model size, plus `champion:<metric>`: the
 *   candidate beats the champion by at least `championMinDelta` (max: cand − champ ≥ δ; min:
 *   champ − cand ≥ δ).
 * - Rejected: `passed: false` with each failed gate described; nothing copied, nothing to register.
 *
 * Plain code over ObjectStore, TrackingStore and an alias reader.
 */
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import type { FeatureView } from '../../feature-store/feature-view.js';
import { describeGateResult, evaluateGates, type GateResult } from '../../registry/gates.js';
import type { ModelVersion } from '../../registry/model-version.js';
import { artifactKey, parseRegisterModelVersion } from '../../registry/model-version.js';
import type { TrackingStore } from '../../registry/tracking-store.js';
import { CorruptDataError, MlopsError, NotFoundError, ValidationError } from '../../shared/errors.js';
import { CHAMPION_ALIAS } from '../../shared/layout.js';
import type { ObjectStore } from '../../shared/object-store.js';
import type { TrainedModelConfig } from '../model-config.js';
import { readModelContract } from '../model-contract.js';
import { scoreFrame } from '../train-model.js';
import { CANDIDATE_FILES, isBetter, metricValue, primaryMetric, runParams } from './candidate.js';
import { configuredTrainedModel } from './configured-models.js';
import type {
  CandidateResult,
  EvaluateCandidatesEvent,
  EvaluateCandidatesResult,
  PrimaryMetric,
  StoredObjectRef,
} from './contract.js';
import { heldOutFrame, loadTrainingFrame } from './dataset.js';

/** The registry alias whose version a candidate must beat (one home: ../../shared/layout.ts). */
export { CHAMPION_ALIAS };

/**
 * The champion exists but could not be re-scored (artifact missing or altered, no readable model
 * contract, an encoding or classes the held-out rows do not fit). Retrying does not help; the
 * execution fails with this named, rather than registering a model judged against nothing.
 */
export class ChampionScoringError extends MlopsError {
  readonly modelName: string;
  readonly version: number;

  constructor(modelName: string, version: number, reason: string, options?: ErrorOptions) {
    super(
      `champion version ${version} of ${modelName} cannot be re-scored on the held-out rows: ${reason}`,
      500,
      'CHAMPION_UNSCORABLE',
      options,
    );
    this.name = 'ChampionScoringError';
    this.modelName = modelName;
    this.version = version;
  }
}

export interface EvaluateDeps {
  readonly offline: ObjectStore;
  /** The artifact bucket: candidates' run artifacts, the registry's artifacts. */
  readonly artifacts: ObjectStore;
  readonly tracking: TrackingStore;
  /** The registry's alias reader (alias-reader.ts `ModelAliasReader`). */
  readonly aliases: { get(modelName: unknown, alias: unknown): Promise<ModelVersion> };
  /** @default the models baked into the bundle */
  readonly models?: readonly TrainedModelConfig[];
  /** @default the views baked into the bundle */
  readonly views?: ReadonlyMap<string, FeatureView>;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/** The best candidate by validation score under `metric` (ties: the lowest index). */
export function selectBest(candidates: readonly CandidateResult[], metric: PrimaryMetric): CandidateResult {
  if (candidates.length === 0)
    throw new ValidationError('candidates', 'must hold at least one trained candidate');
  let best: CandidateResult | undefined;
  for (const c of candidates) {
    if (!Number.isFinite(c.validationScore))
      throw new ValidationError(`candidates.${c.index}.validationScore`, 'must be a finite number');
    if (
      best === undefined ||
      isBetter(metric, c.validationScore, best.validationScore) ||
      (c.validationScore === best.validationScore && c.index < best.index)
    )
      best = c;
  }
  return best as CandidateResult;
}

/**
 * Rounding allowance of the champion gate: 0.85 − 0.8 is 0.04999999999999993 in binary floating
 * point, and a candidate exactly δ better must pass.
 */
const DELTA_TOLERANCE = 1e-12;

/**
 * The champion gate: the candidate beats the champion by at least `minDelta` on the primary
 * metric (max: cand − champ ≥ δ; min: champ − cand ≥ δ). A candidate without the metric fails.
 */
export function championGate(
  metric: PrimaryMetric,
  candidate: number | undefined,
  champion: number,
  minDelta: number,
): GateResult {
  const known = candidate !== undefined && Number.isFinite(candidate);
  const margin = known
    ? metric.direction === 'max'
      ? candidate - champion
      : champion - candidate
    : Number.NaN;
  return {
    gate: `champion:${metric.name}`,
    value: known ? candidate : null,
    threshold: metric.direction === 'max' ? champion + minDelta : champion - minDelta,
    comparison: metric.direction === 'max' ? '>=' : '<=',
    passed: known && margin >= minDelta - DELTA_TOLERANCE * Math.max(1, Math.abs(champion)),
  };
}

const sha256 = (body: Uint8Array) => createHash('sha256').update(body).digest('hex');

/** The champion's primary metric on `frame`, or undefined when no champion is set. */
async function scoreChampion(
  deps: EvaluateDeps,
  model: TrainedModelConfig,
  metric: PrimaryMetric,
  frame: Parameters<typeof scoreFrame>[1]['frame'],
  label: string,
): Promise<{ version: number; value: number } | undefined> {
  let champion: ModelVersion;
  try {
    champion = await deps.aliases.get(model.name, CHAMPION_ALIAS);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
  const fail = (reason: string, cause?: unknown): never => {
    throw new ChampionScoringError(
      model.name,
      champion.version,
      reason,
      cause === undefined ? undefined : { cause },
    );
  };
  const ref = champion.artifacts.model;
  const bytes = await deps.artifacts.get(ref.key);
  if (bytes === undefined) return fail(`its artifact ${ref.key} is missing`);
  if (sha256(bytes) !== ref.sha256) return fail(`its artifact ${ref.key} does not match the recorded sha256`);
  let session: ort.InferenceSession | undefined;
  try {
    const contract = readModelContract(bytes);
    session = await ort.InferenceSession.create(bytes);
    const scored = await scoreFrame(session, {
      task: model.task,
      encoding: contract.encoding,
      classes: contract.classes,
      label,
      frame,
    });
    const value = metricValue(scored.metrics, metric);
    if (value === undefined)
      return fail(
        `its ${metric.name} is undefined (${scored.metrics.undefinedReasons[metric.name] ?? 'no value'})`,
      );
    return { version: champion.version, value };
  } catch (error) {
    if (error instanceof ChampionScoringError) throw error;
    return fail((error as Error).message, error);
  } finally {
    await session?.release();
  }
}

/** Copies a run artifact to its content-addressed registry key (written once; an existing one is checked). */
async function publish(
  store: ObjectStore,
  modelName: string,
  ref: StoredObjectRef,
  fileName: string,
  contentType: string,
): Promise<{ key: string; sha256: string }> {
  const body = await store.get(ref.key);
  if (body === undefined)
    throw new ValidationError(`candidates.${fileName}`, `must name an existing object (no ${ref.key})`);
  if (sha256(body) !== ref.sha256)
    throw new CorruptDataError(ref.key, `does not match the sha256 its candidate recorded (${ref.sha256})`);
  const key = artifactKey(modelName, ref.sha256, fileName);
  const written = await store.put(key, body, { contentType, ifAbsent: true });
  if (!written) {
    const existing = await store.get(key);
    if (existing === undefined || sha256(existing) !== ref.sha256)
      throw new CorruptDataError(key, 'holds other bytes than the sha256 its key names');
  }
  return { key, sha256: ref.sha256 };
}

/** Records the search's outcome on the execution's run (once: a retried step adds nothing). */
async function recordOutcome(deps: EvaluateDeps, event: EvaluateCandidatesEvent, best: CandidateResult) {
  const run = await deps.tracking.getRun(event.runId);
  await deps.tracking.setTags(event.runId, {
    bestCandidate: String(best.index),
    bestCandidateRun: best.runId,
  });
  if (run.status === 'RUNNING' && run.metrics.bestValidationScore === undefined)
    await deps.tracking.logMetrics(event.runId, [
      {
        key: 'bestValidationScore',
        value: best.validationScore,
        step: 0,
        timestamp: (deps.now ?? (() => new Date()))().getTime(),
      },
    ]);
}

export async function evaluateCandidates(
  event: EvaluateCandidatesEvent,
  deps: EvaluateDeps,
): Promise<EvaluateCandidatesResult> {
  const model = configuredTrainedModel(event.model, deps.models);
  const metric = primaryMetric(model.task);
  const best = selectBest(event.candidates, metric);
  await recordOutcome(deps, event, best);

  const loaded = await loadTrainingFrame(deps.offline, event.dataset, model, {
    ...(deps.views === undefined ? {} : { views: deps.views }),
  });
  const champion = await scoreChampion(deps, model, metric, heldOutFrame(loaded, model), loaded.label);
  const candidateValue = best.metrics[metric.name];
  const gates = evaluateGates(model.gates, {
    metrics: best.metrics,
    artifact: { sizeBytes: best.model.sizeBytes },
  });
  const reasons = gates.filter((g) => !g.passed).map(describeGateResult);
  if (champion !== undefined) {
    const gate = championGate(metric, candidateValue, champion.value, model.championMinDelta);
    gates.push(gate);
    if (!gate.passed)
      reasons.push(
        `${metric.name} ${candidateValue ?? 'is missing and'} does not beat champion version ${champion.version} (${champion.value} on the same held-out rows) by at least ${model.championMinDelta} (${metric.direction === 'max' ? 'higher' : 'lower'} is better)`,
      );
  }
  const summary = {
    best,
    primaryMetric: { ...metric, value: candidateValue ?? best.validationScore },
    ...(champion === undefined ? {} : { champion }),
    gates,
  };
  if (reasons.length > 0) return { passed: false, reasons, ...summary };

  const onnx = await deps.artifacts.get(best.model.key);
  if (onnx === undefined)
    throw new ValidationError('candidates.model.key', `must name an existing object (no ${best.model.key})`);
  const contract = readModelContract(onnx);
  const artifact = await publish(
    deps.artifacts,
    model.name,
    best.model,
    CANDIDATE_FILES.model,
    'application/octet-stream',
  );
  const evaluationReport = await publish(
    deps.artifacts,
    model.name,
    best.evaluationReport,
    CANDIDATE_FILES.evaluationReport,
    'application/json',
  );
  const referenceProfile = await publish(
    deps.artifacts,
    model.name,
    best.referenceProfile,
    CANDIDATE_FILES.referenceProfile,
    'application/json',
  );
  const trainer =
    contract.lineage.trainer ??
    (model.trainer.algorithm === 'sagemaker'
      ? { name: 'sagemaker', version: model.trainer.image.slice(-256) }
      : { name: `builtin-${model.trainer.algorithm}`, version: 'unknown' });
  const registration = parseRegisterModelVersion({
    modelName: model.name,
    artifact,
    artifacts: { evaluationReport, referenceProfile },
    signature: contract.signature,
    output: contract.output,
    metrics: best.metrics,
    params: runParams(best.params),
    tags: { trainingRun: event.runId, candidate: String(best.index) },
    lineage: {
      runId: best.runId,
      configFingerprint: event.fingerprint,
      trainingSet: { manifestKey: event.dataset.manifestKey, sha256: event.dataset.manifestSha256 },
      trainer,
      datasetHash: event.dataset.hash,
    },
    description:
      model.description ||
      `${model.name}: candidate ${best.index} of ${event.candidates.length}, trained on dataset ${event.dataset.hash.slice(0, 12)}`,
    clientToken: event.execution,
  });
  return { passed: true, reasons: [], ...summary, registration };
}
