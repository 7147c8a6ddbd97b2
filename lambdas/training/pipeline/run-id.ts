/**
 * A training execution's identity in experiment tracking: every execution of a model's training
 * state machine is one tracked run, in the experiment named after the model, whose id is derived
 * from the execution's ARN. The step that creates the run (PrepareTraining), the step that ends it
 * (FinishTraining) and the CLI (`mlops train status <model> <executionArn>`) derive it here, so a
 * retried step finds the same run and an ARN leads to its run with no lookup.
 *
 * Plain code: no AWS SDK.
 */
import { createHash } from 'node:crypto';

/** The tracking run id of an execution: the first 32 hex characters of sha256(executionArn). */
export function trainingRunId(executionArn: string): string {
  return createHash('sha256').update(executionArn).digest('hex').slice(0, 32);
}

/** Tags every training run carries (values: see {@link TRAINING_RUN_OUTCOMES}, TRIGGER_KINDS in ./contract.ts). */
export const TRAINING_RUN_TAGS = {
  /** What started the execution: a TriggerKind (manual, schedule, drift, new-data). */
  trigger: 'trigger',
  /** The execution's ARN. */
  execution: 'execution',
  /** How it ended: one of TRAINING_RUN_OUTCOMES (absent while it runs). */
  outcome: 'outcome',
} as const;

/**
 * How a training execution ends, as its run's `outcome` tag says: the pipeline's outcomes
 * (succeeded, rejected, failed) plus `dropped` (another execution held the model's lease) and
 * `reused` (an earlier execution already trained on the same data and configuration).
 */
export const TRAINING_RUN_OUTCOMES = ['succeeded', 'rejected', 'failed', 'dropped', 'reused'] as const;
export type TrainingRunOutcome = (typeof TRAINING_RUN_OUTCOMES)[number];
