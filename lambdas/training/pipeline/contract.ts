/**
 * The training workflow's state, step by step: what each task of the `TrainingPipeline` state
 * machine (lib/training-pipeline.ts) receives and returns. One home for these shapes: the step
 * functions, the construct's JSONPaths, the CLI and the tests read them from here.
 *
 *   PrepareTraining ─ dropped ─▶ TriggerDropped (Succeed)
 *        │ ─ reused ─▶ ReusedEarlierResult (Succeed)
 *        ▼ train
 *   TrainCandidates (Map over candidates, built-in trainers)  |  SageMaker: CreateTrainingJob.sync ─▶ UnpackSagemakerModel
 *        ▼
 *   EvaluateCandidates (best by validation score; champion re-scored on the same held-out rows; gates)
 *        │ ─ rejected ─▶ FinishTraining(rejected) ─▶ TrainingRejected (Succeed: a rejection is not an error)
 *        ▼ passed
 *   RegisterModelVersion ─▶ TransitionToStaging ─▶ FinishTraining(succeeded) ─▶ TrainingSucceeded
 *   any task's error (after retries) ─▶ FinishTraining(failed, cause) ─▶ TrainingFailed (Fail)
 *
 * Plain types: no AWS SDK.
 */
import type { GateResult } from '../../registry/gates.js';
import type { ModelLineage } from '../../registry/version-record.js';

/** What started an execution. `drift` comes from a CloudWatch alarm; `new-data` from ingestion. */
export const TRIGGER_KINDS = ['manual', 'schedule', 'drift', 'new-data'] as const;
export type TriggerKind = (typeof TRIGGER_KINDS)[number];

export interface TrainingTrigger {
  readonly kind: TriggerKind;
  /** Free text: the alarm's reason, who started it. */
  readonly reason?: string;
  /** `drift`: the alarm's name (it follows layout.ts `retrainingAlarmName`). */
  readonly alarmName?: string;
  /** `drift`: the window the alarm evaluated; `new-data`: when the counted rows arrived. */
  readonly window?: { readonly start: string; readonly end: string };
  /** `new-data`: rows counted since the last training. */
  readonly rows?: number;
}

/** The execution's input (every field optional: `{}` trains now on the configured window). */
export interface TrainingPipelineInput {
  readonly trigger?: TrainingTrigger;
  /** ISO time the training window ends at. @default the execution's start time */
  readonly asOf?: string;
}

/** The PrepareTraining task's payload: the input plus what the state machine knows. */
export interface PrepareTrainingEvent {
  /** The model this state machine trains (baked in at synthesis). */
  readonly model: string;
  readonly input: TrainingPipelineInput;
  /** `$$.Execution.Id`: the lease holder, the run's identity, the registration's client token. */
  readonly execution: string;
  /** `$$.Execution.StartTime` (ISO). */
  readonly startTime: string;
}

export interface DatasetRef {
  /** The training set's content hash (feature store manifest `hash`). */
  readonly hash: string;
  /** Parquet of the training set (offline bucket). */
  readonly dataKey: string;
  readonly manifestKey: string;
  /** sha256 of the manifest object (the registry's `lineage.trainingSet.sha256`). */
  readonly manifestSha256: string;
  readonly rowCount: number;
}

export interface LeaseRef {
  readonly holder: string;
  readonly expiresAtMs: number;
}

/** One hyperparameter candidate: the trainer's params for it (search space applied on the config's). */
export interface CandidateSpec {
  readonly index: number;
  readonly params: Readonly<Record<string, unknown>>;
}

/** SageMaker trainer: where the job reads its channels and writes its output. */
export interface SagemakerJobRef {
  /** Unique per execution, ≤ 63 characters (SageMaker's rule). */
  readonly jobName: string;
  /** s3:// URIs of the Parquet channels (train, validation, test) and the `config` channel (encoding spec, model config). */
  readonly channels: Readonly<Record<'train' | 'validation' | 'test' | 'config', string>>;
  /** s3:// prefix the job's output goes under (`<output>/<jobName>/output/model.tar.gz`). */
  readonly outputUri: string;
  /** Hyperparameters as SageMaker takes them (strings). */
  readonly hyperparameters: Readonly<Record<string, string>>;
}

export type PrepareTrainingResult =
  | {
      readonly outcome: 'dropped';
      readonly runId: string;
      /** The execution that holds the lease. */
      readonly heldBy: string;
      readonly reason: string;
    }
  | {
      readonly outcome: 'reused';
      readonly runId: string;
      /** The earlier execution's result for the same (model, dataset hash, config fingerprint). */
      readonly earlier: TrainingResultRecord;
    }
  | {
      readonly outcome: 'train';
      readonly runId: string;
      /** The tracking experiment (the model's name). */
      readonly experiment: string;
      readonly dataset: DatasetRef;
      /** sha256 of the model's training-relevant configuration (canonical JSON). */
      readonly fingerprint: string;
      readonly lease: LeaseRef;
      readonly trigger: TrainingTrigger;
      /** Built-in trainers: one per hyperparameter candidate (one when no search is configured). */
      readonly candidates: readonly CandidateSpec[];
      /** SageMaker trainer only. */
      readonly sagemaker?: SagemakerJobRef;
    };

/** The TrainCandidate task's payload (one Map iteration). */
export interface TrainCandidateEvent {
  readonly model: string;
  /** The parent run; the candidate is its child run. */
  readonly runId: string;
  readonly experiment: string;
  readonly dataset: DatasetRef;
  readonly fingerprint: string;
  readonly candidate: CandidateSpec;
}

/** The UnpackSagemakerModel task's payload. */
export interface UnpackSagemakerModelEvent {
  readonly model: string;
  readonly runId: string;
  readonly experiment: string;
  readonly dataset: DatasetRef;
  readonly fingerprint: string;
  readonly sagemaker: SagemakerJobRef;
}

export interface StoredObjectRef {
  readonly key: string;
  readonly sha256: string;
  readonly sizeBytes: number;
}

/** A trained candidate: its artifacts (artifact bucket, under its run) and its scores. */
export interface CandidateResult {
  readonly index: number;
  /** The candidate's run (a child of the execution's run when searching; else the run itself). */
  readonly runId: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly model: StoredObjectRef;
  readonly evaluationReport: StoredObjectRef;
  readonly referenceProfile: StoredObjectRef;
  /** The primary metric on the validation rows (what search picks by). */
  readonly validationScore: number;
  /** Held-out metrics, flat (the registry's metrics: finite numbers only). */
  readonly metrics: Readonly<Record<string, number>>;
}

/** The EvaluateCandidates task's payload. */
export interface EvaluateCandidatesEvent {
  readonly model: string;
  readonly runId: string;
  readonly experiment: string;
  readonly dataset: DatasetRef;
  readonly fingerprint: string;
  readonly candidates: readonly CandidateResult[];
  readonly execution: string;
}

export interface PrimaryMetric {
  /** A key of `CandidateResult.metrics`: `rocAuc` (binary), `macroF1` (multiclass), `rmse` (regression). */
  readonly name: string;
  readonly direction: 'max' | 'min';
}

export interface EvaluateCandidatesResult {
  readonly passed: boolean;
  /** Why it was rejected (each failed gate, described); empty when passed. */
  readonly reasons: readonly string[];
  readonly best: CandidateResult;
  readonly primaryMetric: PrimaryMetric & { readonly value: number };
  /** The current champion re-scored on the same held-out rows (absent: no champion yet). */
  readonly champion?: { readonly version: number; readonly value: number };
  readonly gates: readonly GateResult[];
  /** When passed: the register function's request (artifact copied to its content-addressed key). */
  readonly registration?: Readonly<Record<string, unknown>> & { readonly lineage: ModelLineage };
}

export const TRAINING_OUTCOMES = ['succeeded', 'rejected', 'failed'] as const;
export type TrainingOutcome = (typeof TRAINING_OUTCOMES)[number];

/** The FinishTraining task's payload. */
export interface FinishTrainingEvent {
  readonly model: string;
  readonly outcome: TrainingOutcome;
  /** @default the execution's run (run-id.ts); the failure path cannot name it when Prepare failed */
  readonly runId?: string;
  readonly execution: string;
  readonly trigger?: TrainingTrigger;
  readonly lease?: LeaseRef;
  readonly dataset?: DatasetRef;
  readonly fingerprint?: string;
  /** succeeded: the registered version. */
  readonly version?: number;
  /** rejected: the reasons. */
  readonly reasons?: readonly string[];
  /** failed: the caught error (`States.*` or the function's errorType) and its cause. */
  readonly error?: { readonly Error: string; readonly Cause?: string };
}

/** What an execution concluded, kept per (model, dataset hash, config fingerprint) for reuse. */
export interface TrainingResultRecord {
  readonly outcome: Exclude<TrainingOutcome, 'failed'>;
  readonly runId: string;
  readonly execution: string;
  readonly version?: number;
  readonly reasons?: readonly string[];
  readonly finishedAt: string;
}

/**
 * How long an execution of the built-in trainers may run; the lease lasts as long, so a crashed
 * one frees it then.
 */
export const TRAINING_TIMEOUT_MS = 2 * 60 * 60 * 1000;

/**
 * Errors that are bad input, a refused request or data that cannot change by retrying: the state
 * machine never retries them (lib/training-pipeline.ts), and a step that fails with one may give
 * up what it holds (the lease, a child run) at once; any other error is retried with the step's
 * work left as it was.
 */
export const NON_RETRYABLE_ERRORS = [
  'ValidationError',
  'ItemTooLargeError',
  'NotFoundError',
  'ConflictError',
  'GateFailedError',
  'ConfigurationError',
  'CorruptDataError',
  'ChampionScoringError',
] as const;

/** Whether Step Functions will not retry `error` (its name is one of {@link NON_RETRYABLE_ERRORS}). */
export function isNonRetryable(error: unknown): boolean {
  return error instanceof Error && (NON_RETRYABLE_ERRORS as readonly string[]).includes(error.name);
}
